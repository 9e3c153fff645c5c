import { KaleidoApiError, KaleidoAuthError, KaleidoUnavailableError } from "./errors.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface PostOptions {
  fetch: FetchLike;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  timeoutMs: number;
  keepalive?: boolean;
  /** Aborts the request from outside (e.g. a shutdown deadline); it then fails as "aborted". */
  signal?: AbortSignal;
  /** The clock a Retry-After date is read against. */
  now?: () => number;
}

/** Thrown by postJson when options.signal aborted the request. */
export class AbortedError extends Error {
  constructor() {
    super("Kaleido request aborted");
    this.name = "AbortedError";
  }
}

/**
 * POST JSON with a deadline. Resolves with the parsed body of a 2xx; throws KaleidoApiError for
 * a 4xx (the caller's fault, never retried) and KaleidoUnavailableError for timeouts, 408, 429,
 * 5xx and network failures (safe to retry or to fall back), with `Retry-After` when it came.
 */
export async function postJson<T>(options: PostOptions): Promise<T> {
  const controller = typeof AbortController === "function" ? new AbortController() : undefined;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let aborted = false;
  let onAbort: (() => void) | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      controller?.abort();
      reject(new KaleidoUnavailableError("timeout"));
    }, options.timeoutMs);
    if (options.signal) {
      onAbort = () => {
        aborted = true;
        controller?.abort();
        reject(new AbortedError());
      };
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    const response = await Promise.race([
      options.fetch(options.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", ...options.headers },
        body: JSON.stringify(options.body),
        signal: controller?.signal,
        keepalive: options.keepalive,
      }),
      deadline,
    ]);
    const body = await Promise.race([readBody(response), deadline]);
    const status = response.status;
    if (status >= 500 || status === 429 || status === 408) {
      const reason = status === 429 ? "rate_limited" : status === 408 ? "timeout" : "server_error";
      const retryAfterMs = parseRetryAfter(response.headers?.get?.("retry-after") ?? null, (options.now ?? Date.now)());
      throw new KaleidoUnavailableError(reason, { status, retryAfterMs });
    }
    if (status === 401 || status === 403) throw new KaleidoAuthError(status, body);
    if (status >= 400) throw new KaleidoApiError(status, body);
    return body as T;
  } catch (error) {
    if (aborted) throw new AbortedError();
    if (error instanceof KaleidoApiError || error instanceof KaleidoUnavailableError) throw error;
    throw new KaleidoUnavailableError(timedOut ? "timeout" : "network_error", { cause: error });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
  }
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || !value.trim()) return undefined;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Full-jitter exponential backoff: a random wait in [0, min(max, base * 2^attempt)]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(random() * ceiling);
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}
