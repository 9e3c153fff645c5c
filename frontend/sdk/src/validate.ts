import type { TrackEvent } from "./types.js";

/** A track() input the server would reject; thrown at once (or reported, see `invalidEvents`). */
export class KaleidoValidationError extends TypeError {
  /** The offending field, e.g. "position". */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = "KaleidoValidationError";
    this.field = field;
  }
}

const TYPES = new Set(["impression", "click", "conversion"]);
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** An ISO-8601 time that names its zone (Z or ±hh:mm), as the server requires. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;
/** Why an event without a decision is refused (the server rejects it too). */
export const NO_DECISION =
  "required, the decision_id rank() answered for what was shown. A fallback answer has no decision, and " +
  "Kaleido does not record events without one: track fallback impressions in your own analytics";

function requireString(event: Record<string, unknown>, field: string, maxLength: number): void {
  const value = event[field];
  if (typeof value !== "string" || !value.trim()) throw new KaleidoValidationError(field, "required, a non-empty string");
  if (value.length > maxLength) throw new KaleidoValidationError(field, `at most ${maxLength} characters`);
}

/**
 * Check a wire event against the server's rules (shared/API.md, analytics/ingestion.py) so a bad
 * event fails in the caller's stack instead of coming back in `rejected` later. The server also
 * checks what only it knows (placement exists, decision showed the variant, retention window).
 */
export function validateEvent(event: TrackEvent, now: number = Date.now()): void {
  const raw = event as unknown as Record<string, unknown>;
  requireString(raw, "event_id", 64);
  if (!TYPES.has(raw.type as string)) throw new KaleidoValidationError("type", "must be one of click, conversion, impression");
  const decision = raw.decision_id;
  if (decision === undefined || decision === null || decision === "") {
    throw new KaleidoValidationError("decision_id", NO_DECISION);
  }
  if (typeof decision !== "string" || !UUID.test(decision)) {
    throw new KaleidoValidationError("decision_id", "not a valid UUID: pass the decision_id rank() answered");
  }
  const variant = raw.variant_id;
  if (typeof variant !== "number" || !Number.isSafeInteger(variant) || variant <= 0) {
    throw new KaleidoValidationError("variant_id", "required, a positive integer");
  }
  requireString(raw, "user_id", 128);
  requireString(raw, "placement", 80);
  const position = raw.position;
  if (typeof position !== "number" || !Number.isInteger(position) || position < 1 || position > 1000) {
    throw new KaleidoValidationError("position", "an integer from 1 to 1000");
  }
  const ts = raw.ts;
  const at = typeof ts === "string" && ISO_WITH_ZONE.test(ts) ? Date.parse(ts) : NaN;
  if (Number.isNaN(at)) throw new KaleidoValidationError("ts", "required, an ISO-8601 time with a zone, e.g. 2026-11-21T10:00:00Z");
  if (at > now + MAX_FUTURE_MS) throw new KaleidoValidationError("ts", "more than a day in the future; check the clock");
}
