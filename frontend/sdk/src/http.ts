import { KaleidoApiError, KaleidoUnavailableError } from "./errors.js";

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
 * a 4xx (the caller's fault, never retried) and KaleidoUnavailableError for timeouts, 5xx and
 * network failures (safe to retry or to fall back).
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
    if (response.status >= 500) {
      throw new KaleidoUnavailableError("server_error", { status: response.status });
    }
    if (response.status >= 400) {
      throw new KaleidoApiError(response.status, body);
    }
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

/** Full-jitter exponential backoff: a random wait in [0, min(max, base * 2^attempt)]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(random() * ceiling);
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}
