import type { CalibrationPoint, ModelList, ModelRow } from "../api";
import { HttpError } from "../api";
import { PALETTE, drawChart } from "../charts";
import { clear, h } from "../dom";
import { fmtDate, fmtInt, fmtNum, fmtPct, fmtRange, isNum } from "../format";
import type { components } from "../generated/api";
import { lang, t } from "../i18n";
import type { PageContext } from "../main";
import { card, chartBox, currentPlacement, empty, failure, load, loading, openPage, placementSelect } from "../ui";
import { niceMax } from "./experiments";

export async function renderModels(ctx: PageContext): Promise<void> {
  const page = await openPage(ctx, t("mod.title"));
  if (!page) return;
  const { body, meta } = page;
  const placement = currentPlacement(ctx, meta);
  body.append(h("div", { class: "toolbar" }, placementSelect(ctx, meta, placement, { version: null })));
  const content = h("div", { class: "stack" }, loading());
  body.append(content);

  const list = await load(ctx, content, ctx.api.models(placement));
  if (!list) return;
  if (list.versions.length === 0) {
    content.append(empty(t("mod.empty")));
    return;
  }
  const notice = h("div", { "aria-live": "polite" });
  content.append(notice);
  if (!list.can_manage) content.append(h("p", { class: "banner banner--info", "data-testid": "read-only" }, t("mod.readOnly")));
  else {
    content.append(h("div", { class: "toolbar" }, h("button", {
      type: "button",
      class: "btn",
      "data-testid": "rollback",
      onclick: async () => {
        if (!window.confirm(t("mod.confirmRollback"))) return;
        await act(ctx, notice, () => ctx.api.rollback(placement));
      },
    }, t("mod.rollback"))));
  }
  content.append(card(t("mod.title"), table(ctx, list, notice), { "data-testid": "models-card" }));
  if (placement) content.append(estimatesCard(ctx, placement, list));
  if (placement) content.append(rolloutsCard(ctx, placement, list));

  const selected = list.versions.find((v) => v.version === ctx.params.get("version")) ?? list.versions.find((v) => v.is_active) ?? list.versions[0]!;
  const grid = h("div", { class: "grid2" });
  const aucBox = chartBox("chart-auc", 280);
  const calBox = chartBox("chart-calibration", 280);
  const calibration = calibrationSeries(selected);
  grid.append(
    card(t("mod.aucChart"), aucBox),
    card(t("mod.calibration", { version: selected.version }), calibration.length ? calBox : empty(t("mod.calibrationEmpty")), { "data-testid": "calibration-card", "data-version": selected.version }),
  );
  content.append(grid);
  drawAuc(aucBox, list.versions);
  if (calibration.length) drawCalibration(calBox, calibration);
}

async function act(ctx: PageContext, notice: HTMLElement, action: () => Promise<{ body: { version: string } }>): Promise<void> {
  clear(notice);
  try {
    const result = await action();
    ctx.setParams({ version: null, done: result.body.version });
  } catch (error) {
    notice.append(failure(error));
  }
}

function table(ctx: PageContext, list: ModelList, notice: HTMLElement): HTMLElement {
  const done = ctx.params.get("done");
  const headers = [t("mod.version"), t("mod.scope"), t("mod.algo"), t("mod.rows"), t("mod.auc"), t("mod.logloss"), t("mod.ece"), t("mod.created"), ""];
  const wrap = h("div", { class: "table-wrap" },
    h("table", { class: "table", "data-testid": "models-table" },
      h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, ...list.versions.map((v) =>
        h("tr", { "data-version": v.version, class: v.is_active ? "row--active" : "" },
          h("th", { scope: "row" },
            h("a", { href: `?${new URLSearchParams({ placement: ctx.params.get("placement") ?? "", version: v.version })}`, onclick: (e: Event) => { e.preventDefault(); ctx.setParams({ version: v.version, done: null }); } }, `v${v.version}`),
            v.is_active ? h("span", { class: "badge badge--live", "data-testid": "active-badge" }, t("mod.active")) : null),
          h("td", {}, `${t(v.scope === "general" ? "mod.general" : "mod.dedicated")}${v.placement ? ` · ${v.placement}` : ""}`),
          h("td", {}, v.algo),
          h("td", { class: "num", "data-field": "rows" }, fmtInt(v.rows)),
          h("td", { class: "num", "data-field": "auc" }, fmtNum(v.auc)),
          h("td", { class: "num", "data-field": "logloss" }, fmtNum(v.logloss, 4)),
          h("td", { class: "num", "data-field": "calibration_error" }, fmtNum(v.calibration_error, 4)),
          h("td", {}, fmtDate(v.created_at)),
          h("td", {}, list.can_manage && !v.is_active
            ? h("button", {
                type: "button",
                class: "btn btn--small",
                "data-testid": "activate",
                onclick: async () => {
                  if (!window.confirm(t("mod.confirmActivate", { version: v.version }))) return;
                  await act(ctx, notice, () => ctx.api.activate(v.version));
                },
              }, t("mod.activate"))
            : ""))))));
  if (done) notice.append(h("p", { class: "banner banner--ok", role: "status", "data-testid": "model-done" }, t("mod.done", { version: done })));
  return wrap;
}

interface CurveSeries {
  id: "live" | "holdout";
  name: string;
  points: CalibrationPoint[];
}

/** The served-traffic curve and the registry's holdout curve, whichever the version has. */
function calibrationSeries(row: ModelRow): CurveSeries[] {
  const series: CurveSeries[] = [];
  if (row.live_calibration.length) series.push({ id: "live", name: t("mod.calibrationLive"), points: row.live_calibration });
  if (row.holdout_calibration.length) series.push({ id: "holdout", name: t("mod.calibrationHoldout"), points: row.holdout_calibration });
  return series;
}

function drawAuc(el: HTMLElement, versions: ModelRow[]): void {
  const ordered = [...versions].reverse();
  drawChart(el, {
    grid: { left: 48, right: 16, top: 16, bottom: 32 },
    tooltip: { trigger: "axis", valueFormatter: (v: number) => fmtNum(v) },
    xAxis: { type: "category", data: ordered.map((v) => `v${v.version}`) },
    yAxis: { type: "value", min: (r: { min: number }) => Math.min(0.5, Math.floor((r.min - 0.02) * 20) / 20), max: (r: { max: number }) => Math.min(1, Math.ceil((r.max + 0.02) * 20) / 20) },
    series: [{
      type: "line",
      name: t("mod.auc"),
      data: ordered.map((v) => ({ value: v.auc, symbolSize: v.is_active ? 12 : 6 })),
      itemStyle: { color: PALETTE[0] },
      markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#9ca3af" }, data: [{ yAxis: 0.5 }], label: { position: "insideStartTop", formatter: "0.5" } },
    }],
  }, t("mod.aucChart"));
}

function drawCalibration(el: HTMLElement, series: CurveSeries[]): void {
  const max = niceMax(Math.max(0.01, ...series.flatMap((s) => s.points.flatMap((p) => [p.predicted, p.observed]))));
  drawChart(el, {
    grid: { left: 62, right: 16, top: 36, bottom: 48 },
    legend: { top: 0 },
    tooltip: {
      trigger: "item",
      formatter: (p: { seriesName: string; data: number[] }) =>
        `${p.seriesName}<br>${t("mod.predicted")}: ${fmtPct(p.data[0])}<br>${t("mod.observed")}: ${fmtPct(p.data[1])}` +
        (isNum(p.data[2]) ? `<br>${t("common.impressions")}: ${fmtInt(p.data[2])}` : ""),
    },
    xAxis: { type: "value", name: t("mod.predicted"), nameLocation: "middle", nameGap: 28, min: 0, max, axisLabel: { formatter: (v: number) => fmtPct(v, 1), hideOverlap: true } },
    // The y-axis name runs along the axis: above it, it would collide with the legend on a phone.
    yAxis: { type: "value", name: t("mod.observed"), nameLocation: "middle", nameRotate: 90, nameGap: 44, min: 0, max, axisLabel: { formatter: (v: number) => fmtPct(v, 1) } },
    series: [
      { id: "ideal", type: "line", name: t("mod.calibrationIdeal"), data: [[0, 0], [max, max]], showSymbol: false, lineStyle: { type: "dashed", color: "#9ca3af" }, itemStyle: { color: "#9ca3af" } },
      ...series.map((s) => ({
        id: s.id,
        type: "line",
        name: s.name,
        data: s.points.map((p) => (p.count === undefined ? [p.predicted, p.observed] : [p.predicted, p.observed, p.count])),
        itemStyle: { color: s.id === "live" ? PALETTE[0] : PALETTE[1] },
        lineStyle: s.id === "holdout" ? { type: "dotted", width: 2 } : { width: 2 },
        symbol: s.id === "holdout" ? "diamond" : "circle",
        symbolSize: 7,
      })),
    ],
  }, t("mod.calibration", { version: "" }));
}

// --- off-policy estimates: each candidate beside the active model -------------------------------------

type OffPolicyEstimate = components["schemas"]["OffPolicyEstimate"];

const OPE_COPY = {
  en: {
    title: "Estimated CTR if served (off-policy, position 1)",
    hint: "Each model is judged as the model bucket would serve it today (pinned variants, exploration, new-variant share, Thompson draws), on logged random-bucket traffic after its training window. Doubly robust estimate with a 95% interval by user: BCa, or where a few heavy weights carry the estimate a betting interval that holds under any weights (marked).",
    version: "Version",
    estimate: "Estimated CTR",
    interval: "95% interval",
    vsActive: "Difference vs active",
    rows: "Rows",
    online: "Online CTR",
    optimistic: "includes its training data (optimistic)",
    betting: "heavy weights: betting interval",
    noActive: "No active model: the candidates are shown without a comparison.",
    none: "No candidate to compare.",
    failed: "not estimable: {message}",
  },
  zh: {
    title: "上线后的预估点击率（离线策略评估，第 1 位）",
    hint: "每个模型都按模型分桶今天会采用的投放策略评估（置顶、探索、新素材份额、Thompson 抽样），使用其训练窗口之后的随机分桶日志。双稳健估计，按用户计算 95% 区间：BCa 自助法；少数大权重主导估计时改用在任何权重下都成立的下注法区间（会标注）。",
    version: "版本",
    estimate: "预估点击率",
    interval: "95% 区间",
    vsActive: "与使用中模型之差",
    rows: "样本数",
    online: "线上点击率",
    optimistic: "包含其训练数据（偏乐观）",
    betting: "权重过大：下注法区间",
    noActive: "没有使用中的模型：候选模型无可对比对象。",
    none: "没有可对比的候选模型。",
    failed: "无法估计：{message}",
  },
};

type CopyKey = keyof typeof OPE_COPY.en;

function copy(key: CopyKey, params: Record<string, string> = {}): string {
  return OPE_COPY[lang()][key].replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? "");
}

/** The version serving `placement`: its dedicated active model, else the active general one. */
function activeFor(list: ModelList, placement: string): ModelRow | undefined {
  return list.versions.find((v) => v.is_active && v.placement === placement)
    ?? list.versions.find((v) => v.is_active && v.scope === "general");
}

const MAX_CANDIDATES = 5;

async function fetchEstimate(ctx: PageContext, placement: string, version: string): Promise<OffPolicyEstimate> {
  const query = new URLSearchParams({ model_version: version }).toString();
  const response = await fetch(`${ctx.config.apiBase}placements/${encodeURIComponent(placement)}/ope?${query}`, {
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": ctx.config.csrfToken },
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) throw new HttpError(response.status, body);
  return body as OffPolicyEstimate;
}

/** A card with one row per candidate (newest first) and the active model's row on top, filled as the
 * estimates arrive one at a time (each scores the whole evaluation log). */
function estimatesCard(ctx: PageContext, placement: string, list: ModelList): HTMLElement {
  const active = activeFor(list, placement);
  const candidates = list.versions.filter((v) => !v.is_active && (v.placement === placement || v.scope === "general"))
    .slice(0, MAX_CANDIDATES);
  const body = h("div", { class: "stack" }, h("p", { class: "muted" }, copy("hint")));
  if (!active) body.append(h("p", { class: "banner banner--info" }, copy("noActive")));
  if (!candidates.length) {
    body.append(empty(copy("none")));
    return card(copy("title"), body, { "data-testid": "estimates-card" });
  }
  const rows = [active, ...candidates].filter((v): v is ModelRow => v !== undefined);
  const cells = new Map(rows.map((v) => [v.version, h("tr", { "data-version": v.version, "data-state": "loading", class: v.is_active ? "row--active" : "" },
    h("th", { scope: "row" }, `v${v.version}`, v.is_active ? h("span", { class: "badge badge--live" }, t("mod.active")) : null),
    h("td", { colspan: "5" }, t("common.loading")))]));
  body.append(h("div", { class: "table-wrap" },
    h("table", { class: "table", "data-testid": "estimates-table" },
      h("thead", {}, h("tr", {}, ...[copy("version"), copy("estimate"), copy("interval"), copy("vsActive"), copy("rows"), copy("online")]
        .map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, ...cells.values()))));
  // Support warnings go under the table, where a long list of variant keys can wrap.
  const warnings = h("div", { class: "stack", "data-testid": "estimate-warnings" });
  body.append(warnings);
  void fill(ctx, placement, rows, active, cells, warnings);
  return card(copy("title"), body, { "data-testid": "estimates-card" });
}

async function fill(ctx: PageContext, placement: string, rows: ModelRow[], active: ModelRow | undefined,
                    cells: Map<string, HTMLElement>, warnings: HTMLElement): Promise<void> {
  let activeCtr: number | null = null;
  for (const v of rows) {  // one at a time: each estimate is a heavy read
    if (!ctx.current()) return;
    const row = cells.get(v.version)!;
    try {
      const estimate = await fetchEstimate(ctx, placement, v.version);
      const dr = estimate.estimates.dr;
      if (v === active) activeCtr = dr.ctr ?? null;
      const vs = v !== active && isNum(dr.ctr) && isNum(activeCtr) ? dr.ctr - activeCtr : null;
      const online = v === active ? estimate.active_model.ctr : null;
      const [low, high] = dr.ci;
      clear(row);
      row.setAttribute("data-state", "ready");
      row.append(
        h("th", { scope: "row" }, `v${v.version}`, v.is_active ? h("span", { class: "badge badge--live" }, t("mod.active")) : null),
        h("td", { class: "num", "data-field": "estimate" }, fmtPct(dr.ctr)),
        h("td", { class: "num", "data-field": "interval" }, fmtRange(isNum(low) && isNum(high) ? [low, high] : null, (x) => fmtPct(x)),
          estimate.interval_method === "betting_by_user" ? h("div", { class: "muted" }, copy("betting")) : null),
        h("td", { class: "num", "data-field": "vs-active" }, isNum(vs) ? `${vs >= 0 ? "+" : ""}${fmtPct(vs)}` : "—"),
        h("td", { class: "num", "data-field": "rows" }, fmtInt(estimate.rows),
          estimate.evaluated_on === "including_training" ? h("div", { class: "muted" }, copy("optimistic")) : null),
        h("td", { class: "num", "data-field": "online" }, fmtPct(online)),
      );
      for (const warning of estimate.warnings) {
        warnings.append(h("p", { class: "banner banner--info", "data-testid": "estimate-warning", "data-version": v.version },
          `v${v.version}: ${warning}`));
      }
    } catch (error) {
      clear(row);
      row.setAttribute("data-state", "error");
      const message = error instanceof Error ? error.message : String(error);
      row.append(h("th", { scope: "row" }, `v${v.version}`), h("td", { colspan: "5" }, copy("failed", { message })));
    }
  }
}

// --- gradual releases: where each ramp stands ---------------------------------------------------------

type RolloutList = components["schemas"]["RolloutList"];
type Rollout = components["schemas"]["Rollout"];

const RAMP_COPY = {
  en: {
    title: "Gradual releases",
    hint: "A ramp serves a candidate to a growing share of the model bucket's users; guardrails (CTR and CVR with always-valid intervals, fallbacks, scoring latency, the split) roll it back automatically, and the last step activates it.",
    none: "No ramp on this placement yet.",
    candidate: "Released",
    status: "Status",
    share: "Share now",
    step: "Step",
    check: "Last check",
    started: "Started",
    release: "Release v{version} gradually",
    confirmRelease: "Release v{version} gradually (5% → 20% → 50% → 100%), if the activation gate passes it?",
    cancel: "Cancel ramp",
    confirmCancel: "Cancel this ramp? The incumbent serves everyone again.",
    started_ok: "v{version} now serves {share} of the model bucket.",
    ramping: "ramping", completed: "completed", rolled_back: "rolled back", cancelled: "cancelled",
    notChecked: "not checked yet",
    ok: "ok", breached: "breached", unmeasured: "not enough data",
    variants: "new variants {ids}",
  },
  zh: {
    title: "灰度发布",
    hint: "灰度发布让候选模型服务模型分桶中逐步增加的用户比例；护栏（点击率与转化率的随时有效区间、回退率、打分延迟、分流比例）一旦触发即自动回滚，最后一步完成后正式启用。",
    none: "此版位尚无灰度发布。",
    candidate: "候选版本",
    status: "状态",
    share: "当前比例",
    step: "步骤",
    check: "最近检查",
    started: "开始时间",
    release: "灰度发布 v{version}",
    confirmRelease: "若通过上线门槛，灰度发布 v{version}（5% → 20% → 50% → 100%）？",
    cancel: "取消灰度",
    confirmCancel: "取消此次灰度？现有模型将重新服务所有用户。",
    started_ok: "v{version} 现服务模型分桶的 {share}。",
    ramping: "灰度中", completed: "已完成", rolled_back: "已回滚", cancelled: "已取消",
    notChecked: "尚未检查",
    ok: "正常", breached: "触发", unmeasured: "数据不足",
    variants: "新素材 {ids}",
  },
};

function rampCopy(key: keyof typeof RAMP_COPY.en, params: Record<string, string> = {}): string {
  return RAMP_COPY[lang()][key].replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? "");
}

async function dashboardJson<T>(ctx: PageContext, path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${ctx.config.dashboardApi}${path}`, {
    credentials: "same-origin",
    ...init,
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": ctx.config.csrfToken },
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) throw new HttpError(response.status, body);
  return body as T;
}

/** The placement's ramps, newest first, each with its guardrails at the last check; operators can start
 * one for the newest candidate and cancel one under way. */
function rolloutsCard(ctx: PageContext, placement: string, list: ModelList): HTMLElement {
  const body = h("div", { class: "stack" }, h("p", { class: "muted" }, rampCopy("hint")));
  const notice = h("div", { "aria-live": "polite" });
  const rows = h("div", { class: "stack" }, loading());
  body.append(notice, rows);
  const candidate = list.versions.find((v) => !v.is_active && v.placement === placement && v.scope === "dedicated");
  if (list.can_manage && candidate) {
    body.prepend(h("div", { class: "toolbar" }, h("button", {
      type: "button",
      class: "btn",
      "data-testid": "release-gradually",
      onclick: async () => {
        if (!window.confirm(rampCopy("confirmRelease", { version: candidate.version }))) return;
        clear(notice);
        try {
          const ramp = await dashboardJson<Rollout>(ctx, `models/${encodeURIComponent(candidate.version)}/rollout`, { method: "POST", body: "{}" });
          notice.append(h("p", { class: "banner banner--ok", role: "status", "data-testid": "ramp-started" }, rampCopy("started_ok", { version: ramp.candidate ?? candidate.version, share: fmtPct(ramp.share, 0) })));
          void fillRollouts(ctx, placement, rows, notice);
        } catch (error) {
          notice.append(failure(error));
        }
      },
    }, rampCopy("release", { version: candidate.version }))));
  }
  void fillRollouts(ctx, placement, rows, notice);
  return card(rampCopy("title"), body, { "data-testid": "rollouts-card" });
}

async function fillRollouts(ctx: PageContext, placement: string, box: HTMLElement, notice: HTMLElement): Promise<void> {
  let answer: RolloutList;
  try {
    answer = await dashboardJson<RolloutList>(ctx, `rollouts?${new URLSearchParams({ placement })}`);
  } catch (error) {
    clear(box);
    box.append(failure(error));
    return;
  }
  clear(box);
  if (!answer.rollouts.length) {
    box.append(empty(rampCopy("none")));
    return;
  }
  const headers = [rampCopy("candidate"), rampCopy("status"), rampCopy("share"), rampCopy("step"), rampCopy("started"), rampCopy("check"), ""];
  box.append(h("div", { class: "table-wrap" },
    h("table", { class: "table", "data-testid": "rollouts-table" },
      h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, ...answer.rollouts.map((r) => rolloutRow(ctx, placement, r, answer.can_manage, box, notice))))));
}

function rolloutRow(ctx: PageContext, placement: string, r: Rollout, canManage: boolean, box: HTMLElement, notice: HTMLElement): HTMLElement {
  const check = r.last_check;
  const guardrails = check ? h("ul", { class: "plain" }, ...check.guardrails.map((g) =>
    h("li", { "data-guardrail": g.name, "data-state": g.passed ? (g.measured ? "ok" : "unmeasured") : "breached" },
      h("strong", {}, `${g.name}: ${rampCopy(g.passed ? (g.measured ? "ok" : "unmeasured") : "breached")}`), ` — ${g.detail}`))) : null;
  return h("tr", { "data-rollout": String(r.id), "data-status": r.status },
    h("th", { scope: "row" }, r.candidate ? `v${r.candidate}` : rampCopy("variants", { ids: r.variant_ids.join(", ") }),
      r.incumbent ? h("div", { class: "muted" }, `← v${r.incumbent}`) : null),
    h("td", {}, h("span", { class: `badge ${r.status === "ramping" ? "badge--live" : ""}` }, rampCopy(r.status)),
      r.reason ? h("div", { class: "muted", "data-field": "reason" }, r.reason) : null),
    h("td", { class: "num", "data-field": "share" }, r.status === "ramping" ? fmtPct(r.share, 0) : "—"),
    h("td", {}, `${r.step + 1} / ${r.steps.length} (${r.steps.map((s) => fmtPct(s, 0)).join(" → ")} → 100%)`),
    h("td", {}, fmtDate(r.started_at)),
    h("td", {}, check ? h("div", {}, h("div", {}, `${check.action}: ${check.reason}`), guardrails) : rampCopy("notChecked")),
    h("td", {}, canManage && r.status === "ramping" ? h("button", {
      type: "button",
      class: "btn btn--small",
      "data-testid": "cancel-ramp",
      onclick: async () => {
        if (!window.confirm(rampCopy("confirmCancel"))) return;
        clear(notice);
        try {
          await dashboardJson<Rollout>(ctx, `rollouts/${r.id}/cancel`, { method: "POST" });
          void fillRollouts(ctx, placement, box, notice);
        } catch (error) {
          notice.append(failure(error));
        }
      },
    }, rampCopy("cancel")) : ""));
}
