/** Shapes of the public contract (shared/API.md). Field names match the wire format. */

export type FeatureValue = string | number | boolean;

export interface RankUser {
  id: string;
  /** Open map of user features, e.g. {age: 34, gender: "f", has_credit_card: true}. */
  features?: Record<string, FeatureValue>;
}

export interface RankRequest {
  placement: string;
  user: RankUser;
  /** How many ranked candidates to return; the server defaults to 1. */
  k?: number;
  context?: Record<string, FeatureValue>;
}

export type Bucket = "control" | "random" | "model";

/** Tags of a variant: tag group -> values, e.g. {button_color: ["red"]}. */
export type Tags = Record<string, string[]>;

export interface RenderColors {
  button?: string;
  button_text?: string;
  background?: string;
  text?: string;
  [name: string]: string | undefined;
}

/** How to draw a variant natively; every field is optional so older servers stay compatible. */
export interface RenderSpec {
  layout?: string;
  headline?: string;
  subline?: string;
  cta?: string;
  colors?: RenderColors;
  font_scale?: number;
  language?: string;
  image_url?: string;
  text_position?: string;
  [extra: string]: unknown;
}

export interface RankItem {
  variant_id: number;
  variant_key: string;
  rank: number;
  score: number | null;
  propensity: number;
  tags: Tags;
  image_url: string;
  render: RenderSpec;
}

export interface RankResponse {
  decision_id: string;
  placement: string;
  bucket: Bucket;
  experiment: string | null;
  model_version: string | null;
  items: RankItem[];
}

/** An item after the client-side fatigue re-rank. */
export interface RankedItem extends RankItem {
  /** The rank the server gave; `rank` is the position after the fatigue re-rank. */
  server_rank: number;
  /** True when the user has seen this variant too often without clicking, so it moved down. */
  fatigued: boolean;
}

/** Why rank() answered the fallback (see KaleidoUnavailableError for each). */
export type FallbackReason =
  | "timeout"
  | "server_error"
  | "network_error"
  | "rate_limited"
  | "circuit_open"
  /** A 401/403, with `authErrors: "fallback"`. */
  | "auth_error";

export interface RankResult extends Omit<RankResponse, "items"> {
  items: RankedItem[];
  /**
   * True when the fatigue re-rank changed the server's order. Impressions tracked for this
   * decision then carry `rerank: "fatigue"` and `server_position` (see TrackEvent).
   */
  reranked: boolean;
  /** Set when the fatigue store did not answer within storeTimeoutMs ("timeout") or failed ("error"): served as ranked. */
  fatigueSkipped?: "timeout" | "error";
  /** Present when the caller's fallback was returned instead of the server's answer. */
  fallback?: { reason: FallbackReason; status?: number; retryAfterMs?: number; error?: unknown };
}

export type EventType = "impression" | "click" | "conversion";

/** What a caller passes to `track()`; `event_id` and `ts` are filled in when missing. */
export interface TrackInput {
  type: EventType;
  variant_id: number;
  user_id: string;
  placement: string;
  decision_id?: string | null;
  position?: number;
  ts?: string | Date;
  event_id?: string;
}

/** One event exactly as it goes over the wire. */
export interface TrackEvent {
  event_id: string;
  type: EventType;
  decision_id?: string | null;
  variant_id: number;
  user_id: string;
  placement: string;
  position: number;
  ts: string;
  /**
   * Set by the SDK on impressions of a decision its fatigue re-rank reordered: what was shown is
   * not the order the server logged. The server stores events without reading these today.
   */
  rerank?: "fatigue";
  /** With `rerank`: the position the server gave this variant (`position` is where it was shown). */
  server_position?: number;
}

export interface EventsResponse {
  accepted: number;
  duplicates: number;
  rejected: { index: number; error: string }[];
}
