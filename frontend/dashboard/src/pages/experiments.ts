import type { BucketRow, DailyRow, ExperimentReport } from "../api";
import { BUCKET_COLORS, PALETTE, drawChart, errorBarSeries } from "../charts";
import { h } from "../dom";
import { fmtDay, fmtInt, fmtLift, fmtP, fmtPct, fmtRange, isNum } from "../format";
import { bucketLabel, lang, t } from "../i18n";
import type { PageContext } from "../main";
import { card, chartBox, empty, load, loading, openPage, select } from "../ui";

export async function renderExperiments(ctx: PageContext): Promise<void> {
  const page = await openPage(ctx, t("exp.title"));
  if (!page) return;
  const { body, meta } = page;
  if (meta.experiments.length === 0) {
    body.append(empty(t("exp.empty")));
    return;
  }
  const running = meta.experiments.find((e) => e.status === "running");
  const slug = ctx.params.get("experiment") ?? running?.slug ?? meta.experiments[0]!.slug;
  const experiment = meta.experiments.find((e) => e.slug === slug) ?? meta.experiments[0]!;
  const split = Object.entries(experiment.buckets ?? {}).map(([b, s]) => `${bucketLabel(b)} ${fmtPct(s, 0)}`).join(" · ");
  body.append(h("div", { class: "toolbar" },
    select(t("exp.pick"), meta.experiments.map((e) => ({ value: e.slug, label: `${e.slug} (${e.placement}, ${t(e.status === "running" ? "exp.running" : "exp.stopped")})` })),
      experiment.slug, (v) => ctx.setParams({ experiment: v }), "experiment"),
    h("p", { class: "muted toolbar__note" }, `${t("exp.split")}: ${split}`)));

  const content = h("div", { class: "stack" }, loading());
  body.append(content);
  const loaded = await load(ctx, content,
    Promise.all([ctx.api.experimentReport(experiment.slug), ctx.api.experimentDaily(experiment.slug).catch((): DailyRow[] => [])]));
  if (!loaded) return;
  const [report, daily] = loaded;

  content.append(srmBanner(report));
  const total = report.buckets.reduce((sum, b) => sum + (b.impressions ?? 0), 0);
  if (report.buckets.length === 0 || total === 0) {
    content.append(empty(t("exp.noTraffic")));
    return;
  }
  content.append(kpis(report.buckets));
  content.append(readingNote(report));
  content.append(card(t("exp.bucket"), bucketTable(report), { "data-testid": "bucket-table-card" }));
  content.append(card(m("cvrTitle"), cvrTable(report), { "data-testid": "cvr-table-card" }));

  const grid = h("div", { class: "grid2" });
  const ctrChart = chartBox("chart-ctr");
  const dailyChart = chartBox("chart-daily");
  grid.append(card(t("exp.chartCtr"), ctrChart), card(t("exp.chartDaily"), daily.length ? dailyChart : empty(t("exp.dailyEmpty"))));
  content.append(grid);
  drawCtrChart(ctrChart, report.buckets);
  if (daily.length) drawDailyChart(dailyChart, daily);
}

// This page's own messages (the report's sequential reading and CVR), in both dashboard languages.
const MESSAGES = {
  en: {
    alwaysValid: "Always-valid (sequential) intervals and p-values lead: safe to read every day. Fixed-horizon values stand beside them and hold only at one planned look. p (Holm) adjusts p across the treatment arms.",
    fixedHorizon: "Fixed-horizon intervals and p-values lead: valid at one planned look only. The always-valid values stand beside them.",
    liftCs: "Lift 95% (always-valid)",
    liftCi: "Lift 95% (fixed-horizon)",
    pAlwaysValid: "p (always-valid)",
    pFixed: "p (fixed-horizon)",
    pHolm: "p (Holm)",
    cvrTitle: "Conversion rate (conversions / clicks)",
    conversions: "Conversions",
    cvr: "CVR",
    cvrCs: "CVR 95% (always-valid)",
  },
  zh: {
    alwaysValid: "以始终有效（序贯）区间和 p 值为主：可每天查看。固定样本量的数值列在旁边，只在一次预定的查看时成立。p (Holm) 对各实验组做多重比较校正。",
    fixedHorizon: "以固定样本量的区间和 p 值为主：只在一次预定的查看时成立。始终有效的数值列在旁边。",
    liftCs: "提升 95%（始终有效）",
    liftCi: "提升 95%（固定样本量）",
    pAlwaysValid: "p（始终有效）",
    pFixed: "p（固定样本量）",
    pHolm: "p (Holm)",
    cvrTitle: "转化率（转化 / 点击）",
    conversions: "转化",
    cvr: "转化率",
    cvrCs: "转化率 95%（始终有效）",
  },
} as const;

function m(key: keyof typeof MESSAGES.en): string {
  return MESSAGES[lang() === "zh" ? "zh" : "en"][key];
}

type Lift = NonNullable<ExperimentReport["raw"]["buckets"][string]["lift_vs_control"]>;

function readingNote(report: ExperimentReport): HTMLElement {
  const sequential = report.raw.sequential !== false;
  return h("p", { class: "muted", "data-testid": "reading-note", "data-headline": report.raw.headline ?? "always_valid" },
    m(sequential ? "alwaysValid" : "fixedHorizon"));
}

function pair(x: [number | null, number | null] | number[] | null | undefined): [number, number] | null {
  const [low, high] = x ?? [];
  return isNum(low) && isNum(high) ? [low, high] : null;
}

function liftCells(liftJson: Lift | null | undefined, isControl: boolean): HTMLElement[] {
  const lift = (x: number) => fmtLift(x);
  const cell = (field: string, text: string) => h("td", { class: "num", "data-field": field }, isControl || !liftJson ? "—" : text);
  return [
    cell("lift_cs", fmtRange(pair(liftJson?.relative_cs), lift)),
    cell("p_value", fmtP(liftJson?.p_value)),
    cell("p_value_adjusted", fmtP(liftJson?.p_value_adjusted)),
    cell("lift_ci", fmtRange(pair(liftJson?.relative_ci), lift)),
    cell("p_value_fixed_horizon", fmtP(liftJson?.p_value_fixed_horizon)),
  ];
}

function liftHeaders(): string[] {
  return [m("liftCs"), m("pAlwaysValid"), m("pHolm"), m("liftCi"), m("pFixed")];
}

function cvrTable(report: ExperimentReport): HTMLElement {
  const headers = [t("exp.bucket"), t("common.clicks"), m("conversions"), m("cvr"), m("cvrCs"), t("exp.lift"), ...liftHeaders()];
  const pct = (x: number) => fmtPct(x);
  return h("div", { class: "table-wrap" },
    h("table", { class: "table", "data-testid": "cvr-table" },
      h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {},
        ...report.buckets.map((b) => {
          const raw = report.raw.buckets[b.bucket];
          const isControl = b.bucket === "control";
          return h("tr", { "data-bucket": b.bucket },
            h("th", { scope: "row" }, h("span", { class: "dot", style: `background:${BUCKET_COLORS[b.bucket] ?? "#374151"}` }), bucketLabel(b.bucket)),
            h("td", { class: "num", "data-field": "clicks" }, fmtInt(b.clicks)),
            h("td", { class: "num", "data-field": "conversions" }, fmtInt(raw?.conversions)),
            h("td", { class: "num", "data-field": "cvr" }, fmtPct(raw?.cvr)),
            h("td", { class: "num", "data-field": "cvr_cs" }, fmtRange(pair(raw?.cvr_cs), pct)),
            h("td", { class: "num", "data-field": "lift" }, isControl ? "—" : fmtLift(raw?.cvr_lift_vs_control?.relative)),
            ...liftCells(raw?.cvr_lift_vs_control, isControl));
        }))));
}

function srmBanner(report: ExperimentReport): HTMLElement {
  if (!isNum(report.srm_p_value)) return h("span", { hidden: true });
  if (report.srm_warning) {
    return h("div", { class: "banner banner--warn", role: "alert", "data-testid": "srm-warning" }, t("exp.srmWarning", { p: fmtP(report.srm_p_value) }));
  }
  return h("p", { class: "banner banner--ok", "data-testid": "srm-ok" }, t("exp.srmOk", { p: fmtP(report.srm_p_value) }));
}

function kpis(buckets: BucketRow[]): HTMLElement {
  return h("div", { class: "kpis" },
    ...buckets.map((b) =>
      h("div", { class: "kpi", "data-bucket": b.bucket, style: `--accent:${BUCKET_COLORS[b.bucket] ?? "#374151"}` },
        h("div", { class: "kpi__label" }, bucketLabel(b.bucket)),
        h("div", { class: "kpi__value", "data-field": "ctr" }, fmtPct(b.ctr)),
        h("div", { class: "kpi__sub" }, `${fmtInt(b.clicks)} / ${fmtInt(b.impressions)}`),
        b.bucket !== "control" && isNum(b.lift)
          ? h("div", { class: `kpi__lift ${b.lift >= 0 ? "up" : "down"}`, "data-field": "lift" }, `${fmtLift(b.lift)} ${t("exp.lift")}`)
          : null)));
}

function bucketTable(report: ExperimentReport): HTMLElement {
  const buckets = report.buckets;
  const headers = [t("exp.bucket"), t("common.users"), t("common.impressions"), t("common.clicks"), t("common.ctr"), t("exp.ctrCi"), t("exp.lift"), ...liftHeaders()];
  const pct = (x: number) => fmtPct(x);
  return h("div", { class: "table-wrap" },
    h("table", { class: "table", "data-testid": "bucket-table" },
      h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {},
        ...buckets.map((b) =>
          h("tr", { "data-bucket": b.bucket },
            h("th", { scope: "row" }, h("span", { class: "dot", style: `background:${BUCKET_COLORS[b.bucket] ?? "#374151"}` }), bucketLabel(b.bucket)),
            h("td", { class: "num", "data-field": "users" }, fmtInt(b.users)),
            h("td", { class: "num", "data-field": "impressions" }, fmtInt(b.impressions)),
            h("td", { class: "num", "data-field": "clicks" }, fmtInt(b.clicks)),
            h("td", { class: "num", "data-field": "ctr" }, fmtPct(b.ctr)),
            h("td", { class: "num", "data-field": "ctr_ci" }, fmtRange(b.ctr_ci, pct)),
            h("td", { class: "num", "data-field": "lift" }, b.bucket === "control" ? "—" : fmtLift(b.lift)),
            ...liftCells(report.raw.buckets[b.bucket]?.lift_vs_control, b.bucket === "control"))))));
}

function drawCtrChart(el: HTMLElement, buckets: BucketRow[]): void {
  const names = buckets.map((b) => bucketLabel(b.bucket));
  const maxHigh = Math.max(...buckets.map((b) => b.ctr_ci?.[1] ?? b.ctr ?? 0));
  drawChart(el, {
    grid: { left: 56, right: 16, top: 16, bottom: 32 },
    tooltip: {
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: (items: { dataIndex: number }[]) => {
        const b = buckets[items[0]?.dataIndex ?? 0]!;
        return `${bucketLabel(b.bucket)}<br>${t("common.ctr")}: ${fmtPct(b.ctr)}<br>${t("exp.ctrCi")}: ${fmtRange(b.ctr_ci, (x) => fmtPct(x))}`;
      },
    },
    xAxis: { type: "category", data: names },
    // Room for the top of the highest interval, so no error bar is clipped.
    yAxis: { type: "value", min: 0, max: niceMax(maxHigh), axisLabel: { formatter: (v: number) => fmtPct(v, 1) } },
    series: [
      {
        type: "bar",
        name: t("common.ctr"),
        barMaxWidth: 72,
        data: buckets.map((b) => ({ value: b.ctr ?? 0, itemStyle: { color: BUCKET_COLORS[b.bucket] ?? PALETTE[0] } })),
        label: { show: true, position: "insideBottom", distance: 8, color: "#fff", fontWeight: "bold", formatter: (p: { value: number }) => fmtPct(p.value) },
      },
      errorBarSeries(t("exp.ctrCi"), buckets.map((b) => b.ctr_ci)),
    ],
  }, t("exp.chartCtr"));
}

function drawDailyChart(el: HTMLElement, daily: DailyRow[]): void {
  const days = [...new Set(daily.map((d) => d.day))].sort();
  const buckets = [...new Set(daily.map((d) => d.bucket))].sort((a, b) => ["control", "random", "model"].indexOf(a) - ["control", "random", "model"].indexOf(b));
  const lookup = new Map(daily.map((d) => [`${d.day}|${d.bucket}`, d]));
  drawChart(el, {
    grid: { left: 56, right: 16, top: 36, bottom: 32 },
    legend: { top: 0 },
    tooltip: { trigger: "axis", valueFormatter: (v: number) => fmtPct(v) },
    xAxis: { type: "category", data: days.map(fmtDay), boundaryGap: false },
    yAxis: { type: "value", min: 0, axisLabel: { formatter: (v: number) => fmtPct(v, 1) } },
    series: buckets.map((bucket) => ({
      type: "line",
      name: bucketLabel(bucket),
      showSymbol: days.length < 40,
      connectNulls: true,
      itemStyle: { color: BUCKET_COLORS[bucket] },
      data: days.map((day) => lookup.get(`${day}|${bucket}`)?.ctr ?? null),
    })),
  }, t("exp.chartDaily"));
}

/** A round axis maximum just above `x` (1-2-2.5-5 steps). */
export function niceMax(x: number): number {
  if (!(x > 0)) return 0.01;
  const magnitude = 10 ** Math.floor(Math.log10(x));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * magnitude >= x * 1.05) return step * magnitude;
  }
  return 10 * magnitude;
}
