/** An HTTP answer the caller must act on (4xx): the request itself was wrong. */
export class KaleidoApiError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, body: unknown, message?: string) {
    super(message ?? `Kaleido API answered ${status}${describe(body)}`);
    this.name = "KaleidoApiError";
    this.status = status;
    this.body = body;
  }
}

/** The server could not be reached in time, or failed (5xx / network). */
export class KaleidoUnavailableError extends Error {
  readonly reason: "timeout" | "server_error" | "network_error";
  readonly status: number | undefined;
  readonly cause: unknown;

  constructor(reason: "timeout" | "server_error" | "network_error", options: { status?: number; cause?: unknown } = {}) {
    super(`Kaleido unavailable: ${reason}${options.status ? ` (${options.status})` : ""}`);
    this.name = "KaleidoUnavailableError";
    this.reason = reason;
    this.status = options.status;
    this.cause = options.cause;
  }
}

function describe(body: unknown): string {
  if (body && typeof body === "object" && "detail" in body) {
    return `: ${String((body as { detail: unknown }).detail)}`;
  }
  return "";
}
