/**
 * Shapes of the public contract (shared/API.md). What goes over the wire is generated from the server's
 * OpenAPI schema (generated/api.ts, `npm run generate:api --workspace dashboard`), so the SDK and the
 * server cannot drift: a serializer change that breaks these types fails the SDK's build.
 */
import type { components } from "./generated/api.js";

type Wire = components["schemas"];
type WireRankAnswer = Wire["RankApiOutput"];
type WireEvent = Wire["Event"];

/** A user feature or context value: nothing nested. */
export type FeatureValue = string | number | boolean;

export type RankUser = Wire["RankApiInputUser"];

/** The body of POST /api/v1/rank; `k` defaults to 1, `features` and `context` are open maps. */
export type RankRequest = Wire["RankApiInput"];

export type Bucket = Wire["BucketEnum"];

/** Tags of a variant: tag group -> values, e.g. {button_color: ["red"]}. */
export type Tags = Wire["RankApiOutputItem"]["tags"];

/** How to draw a variant natively; every field is optional so older servers stay compatible. */
export type RenderSpec = Wire["RankApiOutputItem"]["render"];

export type RenderColors = NonNullable<RenderSpec["colors"]>;

export type RankItem = Wire["RankApiOutputItem"];

/**
 * The answer of POST /api/v1/rank. The server always sends a `model_version` string ("" when no model
 * served); `null` is allowed for fallback answers built by the caller (fallbackFromDesign()).
 */
export interface RankResponse extends Omit<WireRankAnswer, "model_version"> {
  model_version: string | null;
}

/** The one shape of every error answer: `detail`, and on a 400 each offending field in `errors`. */
export type ErrorAnswer = Wire["ErrorAnswer"];

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
   * decision then carry `rerank: "fatigue"`, `server_position` and `rerank_probability` (see TrackEvent).
   */
  reranked: boolean;
  /** Set when the fatigue store did not answer within storeTimeoutMs ("timeout") or failed ("error"): served as ranked. */
  fatigueSkipped?: "timeout" | "error";
  /** Present when the caller's fallback was returned instead of the server's answer. */
  fallback?: { reason: FallbackReason; status?: number; retryAfterMs?: number; error?: unknown };
}

export type EventType = Wire["EventTypeEnum"];

/** What a caller passes to `track()`; `event_id` and `ts` are filled in when missing. */
export interface TrackInput {
  type: EventType;
  variant_id: number;
  user_id: string;
  placement: string;
  /**
   * Required: the `decision_id` rank() answered for what was shown. A fallback answer has none, and
   * Kaleido records no event without one, so track() refuses it (see "Tracking fallback impressions").
   */
  decision_id: string;
  position?: number;
  ts?: string | Date;
  event_id?: string;
}

/**
 * One event exactly as it goes over the wire. `rerank`, `server_position` and `rerank_probability` are set
 * by the SDK on impressions of a decision its fatigue re-rank reordered (what was shown is not the order the
 * server logged): `position` is the slot shown, `server_position` the one the server's policy chose, and the
 * server stores them so training, off-policy evaluation and attribution pair each logged propensity with
 * the slot it was logged for.
 */
export interface TrackEvent extends WireEvent {
  /** Always set by the SDK (the server's default is 1). */
  position: number;
}

/** The answer of POST /api/v1/events. */
export type EventsResponse = Wire["EventsApiOutput"];

// Compile-time checks where the SDK's types differ from the generated ones on purpose: the build fails
// when the server's schema moves away from them.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
/** Every rank answer the server sends is a RankResponse, and a RankResponse names nothing else. */
type _RankAnswerChecks = [
  Assert<Wire["RankApiOutput"] extends RankResponse ? true : false>,
  Assert<Equal<keyof RankResponse, keyof Wire["RankApiOutput"]>>,
  Assert<Equal<FeatureValue, NonNullable<RankUser["features"]>[string]>>,
  Assert<Equal<FeatureValue, NonNullable<RankRequest["context"]>[string]>>,
];
/** Every event the SDK sends fits the server's event, and names nothing the server does not know. */
type _EventChecks = [
  Assert<TrackEvent extends Wire["Event"] ? true : false>,
  Assert<Equal<keyof TrackEvent, keyof Wire["Event"]>>,
  Assert<TrackInput["decision_id"] extends Wire["Event"]["decision_id"] ? true : false>,
];
