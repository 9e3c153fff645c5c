/** ECharts with only the pieces the dashboard uses, drawn as SVG (crisp, and text stays text). */
import { BarChart, CustomChart, HeatmapChart, LineChart, ScatterChart } from "echarts/charts";
import {
  DatasetComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

echarts.use([
  BarChart,
  CustomChart,
  HeatmapChart,
  LineChart,
  ScatterChart,
  DatasetComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
  VisualMapComponent,
  SVGRenderer,
]);

export type ChartOption = echarts.EChartsCoreOption;

export const FONT = 'system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
export const BUCKET_COLORS: Record<string, string> = { control: "#6b7280", random: "#d97706", model: "#2563eb" };
export const PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];

const live = new Set<echarts.ECharts>();
const observer = typeof ResizeObserver === "function" ? new ResizeObserver((entries) => {
  for (const entry of entries) echarts.getInstanceByDom(entry.target as HTMLElement)?.resize();
}) : undefined;

/** Draw `option` into `el`; the chart follows the element's size. */
export function drawChart(el: HTMLElement, option: ChartOption, label: string): echarts.ECharts {
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", label);
  const chart = echarts.getInstanceByDom(el) ?? echarts.init(el, undefined, { renderer: "svg" });
  chart.setOption({ textStyle: { fontFamily: FONT }, animation: false, ...option }, true);
  live.add(chart);
  observer?.observe(el);
  // What each series given an `id` holds, for tests and tools: data-series-points='{"holdout":10}'.
  const points: Record<string, number> = {};
  for (const s of (chart.getOption().series ?? []) as { id?: unknown; data?: unknown }[]) {
    if (typeof s.id === "string" && !s.id.includes("\0") && Array.isArray(s.data)) points[s.id] = s.data.length;
  }
  if (Object.keys(points).length) el.dataset.seriesPoints = JSON.stringify(points);
  else delete el.dataset.seriesPoints;
  el.dataset.chartReady = "true";
  return chart;
}

/** Dispose every chart (when leaving a page). */
export function disposeCharts(): void {
  for (const chart of live) {
    const dom = chart.getDom();
    if (dom) observer?.unobserve(dom);
    chart.dispose();
  }
  live.clear();
}

/** An I-beam for a [low, high] interval at category `index`, for custom series. */
export function errorBarSeries(name: string, intervals: ([number, number] | null)[], color = "#111827") {
  return {
    type: "custom",
    name,
    silent: true,
    z: 10,
    data: intervals.map((ci, i) => (ci ? [i, ci[0], ci[1]] : [i, Number.NaN, Number.NaN])),
    renderItem(_params: unknown, api: { value: (i: number) => number; coord: (p: number[]) => number[]; size: (p: number[]) => number[] }) {
      const x = api.value(0);
      const low = api.value(1);
      const high = api.value(2);
      if (!Number.isFinite(low) || !Number.isFinite(high)) return null;
      const lowPt = api.coord([x, low]);
      const highPt = api.coord([x, high]);
      const half = Math.min(12, (api.size([1, 0])[0] ?? 40) * 0.15);
      const style = { stroke: color, lineWidth: 2 };
      return {
        type: "group",
        children: [
          { type: "line", shape: { x1: highPt[0], y1: highPt[1], x2: lowPt[0], y2: lowPt[1] }, style },
          { type: "line", shape: { x1: highPt[0]! - half, y1: highPt[1], x2: highPt[0]! + half, y2: highPt[1] }, style },
          { type: "line", shape: { x1: lowPt[0]! - half, y1: lowPt[1], x2: lowPt[0]! + half, y2: lowPt[1] }, style },
        ],
      };
    },
  };
}
