/**
 * Calls to Kaleido's report APIs (shared/API.md) and the dashboard's own read endpoints, with the
 * staff session cookie. Report bodies are normalised defensively so the pages can rely on one shape.
 */
import type { DashboardConfig } from "./config";
import { isNum } from "./format";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(describe(status, body));
  }
}

function describe(status: number, body: unknown): string {
  if (body && typeof body === "object" && "detail" in body) return `${status} ${String((body as { detail: unknown }).detail)}`;
  return `HTTP ${status}`;
}

export interface Fetched<T> {
  status: number;
  body: T;
}

export class Api {
  constructor(private readonly config: DashboardConfig) {}

  private async request<T>(url: string, init: RequestInit = {}): Promise<Fetched<T>> {
    const response = await fetch(url, {
      credentials: "same-origin",
      ...init,
      headers: { Accept: "application/json", "X-CSRFToken": this.config.csrfToken, ...(init.headers ?? {}) },
    });
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    if (!response.ok) throw new HttpError(response.status, body);
    return { status: response.status, body: body as T };
  }

  private report<T>(path: string, params: Record<string, string> = {}): Promise<Fetched<T>> {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
    return this.request<T>(`${this.config.apiBase}${path}${query ? `?${query}` : ""}`);
  }

  private own<T>(path: string, params: Record<string, string> = {}): Promise<Fetched<T>> {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
    return this.request<T>(`${this.config.dashboardApi}${path}${query ? `?${query}` : ""}`);
  }

  meta() {
    return this.own<Meta>("meta").then((r) => r.body);
  }

  async experimentReport(slug: string): Promise<ExperimentReport> {
    // Per-segment lifts are not shown here; skipping them keeps the report quick.
    const r = await this.report<Record<string, unknown>>(`experiments/${encodeURIComponent(slug)}/report`, { segments: "false" });
    return normalizeReport(r.body);
  }

  async experimentDaily(slug: string): Promise<DailyRow[]> {
    const r = await this.own<{ days: DailyRow[] }>(`experiments/${encodeURIComponent(slug)}/daily`);
    return r.body.days ?? [];
  }

  async attribution(placement: string, segment: string, tagGroup: string): Promise<Attribution> {
    const r = await this.report<Record<string, unknown>>(`placements/${encodeURIComponent(placement)}/attribution`, {
      segment,
      tag_group: tagGroup,
    });
    return normalizeAttribution(r.body);
  }

  async explain(placement: string): Promise<Explanation> {
    const r = await this.report<Record<string, unknown>>(`placements/${encodeURIComponent(placement)}/explain`);
    return normalizeExplanation(r.body, r.status);
  }

  variants(params: { placement: string; status?: string; tag?: string; q?: string }) {
    return this.own<Gallery>("variants", params as Record<string, string>).then((r) => r.body);
  }

  async models(placement: string): Promise<ModelList> {
    const r = await this.own<Record<string, unknown>>("models", { placement });
    return normalizeModels(r.body);
  }

  activate(version: string) {
    return this.request<{ version: string }>(`${this.config.dashboardApi}models/${encodeURIComponent(version)}/activate`, { method: "POST" });
  }

  rollback(placement: string) {
    return this.request<{ version: string }>(`${this.config.dashboardApi}models/rollback`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ placement }),
    });
  }
}

// --- shapes ------------------------------------------------------------------------------------

export interface Meta {
  placements: { slug: string; name: string; surface: string; width: number; height: number }[];
  experiments: { slug: string; placement: string; status: string; buckets: Record<string, number>; started_at: string; stopped_at: string | null }[];
  tag_groups: { name: string; layer: string; values: string[] }[];
  segment_features: string[];
}

export interface BucketRow {
  bucket: string;
  users: number | null;
  impressions: number | null;
  clicks: number | null;
  ctr: number | null;
  ctr_ci: [number, number] | null;
  lift: number | null;
  lift_ci: [number, number] | null;
  p_value: number | null;
  share: number | null;
}

export interface DailyRow {
  day: string;
  bucket: string;
  impressions: number;
  clicks: number;
  ctr: number | null;
}

export interface ExperimentReport {
  experiment: string;
  placement: string | null;
  buckets: BucketRow[];
  srm_p_value: number | null;
  srm_warning: boolean;
  daily: DailyRow[] | null;
  raw: Record<string, unknown>;
}

export interface AttributionCell {
  segment: string;
  tag: string;
  impressions: number;
  clicks: number;
  ctr: number | null;
  normalized_preference: number | null;
  /** False when the cell has fewer impressions than the API's min_support. */
  supported: boolean;
}

export interface Finding {
  segment: string;
  tag: string;
  ratio: number;
  ratio_ci: [number, number] | null;
  q_value: number | null;
  ctr: number | null;
  impressions: number;
  text?: string;
}

export interface Attribution {
  segment: string;
  tag_group: string;
  cells: AttributionCell[];
  findings: Finding[] | null;
  min_support: number | null;
  weighting: string | null;
}

export interface Term {
  name: string;
  importance: number;
  kind: "main" | "pair";
}

export interface Explanation {
  status: "ready" | "pending" | "empty";
  terms: Term[];
}

export interface GalleryVariant {
  id: number;
  variant_key: string;
  status: string;
  pinned: boolean;
  blocked: boolean;
  is_control: boolean;
  tags: Record<string, string[]>;
  headline: string;
  subline: string;
  cta: string;
  language: string;
  image_url: string;
  impressions: number;
  clicks: number;
  ctr: number | null;
}

export interface Gallery {
  placement: string;
  variants: GalleryVariant[];
  status_counts: Record<string, number>;
}

export interface CalibrationPoint {
  predicted: number;
  observed: number;
  count?: number;
}

export interface ModelRow {
  version: string;
  placement: string | null;
  scope: string;
  algo: string;
  rows: number;
  auc: number | null;
  logloss: number | null;
  calibration_error: number | null;
  is_active: boolean;
  activated_at: string | null;
  created_at: string;
  /** The registry's curve on the training holdout (`params["calibration"]`); empty when not stored. */
  holdout_calibration: CalibrationPoint[];
  /** The curve on the traffic the version served. */
  live_calibration: CalibrationPoint[];
}

export interface ModelList {
  versions: ModelRow[];
  can_manage: boolean;
}

// --- normalisers -------------------------------------------------------------------------------

const num = (x: unknown): number | null => (isNum(x) ? x : typeof x === "string" && x.trim() !== "" && Number.isFinite(Number(x)) ? Number(x) : null);

function interval(x: unknown): [number, number] | null {
  if (Array.isArray(x) && x.length === 2 && isNum(x[0]) && isNum(x[1])) return [x[0], x[1]];
  if (x && typeof x === "object") {
    const o = x as Record<string, unknown>;
    const low = num(o.low ?? o.lower ?? o.ci_low);
    const high = num(o.high ?? o.upper ?? o.ci_high);
    if (low !== null && high !== null) return [low, high];
    if ("ci" in o) return interval(o.ci);
  }
  return null;
}

function bucketRow(name: string, o: Record<string, unknown>): BucketRow {
  // The report gives lift_vs_control as {relative, relative_ci, absolute, absolute_ci, p_value};
  // a bare number with lift_ci beside it is accepted too.
  const liftRaw = o.lift_vs_control ?? o.lift;
  let lift: number | null = null;
  let liftCi: [number, number] | null = interval(o.lift_ci ?? o.lift_vs_control_ci);
  let pRaw: unknown = o.p_value;
  if (liftRaw && typeof liftRaw === "object" && !Array.isArray(liftRaw)) {
    const l = liftRaw as Record<string, unknown>;
    lift = num(l.relative ?? l.value ?? l.estimate);
    liftCi = liftCi ?? interval(l.relative_ci ?? l.ci);
    pRaw = pRaw ?? l.p_value;
  } else {
    lift = num(liftRaw);
  }
  return {
    bucket: String(o.bucket ?? o.name ?? name),
    users: num(o.users),
    impressions: num(o.impressions),
    clicks: num(o.clicks),
    ctr: num(o.ctr),
    ctr_ci: interval(o.ctr_ci),
    lift,
    lift_ci: liftCi,
    p_value: num(pRaw),
    share: num(o.share),
  };
}

const BUCKET_ORDER = ["control", "random", "model"];

export function normalizeReport(raw: Record<string, unknown>): ExperimentReport {
  const rawBuckets = raw.buckets;
  let buckets: BucketRow[] = [];
  if (Array.isArray(rawBuckets)) {
    buckets = rawBuckets.map((b, i) => bucketRow(String(i), (b ?? {}) as Record<string, unknown>));
  } else if (rawBuckets && typeof rawBuckets === "object") {
    buckets = Object.entries(rawBuckets as Record<string, unknown>).map(([name, b]) => bucketRow(name, (b ?? {}) as Record<string, unknown>));
  }
  buckets.sort((a, b) => rank(a.bucket) - rank(b.bucket));
  const srm = num(raw.srm_p_value);
  const daily = Array.isArray(raw.daily) ? (raw.daily as DailyRow[]) : null;
  const experiment = raw.experiment;
  return {
    experiment: typeof experiment === "string" ? experiment : String((experiment as Record<string, unknown> | undefined)?.slug ?? raw.slug ?? ""),
    placement: typeof raw.placement === "string" ? raw.placement : null,
    buckets,
    srm_p_value: srm,
    srm_warning: typeof raw.srm_flag === "boolean" ? raw.srm_flag : srm !== null && srm < (num(raw.srm_threshold) ?? 0.001),
    daily,
    raw,
  };
}

function rank(bucket: string): number {
  const i = BUCKET_ORDER.indexOf(bucket);
  return i === -1 ? BUCKET_ORDER.length : i;
}

export function normalizeAttribution(raw: Record<string, unknown>): Attribution {
  const cells = (Array.isArray(raw.cells) ? raw.cells : []).map((c) => {
    const o = (c ?? {}) as Record<string, unknown>;
    return {
      segment: String(o.segment_value ?? o.segment ?? ""),
      tag: String(o.tag_value ?? o.tag ?? ""),
      impressions: num(o.impressions) ?? 0,
      clicks: num(o.clicks) ?? 0,
      ctr: num(o.ctr),
      normalized_preference: num(o.normalized_preference ?? o.preference),
      supported: o.supported !== false,
    };
  });
  let findings: Finding[] | null = null;
  if (Array.isArray(raw.findings)) {
    findings = raw.findings.map((f) => {
      const o = (f ?? {}) as Record<string, unknown>;
      const segment = String(o.segment_value ?? o.segment ?? "");
      const tag = String(o.tag_value ?? o.tag ?? "");
      const cell = cells.find((c) => c.segment === segment && c.tag === tag);
      return {
        segment,
        tag,
        ratio: num(o.normalized_preference ?? o.ratio) ?? 1,
        ratio_ci: interval(o.normalized_preference_ci),
        q_value: num(o.q_value),
        ctr: num(o.ctr) ?? cell?.ctr ?? null,
        impressions: num(o.impressions) ?? cell?.impressions ?? 0,
        text: typeof o.text === "string" ? o.text : undefined,
      };
    });
  }
  return {
    segment: String(raw.segment ?? ""),
    tag_group: String(raw.tag_group ?? ""),
    cells,
    findings,
    min_support: num(raw.min_support),
    weighting: typeof raw.weighting === "string" ? raw.weighting : null,
  };
}

/** Calibration bins as {predicted, observed, count?}; [predicted, observed] pairs are accepted too. */
export function normalizeCurve(raw: unknown): CalibrationPoint[] {
  if (!Array.isArray(raw)) return [];
  const points: CalibrationPoint[] = [];
  for (const p of raw) {
    const o = (Array.isArray(p) ? { predicted: p[0], observed: p[1] } : (p ?? {})) as Record<string, unknown>;
    const predicted = num(o.predicted);
    const observed = num(o.observed);
    if (predicted === null || observed === null) continue;
    const count = num(o.count);
    points.push(count === null ? { predicted, observed } : { predicted, observed, count });
  }
  return points;
}

export function normalizeModels(raw: Record<string, unknown>): ModelList {
  const versions = (Array.isArray(raw.versions) ? raw.versions : []).map((v) => {
    const o = (v ?? {}) as Record<string, unknown>;
    return {
      ...(o as unknown as ModelRow),
      version: String(o.version ?? ""),
      holdout_calibration: normalizeCurve(o.holdout_calibration),
      live_calibration: normalizeCurve(o.live_calibration),
    };
  });
  return { versions, can_manage: raw.can_manage === true };
}

/** Findings from the cells when the API gives none: the strongest reliable deviations from 1×. */
export function deriveFindings(cells: AttributionCell[], limit = 8, minImpressions = 100): Finding[] {
  return cells
    .filter((c) => c.normalized_preference !== null && c.supported && c.impressions >= minImpressions)
    .map((c) => ({ segment: c.segment, tag: c.tag, ratio: c.normalized_preference as number, ratio_ci: null, q_value: null, ctr: c.ctr, impressions: c.impressions }))
    .filter((f) => Math.abs(f.ratio - 1) >= 0.05)
    .sort((a, b) => Math.abs(Math.log(b.ratio)) * Math.sqrt(b.impressions) - Math.abs(Math.log(a.ratio)) * Math.sqrt(a.impressions))
    .slice(0, limit);
}

export function normalizeExplanation(raw: Record<string, unknown> | null, status: number): Explanation {
  const body = raw ?? {};
  const state = String(body.status ?? "");
  if (status === 202 || state === "pending" || state === "running") return { status: "pending", terms: [] };
  const terms: Term[] = [];
  const push = (list: unknown, kind?: "main" | "pair") => {
    if (!Array.isArray(list)) return;
    for (const item of list) {
      const o = (item ?? {}) as Record<string, unknown>;
      const name = Array.isArray(o.features) ? (o.features as string[]).join(" × ") : String(o.term ?? o.name ?? o.feature ?? "");
      const importance = num(o.importance ?? o.score ?? o.value);
      if (!name || importance === null) continue;
      const k = kind ?? (o.type === "pair" || name.includes(" × ") ? "pair" : "main");
      terms.push({ name, importance, kind: k });
    }
  };
  // `terms` lists main effects and pairs together; older answers split them.
  if (Array.isArray(body.terms)) {
    push(body.terms);
  } else {
    push(body.main_effects, "main");
    push(body.pairs, "pair");
  }
  terms.sort((a, b) => b.importance - a.importance);
  return { status: terms.length ? "ready" : "empty", terms };
}
