import type { Attribution, Finding, Identifiability } from "../api";
import { FONT, PALETTE, drawChart } from "../charts";
import { clear, h, hasHan } from "../dom";
import { fmtInt, fmtNum, fmtP, fmtPct, fmtRatio } from "../format";
import { lang, t } from "../i18n";
import type { PageContext } from "../main";
import { card, chartBox, currentPlacement, empty, load, loading, openPage, placementSelect, segmented, select } from "../ui";

const PREFERRED_SEGMENTS = ["age", "gender", "income_band", "device"];
const PREFERRED_TAGS = ["button_color", "appeal", "visual_style", "layout"];

export async function renderAttribution(ctx: PageContext): Promise<void> {
  const page = await openPage(ctx, t("attr.title"));
  if (!page) return;
  const { body, meta } = page;
  if (meta.placements.length === 0) {
    body.append(empty(t("attr.empty")));
    return;
  }
  const placement = currentPlacement(ctx, meta);
  const features = meta.segment_features.length ? meta.segment_features : PREFERRED_SEGMENTS;
  const segment = ctx.params.get("segment") ?? PREFERRED_SEGMENTS.find((f) => features.includes(f)) ?? features[0]!;
  const groups = meta.tag_groups.map((g) => g.name);
  const tagGroup = ctx.params.get("tag_group") ?? PREFERRED_TAGS.find((g) => groups.includes(g)) ?? groups[0] ?? "";
  const asked = ctx.params.get("metric");
  const metric: Metric = asked === "preference" || asked === "relative" ? asked : "ctr";

  body.append(h("div", { class: "toolbar" },
    placementSelect(ctx, meta, placement),
    select(t("attr.segment"), features.map((f) => ({ value: f, label: f })), segment, (v) => ctx.setParams({ segment: v }), "segment"),
    select(t("attr.tagGroup"), groups.map((g) => ({ value: g, label: g })), tagGroup, (v) => ctx.setParams({ tag_group: v }), "tag_group"),
    segmented(t("attr.metric"), [{ value: "ctr", label: t("attr.metricCtr") }, { value: "relative", label: t("attr.metricRelative") }, { value: "preference", label: t("attr.metricPref") }], metric,
      (v) => ctx.setParams({ metric: v === "ctr" ? null : v }), "metric")));

  const top = h("div", { class: "grid2 grid2--wide-left" });
  const heatCard = h("div", {}, loading());
  const findingsCard = h("div", {}, loading());
  top.append(card(t("attr.heatmap", { segment, tag: tagGroup }), heatCard, { "data-testid": "heatmap-card" }), card(t("attr.findings"), findingsCard, { "data-testid": "findings-card" }));
  const explainBox = h("div", {}, loading());
  const identifiabilityBox = h("div", {}, loading());
  body.append(top, card(t("attr.identifiability"), identifiabilityBox, { "data-testid": "identifiability-card" }),
    card(t("attr.importances"), explainBox, { "data-testid": "importances-card" }));

  // A failure shows in the heatmap's card; the findings' card is then left empty.
  const attribution = load(ctx, heatCard, ctx.api.attribution(placement, segment, tagGroup)).then((data) => {
    if (!ctx.current()) return;
    clear(findingsCard);
    if (!data) return;
    showHeatmap(heatCard, data, metric);
    showFindings(findingsCard, data.findings, segment, tagGroup);
  });
  const identifiability = load(ctx, identifiabilityBox, ctx.api.identifiability(placement), false).then((data) => {
    if (ctx.current() && data) showIdentifiability(identifiabilityBox, data);
  });
  await Promise.all([attribution, identifiability, showExplanation(ctx, placement, explainBox)]);
}

type Metric = "ctr" | "preference" | "relative";

/** The cell's number for the chosen metric: CTR, the marginal normalized preference, or the relative one. */
function metricValue(c: Attribution["cells"][number], metric: Metric): number | null {
  return metric === "ctr" ? c.ctr : metric === "preference" ? c.normalized_preference : c.relative_preference;
}

function showHeatmap(el: HTMLElement, data: Attribution, metric: Metric): void {
  const cells = data.cells.filter((c) => c.impressions > 0);
  if (cells.length === 0) {
    el.append(empty(t("attr.empty")));
    return;
  }
  const segments = [...new Set(cells.map((c) => c.segment))];
  const tags = [...new Set(cells.map((c) => c.tag))];
  const value = (c: (typeof cells)[number]) => metricValue(c, metric);
  const values = cells.map(value).filter((v): v is number => v !== null);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const format = metric === "ctr" ? (v: number) => fmtPct(v) : fmtRatio;
  const box = chartBox("chart-heatmap", Math.max(260, 44 * segments.length + 110));
  const faded = cells.some((c) => !c.supported);
  el.append(box);
  if (faded && data.min_support) el.append(h("p", { class: "muted small" }, t("attr.lowSupport", { n: fmtInt(data.min_support) })));
  // Which view this is: the marginal ratio carries each tag's effect on everyone; the relative one does not.
  el.append(h("p", { class: "muted small", "data-testid": "metric-note", "data-metric": metric },
    t(metric === "preference" ? "attr.marginalNote" : metric === "relative" ? "attr.relativeNote" : "attr.ctrNote")));
  for (const alias of data.aliases) {
    el.append(h("p", { class: "banner banner--warn", role: "note", "data-testid": "alias-note" }, t("attr.aliasNote", { tags: alias.join(" + ") })));
  }
  el.append(heatTable(data, segments, tags, metric));
  drawChart(box, {
    grid: { left: 96, right: 16, top: 8, bottom: 76 },
    tooltip: {
      formatter: (p: { value: [number, number, number | null, number, number] }) => {
        const [x, y, v, imps, clicks] = p.value;
        return `${segments[y]} × ${tags[x]}<br>${format(v ?? 0)}<br>${t("common.impressions")}: ${fmtInt(imps)} · ${t("common.clicks")}: ${fmtInt(clicks)}`;
      },
    },
    xAxis: { type: "category", data: tags, splitArea: { show: true }, axisLabel: { interval: 0, rotate: tags.length > 5 ? 30 : 0 } },
    yAxis: { type: "category", data: segments, splitArea: { show: true } },
    visualMap: {
      dimension: 2,
      min: metric !== "ctr" ? Math.min(lo, 1 - (hi - 1)) : lo,
      max: metric !== "ctr" ? Math.max(hi, 1 + (1 - lo)) : hi,
      calculable: false,
      orient: "horizontal",
      left: "center",
      bottom: 0,
      itemHeight: 120,
      formatter: (v: number) => format(v),
      inRange: { color: metric !== "ctr" ? ["#b91c1c", "#f9fafb", "#1d4ed8"] : ["#eff6ff", "#1d4ed8"] },
    },
    series: [{
      type: "heatmap",
      name: metric,
      // Cells below the minimum support are drawn faded: their numbers are too noisy to read.
      data: cells.map((c) => ({ value: [tags.indexOf(c.tag), segments.indexOf(c.segment), value(c), c.impressions, c.clicks], itemStyle: { opacity: c.supported ? 1 : 0.4 }, label: { opacity: 1 } })),
      // Numbers in the cells only when they fit (a phone shows them in the tooltip and the table).
      label: { show: tags.length * segments.length <= 80 && box.clientWidth / Math.max(1, tags.length) >= 72, fontFamily: FONT, color: "#111827", textBorderWidth: 2, textBorderColor: "rgba(255,255,255,.85)", formatter: (p: { value: [number, number, number | null] }) => (p.value[2] === null ? "" : format(p.value[2])) },
      emphasis: { itemStyle: { borderColor: "#111827", borderWidth: 1 } },
    }],
  }, `${data.segment} × ${data.tag_group}`);
}

/** The same numbers as a table, for screen readers and for copying. */
function heatTable(data: Attribution, segments: string[], tags: string[], metric: Metric): HTMLElement {
  const cell = new Map(data.cells.map((c) => [`${c.segment}|${c.tag}`, c]));
  return h("details", { class: "details" },
    h("summary", {}, `${segments.length} × ${tags.length}`),
    h("div", { class: "table-wrap" },
      h("table", { class: "table table--compact", "data-testid": "heatmap-table", "data-metric": metric },
        h("thead", {}, h("tr", {}, h("th", {}, ""), ...tags.map((tag) => h("th", { scope: "col" }, tag)))),
        h("tbody", {}, ...segments.map((s) =>
          h("tr", {}, h("th", { scope: "row" }, s), ...tags.map((tag) => {
            const c = cell.get(`${s}|${tag}`);
            const v = c ? metricValue(c, metric) : null;
            return h("td", { class: "num", "data-segment": s, "data-tag": tag }, v === null ? "—" : metric === "ctr" ? fmtPct(v) : fmtRatio(v));
          })))))));
}

function showFindings(el: HTMLElement, findings: Finding[], segment: string, tagGroup: string): void {
  if (findings.length === 0) {
    el.append(empty(t("attr.findingsEmpty")));
    return;
  }
  el.append(h("ol", { class: "findings", "data-testid": "findings" },
    ...findings.map((f) => {
      const seg = `${segment} = ${f.segment}`;
      const tag = f.tags.length > 1 ? f.tags.join(" + ") : `${tagGroup} = ${f.tag}`;
      // The API words findings in English; Chinese readers get the same facts in Chinese.
      const serverText = lang() === "en" ? (f.sentence ?? f.text) || undefined : undefined;
      const sentence = serverText ?? t(f.ratio >= 1 ? "attr.finding" : "attr.findingAvoid", { segment: seg, tag, ratio: fmtRatio(f.ratio) });
      const detail = [t("attr.findingDetail", { ctr: fmtPct(f.ctr), impressions: fmtInt(f.impressions) })];
      if (f.ratio_ci && !serverText) detail.push(`95%: ${fmtRatio(f.ratio_ci[0])} – ${fmtRatio(f.ratio_ci[1])}`);
      if (f.q_value !== null) detail.push(`q = ${fmtP(f.q_value)}`);
      if (f.tags.length > 1) detail.push(t("attr.compound"));
      return h("li", { class: `finding ${f.ratio >= 1 ? "finding--up" : "finding--down"}`, lang: hasHan(sentence) ? "zh" : null, "data-segment": f.segment, "data-tag": f.tag },
        h("span", { class: "finding__text" }, sentence),
        h("span", { class: "finding__detail muted" }, detail.join(" · ")));
    })));
}

/** Which tag effects the live catalogue can tell apart, and what to add where it cannot. */
function showIdentifiability(el: HTMLElement, data: Identifiability): void {
  if (data.live_variants === 0) {
    el.append(empty(t("attr.identifiabilityEmpty")));
    return;
  }
  el.append(h("p", { class: data.identifiable ? "banner banner--ok" : "banner banner--warn", "data-testid": "identifiability-verdict", "data-identifiable": String(data.identifiable) },
    t(data.identifiable ? "attr.identifiable" : "attr.notIdentifiable", { variants: fmtInt(data.live_variants), tags: fmtInt(data.tag_values) })));
  if (data.aliases.length) {
    el.append(h("ul", { class: "findings", "data-testid": "aliases" },
      ...data.aliases.map((a) => h("li", { class: "finding", "data-tags": a.tags.join(",") },
        h("span", { class: "finding__text" }, t("attr.aliasItem", { tags: a.tags.join(" + "), n: fmtInt(a.variants) })),
        h("span", { class: "finding__detail muted" }, a.separate_with.join(" · "))))));
  }
  for (const note of data.notes.filter((n) => !n.includes("always shown together"))) {
    el.append(h("p", { class: "muted small" }, note));
  }
}

async function showExplanation(ctx: PageContext, placement: string, el: HTMLElement, attempt = 0): Promise<void> {
  const explanation = await load(ctx, el, ctx.api.explain(placement), false);
  if (!explanation) return;
  if (explanation.status === "pending") {
    el.append(loading(t("attr.importancesPending")));
    if (attempt < 40) {
      await new Promise((r) => setTimeout(r, 3000));
      if (ctx.current()) await showExplanation(ctx, placement, el, attempt + 1);
    }
    return;
  }
  if (explanation.terms.length === 0) {
    el.append(empty(t("attr.importancesEmpty")));
    return;
  }
  const terms = explanation.terms.slice(0, 20).reverse();
  const box = chartBox("chart-importances", Math.max(220, 26 * terms.length + 40));
  el.append(box);
  const narrow = box.clientWidth < 560;
  drawChart(box, {
    grid: { left: 8, right: 48, top: 8, bottom: 24, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v: number) => fmtNum(v) },
    xAxis: { type: "value", splitNumber: narrow ? 2 : 5 },
    yAxis: { type: "category", data: terms.map((x) => x.name), axisLabel: { width: narrow ? Math.round(box.clientWidth * 0.45) : 220, overflow: "truncate" } },
    series: [{
      type: "bar",
      data: terms.map((x) => ({ value: x.importance, itemStyle: { color: x.kind === "pair" ? PALETTE[1] : PALETTE[0] } })),
      label: { show: true, position: "right", formatter: (p: { value: number }) => fmtNum(p.value) },
    }],
  }, t("attr.importances"));
  el.append(h("p", { class: "legend-inline muted" },
    h("span", { class: "dot", style: `background:${PALETTE[0]}` }), t("attr.main"), " ",
    h("span", { class: "dot", style: `background:${PALETTE[1]}` }), t("attr.pair")));
}
