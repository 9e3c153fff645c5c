/** English and Chinese copy. Keys are stable; `{name}` placeholders are filled by t(). */

export type Lang = "en" | "zh";

const en = {
  "app.title": "Kaleido",
  "app.subtitle": "Analyst dashboard",
  "nav.experiments": "Experiments",
  "nav.attribution": "Attribution",
  "nav.variants": "Variant gallery",
  "nav.models": "Model registry",
  "nav.logout": "Log out",
  "nav.language": "中文",
  "nav.languageLabel": "Switch to Chinese",
  "common.loading": "Loading…",
  "common.error": "Could not load this data: {message}",
  "common.retry": "Try again",
  "common.placement": "Placement",
  "common.all": "All",
  "common.none": "None",
  "common.impressions": "Impressions",
  "common.clicks": "Clicks",
  "common.ctr": "CTR",
  "common.users": "Users",
  "common.status": "Status",
  "common.search": "Search",
  "exp.title": "Experiments",
  "exp.pick": "Experiment",
  "exp.empty": "No experiments yet. Start one with: manage.py start_experiment SLUG --placement P --buckets control=0.2,random=0.2,model=0.6",
  "exp.noTraffic": "This experiment has no impressions yet.",
  "exp.bucket": "Bucket",
  "exp.ctrCi": "CTR 95% interval",
  "exp.lift": "Lift vs control",
  "exp.liftCi": "Lift 95% interval",
  "exp.pValue": "p-value",
  "exp.chartCtr": "CTR per bucket (95% interval)",
  "exp.chartDaily": "Daily CTR",
  "exp.dailyEmpty": "No daily data yet.",
  "exp.srmWarning": "Sample ratio mismatch: bucket sizes differ from the configured split (p = {p}). Check assignment and logging before trusting these results.",
  "exp.srmOk": "Bucket sizes match the configured split (SRM p = {p}).",
  "exp.running": "running",
  "exp.stopped": "stopped",
  "exp.split": "Split",
  "exp.bestLift": "Model vs control",
  "bucket.control": "control",
  "bucket.random": "random",
  "bucket.model": "model",
  "attr.title": "Attribution",
  "attr.segment": "Segment by",
  "attr.tagGroup": "Tag group",
  "attr.metric": "Show",
  "attr.metricCtr": "CTR",
  "attr.metricPref": "Normalized preference (marginal)",
  "attr.metricRelative": "Preference vs everyone else",
  "attr.ctrNote": "CTR of each segment on each tag.",
  "attr.marginalNote": "Marginal view: CTR(tag, segment) / CTR(segment). It also carries the tag's effect on everyone, so a tag all users like looks preferred by every segment. Findings do not use it.",
  "attr.relativeNote": "How much more the segment favours the tag over the group's other values than everyone else does: 1 means it likes the tag as much as the rest. Findings are made of this, FDR-controlled over every feature × tag group.",
  "attr.aliasNote": "{tags} are always shown together: their effects cannot be told apart, so their cells are the same numbers.",
  "attr.compound": "tags always shown together",
  "attr.identifiability": "Can the catalogue tell the tags apart?",
  "attr.identifiabilityEmpty": "No live variants.",
  "attr.identifiable": "Yes: every tag effect can be told apart across the {variants} live variants ({tags} tag values).",
  "attr.notIdentifiable": "Not fully: some tag effects across the {variants} live variants ({tags} tag values) cannot be told apart.",
  "attr.aliasItem": "{tags}: always together on {n} variants",
  "attr.heatmap": "{segment} × {tag}",
  "attr.empty": "No impressions for this placement yet.",
  "attr.findings": "Findings",
  "attr.findingsEmpty": "No segment stands out yet.",
  "attr.finding": "{segment} prefer {tag}: {ratio} more than everyone else, against the group's other values",
  "attr.findingAvoid": "{segment} avoid {tag}: only {ratio} as much as everyone else, against the group's other values",
  "attr.findingDetail": "{ctr} CTR on {impressions} impressions",
  "attr.importances": "What drives clicks (EBM term importances)",
  "attr.importancesPending": "The explanation model is being fitted; this refreshes by itself.",
  "attr.importancesEmpty": "No explanation yet: it needs impressions with user features.",
  "attr.main": "main effect",
  "attr.pair": "pair",
  "attr.pickHint": "Pick a segment feature and a tag group.",
  "attr.lowSupport": "Faded cells have fewer than {n} impressions: too few to read.",
  "var.title": "Variant gallery",
  "var.tag": "Tag",
  "var.empty": "No variants match these filters.",
  "var.count": "{n} variants",
  "var.control": "control",
  "var.pinned": "pinned",
  "var.blocked": "blocked",
  "var.noImage": "No image",
  "var.more": "Show more ({n} left)",
  "var.sort": "Sort by",
  "var.sortCtr": "CTR",
  "var.sortImpressions": "Impressions",
  "var.sortKey": "Key",
  "status.draft": "draft",
  "status.approved": "approved",
  "status.live": "live",
  "status.paused": "paused",
  "status.retired": "retired",
  "mod.title": "Model registry",
  "mod.empty": "No trained models yet. Train one with: manage.py train_ranker --placement P",
  "mod.version": "Version",
  "mod.scope": "Scope",
  "mod.algo": "Algorithm",
  "mod.rows": "Rows",
  "mod.auc": "AUC",
  "mod.logloss": "Log loss",
  "mod.ece": "Calibration error",
  "mod.created": "Trained",
  "mod.active": "active",
  "mod.activate": "Activate",
  "mod.rollback": "Roll back to previous",
  "mod.confirmActivate": "Serve model v{version} to live traffic?",
  "mod.confirmRollback": "Roll back to the previously active model?",
  "mod.done": "Model v{version} is now active.",
  "mod.readOnly": "Read only: activating and rolling back a model is for operators and admins.",
  "mod.aucChart": "AUC by version",
  "mod.calibration": "Calibration of v{version}",
  "mod.calibrationLive": "served traffic",
  "mod.calibrationHoldout": "holdout",
  "mod.calibrationIdeal": "perfect calibration",
  "mod.calibrationEmpty": "No calibration data yet: the model has not served enough traffic.",
  "mod.predicted": "Predicted CTR",
  "mod.observed": "Observed CTR",
  "mod.general": "general",
  "mod.dedicated": "dedicated",
};

type Key = keyof typeof en;

const zh: Record<Key, string> = {
  "app.title": "Kaleido",
  "app.subtitle": "分析看板",
  "nav.experiments": "实验",
  "nav.attribution": "归因分析",
  "nav.variants": "素材库",
  "nav.models": "模型管理",
  "nav.logout": "退出登录",
  "nav.language": "English",
  "nav.languageLabel": "切换为英文",
  "common.loading": "加载中…",
  "common.error": "数据加载失败：{message}",
  "common.retry": "重试",
  "common.placement": "展位",
  "common.all": "全部",
  "common.none": "无",
  "common.impressions": "曝光",
  "common.clicks": "点击",
  "common.ctr": "点击率",
  "common.users": "用户数",
  "common.status": "状态",
  "common.search": "搜索",
  "exp.title": "实验",
  "exp.pick": "实验",
  "exp.empty": "还没有实验。可以这样创建：manage.py start_experiment SLUG --placement P --buckets control=0.2,random=0.2,model=0.6",
  "exp.noTraffic": "该实验还没有曝光数据。",
  "exp.bucket": "分桶",
  "exp.ctrCi": "点击率 95% 区间",
  "exp.lift": "相对对照组提升",
  "exp.liftCi": "提升 95% 区间",
  "exp.pValue": "p 值",
  "exp.chartCtr": "各分桶点击率（95% 区间）",
  "exp.chartDaily": "每日点击率",
  "exp.dailyEmpty": "暂无每日数据。",
  "exp.srmWarning": "样本比例失衡（SRM）：各分桶人数与配置比例不符（p = {p}）。请先检查分流与埋点再解读结果。",
  "exp.srmOk": "各分桶人数与配置比例一致（SRM p = {p}）。",
  "exp.running": "进行中",
  "exp.stopped": "已停止",
  "exp.split": "流量分配",
  "exp.bestLift": "模型组 vs 对照组",
  "bucket.control": "对照组",
  "bucket.random": "随机组",
  "bucket.model": "模型组",
  "attr.title": "归因分析",
  "attr.segment": "用户分群",
  "attr.tagGroup": "标签组",
  "attr.metric": "指标",
  "attr.metricCtr": "点击率",
  "attr.metricPref": "归一化偏好（边际）",
  "attr.metricRelative": "相对其他人的偏好",
  "attr.ctrNote": "各人群在各标签上的点击率。",
  "attr.marginalNote": "边际视图：点击率(标签, 人群) / 点击率(人群)。它包含标签对所有人的效应，人人都喜欢的标签会显得被每个人群偏好。主要发现不使用它。",
  "attr.relativeNote": "该人群相对同组其他标签值对该标签的偏好，是其他所有人的多少倍：1 表示与其他人一样喜欢该标签。主要发现基于此值，并在所有特征 × 标签组上控制错误发现率。",
  "attr.aliasNote": "{tags} 总是同时出现：无法区分它们的效应，因此格子数字相同。",
  "attr.compound": "总是同时出现的标签",
  "attr.identifiability": "素材库能否区分各标签？",
  "attr.identifiabilityEmpty": "没有上线的版本。",
  "attr.identifiable": "可以：{variants} 个上线版本（{tags} 个标签值）中每个标签的效应都可区分。",
  "attr.notIdentifiable": "不完全：{variants} 个上线版本（{tags} 个标签值）中有些标签的效应无法区分。",
  "attr.aliasItem": "{tags}：在 {n} 个版本上总是同时出现",
  "attr.heatmap": "{segment} × {tag}",
  "attr.empty": "该展位还没有曝光数据。",
  "attr.findings": "主要发现",
  "attr.findingsEmpty": "暂时没有显著的人群偏好。",
  "attr.finding": "{segment} 偏好 {tag}：相对同组其他标签值，是其他人的 {ratio}",
  "attr.findingAvoid": "{segment} 不喜欢 {tag}：相对同组其他标签值，仅为其他人的 {ratio}",
  "attr.findingDetail": "点击率 {ctr}，曝光 {impressions}",
  "attr.importances": "点击的驱动因素（EBM 特征重要性）",
  "attr.importancesPending": "解释模型正在训练，完成后自动刷新。",
  "attr.importancesEmpty": "暂无解释：需要带用户特征的曝光数据。",
  "attr.main": "主效应",
  "attr.pair": "交互",
  "attr.pickHint": "请选择用户特征和标签组。",
  "attr.lowSupport": "淡色格子的曝光少于 {n} 次，数据不足以下结论。",
  "var.title": "素材库",
  "var.tag": "标签",
  "var.empty": "没有符合筛选条件的素材。",
  "var.count": "{n} 个素材",
  "var.control": "对照",
  "var.pinned": "置顶",
  "var.blocked": "屏蔽",
  "var.noImage": "无图片",
  "var.more": "显示更多（还有 {n} 个）",
  "var.sort": "排序",
  "var.sortCtr": "点击率",
  "var.sortImpressions": "曝光",
  "var.sortKey": "编号",
  "status.draft": "草稿",
  "status.approved": "已审核",
  "status.live": "投放中",
  "status.paused": "已暂停",
  "status.retired": "已下线",
  "mod.title": "模型管理",
  "mod.empty": "还没有训练好的模型。可以这样训练：manage.py train_ranker --placement P",
  "mod.version": "版本",
  "mod.scope": "范围",
  "mod.algo": "算法",
  "mod.rows": "样本数",
  "mod.auc": "AUC",
  "mod.logloss": "对数损失",
  "mod.ece": "校准误差",
  "mod.created": "训练时间",
  "mod.active": "使用中",
  "mod.activate": "启用",
  "mod.rollback": "回滚到上一版本",
  "mod.confirmActivate": "确定让模型 v{version} 服务线上流量？",
  "mod.confirmRollback": "确定回滚到上一个启用的模型？",
  "mod.done": "模型 v{version} 已启用。",
  "mod.readOnly": "只读：只有运营（operators）和管理员（admins）可以启用或回滚模型。",
  "mod.aucChart": "各版本 AUC",
  "mod.calibration": "v{version} 的校准曲线",
  "mod.calibrationLive": "线上流量",
  "mod.calibrationHoldout": "留出集",
  "mod.calibrationIdeal": "理想校准",
  "mod.calibrationEmpty": "暂无校准数据：该模型服务的流量还不够。",
  "mod.predicted": "预测点击率",
  "mod.observed": "实际点击率",
  "mod.general": "通用",
  "mod.dedicated": "专用",
};

const STORAGE_KEY = "kaleido.dashboard.lang";
let current: Lang = initialLang();

function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === "en" || stored === "zh") return stored;
  } catch {
    // storage disabled
  }
  const params = new URLSearchParams(location.search).get("lang");
  if (params === "en" || params === "zh") return params;
  return navigator.language?.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function lang(): Lang {
  return current;
}

export function locale(): string {
  return current === "zh" ? "zh-CN" : "en-US";
}

export function setLang(next: Lang): void {
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
}

export function t(key: Key, params: Record<string, string | number> = {}): string {
  const table = current === "zh" ? zh : en;
  return table[key].replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

export function bucketLabel(bucket: string): string {
  const key = `bucket.${bucket}` as Key;
  return key in en ? t(key) : bucket;
}

export function statusLabel(status: string): string {
  const key = `status.${status}` as Key;
  return key in en ? t(key) : status;
}

export type { Key as MessageKey };
