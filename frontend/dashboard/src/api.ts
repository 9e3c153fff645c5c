/**
 * Calls to Kaleido's report APIs (shared/API.md) and the dashboard's own read endpoints, with the
 * staff session cookie. What each endpoint answers is typed by `generated/api.ts`, generated from the
 * server's OpenAPI schema (`npm run generate:api`); the pages read a few of the report answers through
 * the smaller view shapes below.
 */
import type { DashboardConfig } from "./config";
import type { components } from "./generated/api";
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
  if (body && typeof body === "object" && "detail" in body) {
    const { detail, errors } = body as { detail: unknown; errors?: Record<string, unknown> };
    // The field messages say why (e.g. the activation gate's reasons), not only that the request was refused.
    const reasons = errors && typeof errors === "object"
      ? Object.values(errors).flat().map((m) => String(m)).join(" ")
      : "";
    return `${status} ${String(detail)}${reasons ? ` ${reasons}` : ""}`;
  }
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
    const r = await this.report<ExperimentReportAnswer>(`experiments/${encodeURIComponent(slug)}/report`, { segments: "false" });
    return normalizeReport(r.body);
  }

  async experimentDaily(slug: string): Promise<DailyRow[]> {
    const r = await this.own<ExperimentDaily>(`experiments/${encodeURIComponent(slug)}/daily`);
    return r.body.days;
  }

  async attribution(placement: string, segment: string, tagGroup: string): Promise<Attribution> {
    const r = await this.report<AttributionAnswer>(`placements/${encodeURIComponent(placement)}/attribution`, {
      segment,
      tag_group: tagGroup,
    });
    return normalizeAttribution(r.body);
  }

  async identifiability(placement: string): Promise<Identifiability> {
    const r = await this.report<Identifiability>(`placements/${encodeURIComponent(placement)}/identifiability`);
    return r.body;
  }

  async explain(placement: string): Promise<Explanation> {
    const r = await this.report<ExplanationAnswer>(`placements/${encodeURIComponent(placement)}/explain`);
    return normalizeExplanation(r.body, r.status);
  }

  variants(params: { placement: string; status?: string; tag?: string; q?: string }) {
    return this.own<Gallery>("variants", params as Record<string, string>).then((r) => r.body);
  }

  async models(placement: string): Promise<ModelList> {
    const r = await this.own<ModelListAnswer>("models", { placement });
    return normalizeModels(r.body);
  }

  activate(version: string) {
    return this.request<ModelState>(`${this.config.dashboardApi}models/${encodeURIComponent(version)}/activate`, { method: "POST" });
  }

  rollback(placement: string) {
    return this.request<ModelState>(`${this.config.dashboardApi}models/rollback`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ placement }),
    });
  }
}

// --- answers, as the schema declares them ------------------------------------------------------

type Schemas = components["schemas"];

export type Meta = Schemas["DashboardMeta"];
export type ExperimentReportAnswer = Schemas["ExperimentReport"];
export type BucketReport = Schemas["BucketReport"];
export type ExperimentDaily = Schemas["ExperimentDaily"];
export type DailyRow = Schemas["DailyRow"];
export type AttributionAnswer = Schemas["Attribution"];
export type Identifiability = Schemas["Identifiability"];
export type ExplanationAnswer = Schemas["Explanation"];
export type Gallery = Schemas["VariantGallery"];
export type GalleryVariant = Schemas["GalleryVariant"];
export type CalibrationPoint = Schemas["CalibrationPoint"];
export type ModelListAnswer = Schemas["ModelList"];
export type ModelState = Schemas["ModelState"];

// --- what the pages read -----------------------------------------------------------------------

export interface BucketRow {
  bucket: string;
  users: number;
  impressions: number;
  clicks: number;
  ctr: number | null;
  ctr_ci: [number, number] | null;
  /** Relative lift against control. */
  lift: number | null;
  lift_ci: [number, number] | null;
  p_value: number | null;
  share: number | null;
}

export interface ExperimentReport {
  experiment: string;
  placement: string;
  /** Control first, then random, then model, then any other bucket. */
  buckets: BucketRow[];
  srm_p_value: number | null;
  srm_warning: boolean;
  raw: ExperimentReportAnswer;
}

export interface AttributionCell {
  segment: string;
  tag: string;
  impressions: number;
  clicks: number;
  ctr: number | null;
  /** Marginal: CTR(tag, segment) / CTR(segment); carries the tag's effect on everyone. */
  normalized_preference: number | null;
  /** How much more the segment favours the tag over its group's other values than everyone else does (what findings are made of). */
  relative_preference: number | null;
  /** group=value tags always shown with this one. */
  aliased_with: string[];
  /** False when the cell has fewer impressions than the API's min_support. */
  supported: boolean;
}

export interface Finding {
  segment: string;
  tag: string;
  /** Relative preference: the segment against everyone else. */
  ratio: number;
  ratio_ci: [number, number] | null;
  q_value: number;
  /** The CTR of the finding's cell. */
  ctr: number | null;
  impressions: number;
  text: string;
  /** The finding as an analyst would repeat it (English). */
  sentence: string | null;
  /** "group = value" of each tag; more than one when the tags are always shown together. */
  tags: string[];
}

export interface Attribution {
  segment: string;
  tag_group: string;
  cells: AttributionCell[];
  findings: Finding[];
  min_support: number;
  weighting: AttributionAnswer["weighting"];
  /** Sets of group=value tags that are always shown together in this grid's group. */
  aliases: string[][];
  notes: string[];
}

export interface Term {
  /** Features joined by " × " for a pair. */
  name: string;
  importance: number;
  kind: "main" | "pair";
}

export interface Explanation {
  status: "ready" | "pending" | "empty";
  terms: Term[];
}

export type ModelRow = Omit<Schemas["ModelRow"], "holdout_calibration"> & {
  /** The registry's curve on the training holdout (`params["calibration"]`); empty when not stored. */
  holdout_calibration: CalibrationPoint[];
};

export interface ModelList {
  versions: ModelRow[];
  can_manage: boolean;
}

// --- from answers to what the pages read ---------------------------------------------------------

/** `[low, high]` when both ends are known. */
function interval(pair: (number | null)[] | undefined): [number, number] | null {
  const [low, high] = pair ?? [];
  return isNum(low) && isNum(high) ? [low, high] : null;
}

function bucketRow(name: string, b: BucketReport): BucketRow {
  return {
    bucket: name,
    users: b.users,
    impressions: b.impressions,
    clicks: b.clicks,
    ctr: b.ctr,
    ctr_ci: interval(b.ctr_ci),
    lift: b.lift_vs_control?.relative ?? null,
    lift_ci: interval(b.lift_vs_control?.relative_ci),
    p_value: b.p_value,
    share: b.share,
  };
}

const BUCKET_ORDER = ["control", "random", "model"];

export function normalizeReport(raw: ExperimentReportAnswer): ExperimentReport {
  const buckets = Object.entries(raw.buckets).map(([name, b]) => bucketRow(name, b));
  buckets.sort((a, b) => rank(a.bucket) - rank(b.bucket));
  return {
    experiment: raw.experiment,
    placement: raw.placement,
    buckets,
    srm_p_value: raw.srm_p_value,
    srm_warning: raw.srm_flag,
    raw,
  };
}

function rank(bucket: string): number {
  const i = BUCKET_ORDER.indexOf(bucket);
  return i === -1 ? BUCKET_ORDER.length : i;
}

export function normalizeAttribution(raw: AttributionAnswer): Attribution {
  const cells: AttributionCell[] = raw.cells.map((c) => ({
    segment: c.segment_value,
    tag: c.tag_value,
    impressions: c.impressions,
    clicks: c.clicks,
    ctr: c.ctr,
    normalized_preference: c.normalized_preference,
    relative_preference: c.relative_preference ?? null,
    aliased_with: c.aliased_with ?? [],
    supported: c.supported,
  }));
  const findings = raw.findings.map((f): Finding => ({
    segment: f.segment_value,
    tag: f.tag_value,
    ratio: f.relative_preference ?? f.normalized_preference ?? 1,
    ratio_ci: interval(f.relative_preference_ci ?? f.normalized_preference_ci),
    q_value: f.q_value,
    ctr: cells.find((c) => c.segment === f.segment_value && c.tag === f.tag_value)?.ctr ?? null,
    impressions: f.impressions,
    text: f.text,
    sentence: f.sentence ?? null,
    tags: (f.tags ?? [{ group: f.tag_group, value: f.tag_value }]).map((t) => `${t.group} = ${t.value}`),
  }));
  return {
    segment: raw.segment, tag_group: raw.tag_group, cells, findings, min_support: raw.min_support, weighting: raw.weighting,
    aliases: raw.aliases ?? [], notes: raw.notes ?? [],
  };
}

export function normalizeModels(raw: ModelListAnswer): ModelList {
  const versions = raw.versions.map((v) => ({ ...v, holdout_calibration: v.holdout_calibration ?? [] }));
  return { versions, can_manage: raw.can_manage };
}

/** Pending while the EBM is being fitted (202); terms by importance once it is ready. */
export function normalizeExplanation(raw: ExplanationAnswer, status: number): Explanation {
  if (status === 202 || raw.status === "pending") return { status: "pending", terms: [] };
  const terms: Term[] = (raw.terms ?? []).map((term) => ({
    name: term.features.length ? term.features.join(" × ") : term.name,
    importance: term.importance,
    kind: term.type,
  }));
  terms.sort((a, b) => b.importance - a.importance);
  return { status: terms.length ? "ready" : "empty", terms };
}
