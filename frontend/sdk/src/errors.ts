/** An HTTP answer the caller must act on (4xx other than 408/429): the request itself was wrong. */
export class KaleidoApiError extends Error {
  readonly status: number;
  /** The answer's body: Kaleido's error shape, an `ErrorAnswer` ({detail, errors?}), when it sent JSON. */
  readonly body: unknown;

  constructor(status: number, body: unknown, message?: string) {
    super(message ?? `Kaleido API answered ${status}${describe(body)}`);
    this.name = "KaleidoApiError";
    this.status = status;
    this.body = body;
  }
}

/**
 * A 401 (no or unknown API key) or 403 (the key lacks the scope): a configuration error, not an
 * outage. rank() throws it even with a fallback unless `authErrors: "fallback"`; logged once.
 */
export class KaleidoAuthError extends KaleidoApiError {
  constructor(status: number, body: unknown) {
    super(status, body);
    this.name = "KaleidoAuthError";
  }
}

/**
 * Why Kaleido could not answer: `timeout` (no answer by the deadline, or a 408), `server_error`
 * (5xx), `network_error`, `rate_limited` (429), `circuit_open` (skipped: the circuit breaker is
 * open after repeated failures).
 */
export type UnavailableReason = "timeout" | "server_error" | "network_error" | "rate_limited" | "circuit_open";

/** The server could not be reached in time, failed, or asked to be called later. Safe to retry or fall back. */
export class KaleidoUnavailableError extends Error {
  readonly reason: UnavailableReason;
  readonly status: number | undefined;
  /** From a `Retry-After` header (429, 503): how long the server asked the client to wait. */
  readonly retryAfterMs: number | undefined;
  readonly cause: unknown;

  constructor(reason: UnavailableReason, options: { status?: number; cause?: unknown; retryAfterMs?: number } = {}) {
    super(`Kaleido unavailable: ${reason}${options.status ? ` (${options.status})` : ""}`);
    this.name = "KaleidoUnavailableError";
    this.reason = reason;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.cause = options.cause;
  }
}

function describe(body: unknown): string {
  if (body && typeof body === "object" && "detail" in body) {
    return `: ${String((body as { detail: unknown }).detail)}`;
  }
  return "";
}
