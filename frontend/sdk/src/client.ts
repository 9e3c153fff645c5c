import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from "./circuit.js";
import { KaleidoAuthError, KaleidoUnavailableError } from "./errors.js";
import { FatigueTracker, type FatigueOptions } from "./fatigue.js";
import { type FetchLike, joinUrl, postJson } from "./http.js";
import { type Log, type Logger, type LogLevel, makeLog } from "./log.js";
import {
  EventTracker,
  type CloseOptions,
  type DeliveryFailure,
  type DeliveryReport,
  type FlushResult,
  MAX_EVENTS_PER_REQUEST,
  type RejectedEvent,
  toWireEvent,
} from "./tracker.js";
import { KaleidoValidationError, validateEvent } from "./validate.js";
import type { RankRequest, RankResponse, RankResult, RankedItem, TrackEvent, TrackInput } from "./types.js";

export interface KaleidoClientOptions {
  /** Kaleido's origin (a BFF), or in browsers the path of your BFF's proxy, e.g. "/kaleido". */
  baseUrl: string;
  /**
   * `Api-Key` credential (scopes rank, events). Keep it on servers: in browsers point `baseUrl`
   * at a same-origin proxy that adds the key, which also lets page-hide beacons work.
   */
  apiKey?: string;
  /** Extra headers on every request (e.g. a CSRF token for a same-origin proxy). */
  headers?: Record<string, string>;
  /** Defaults to the global fetch (Node 18+, browsers). */
  fetch?: FetchLike;
  /** Default deadline of one rank() call. Default 800 ms. */
  rankTimeoutMs?: number;
  /** Event batching and retries. */
  batchSize?: number;
  flushIntervalMs?: number;
  /** How long one event batch keeps being retried from its first try. Default 60 000 ms. */
  retryWindowMs?: number;
  /** Retries per batch on top of the window. Default unlimited (the window bounds them). */
  maxRetries?: number;
  /** Backoff: a random wait in [0, min(retryMaxMs, retryBaseMs · 2^attempt)], at least Retry-After. Defaults 250 / 10 000 ms. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  eventsTimeoutMs?: number;
  /** Stop calling a failing server for a while; `false` turns it off. Defaults 5 failures / 10 s. */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * A 401/403 from rank() (bad key, missing scope): "throw" (default) a KaleidoAuthError even when
   * a fallback is given, or "fallback" to answer it (reason "auth_error"). Logged as an error once.
   */
  authErrors?: "throw" | "fallback";
  /** Where the SDK logs (default `console`), and from which level. Default "warn". */
  logger?: Logger;
  logLevel?: LogLevel;
  /** At most this many events wait to be sent (default 10 000); a full queue drops by `overflow`. */
  maxQueue?: number;
  /** "drop-oldest" (default) or "drop-newest"; each dropped event goes to onFailed ("queue_full"). */
  overflow?: "drop-oldest" | "drop-newest";
  /**
   * A track() input the server would reject: "throw" (default) a KaleidoValidationError at once,
   * or "report" it to onRejected (source "client") and the log, and carry on.
   */
  invalidEvents?: "throw" | "report";
  onDelivered?: (report: DeliveryReport) => void;
  /** Each event the server (or, with invalidEvents "report", track()) rejected. Logged when absent. */
  onRejected?: (rejected: RejectedEvent) => void;
  /** Called for every batch that did not arrive (4xx, retries exhausted, close() deadline). */
  onFailed?: (failure: DeliveryFailure) => void;
  /** How long close() waits for queued events by default. Default 10 000 ms. */
  closeTimeoutMs?: number;
  /** Client-side fatigue re-rank; `false` turns it off. */
  fatigue?: FatigueOptions | false;
  /** Browsers: send queued events with navigator.sendBeacon when the page hides. Default true. */
  beaconOnPageHide?: boolean;
  /** For tests: replaces Math.random in backoff jitter and the sleep between retries. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** For tests: the clock of the retry window and the circuit breaker. */
  now?: () => number;
}

export interface RankOptions {
  /** Deadline for this call; overrides the client's rankTimeoutMs. */
  timeoutMs?: number;
  /**
   * Returned (marked with `fallback`) instead of throwing on a timeout, 408, 429, 5xx, network
   * failure or open circuit (and on 401/403 with `authErrors: "fallback"`): usually the BFF's
   * default design, see fallbackFromDesign(). Without one those throw KaleidoUnavailableError.
   */
  fallback?: RankResponse | (() => RankResponse);
}

/** How many re-ranked decisions track() can still mark (impressions normally follow within seconds). */
const MAX_REMEMBERED_RERANKS = 10_000;

/** Beacons are capped near 64 KiB by browsers; stay under it per call. */
const BEACON_MAX_BYTES = 60_000;

/** The Kaleido SDK: rank variants for a user, report what they saw and clicked. */
export class KaleidoClient {
  readonly fatigue: FatigueTracker | undefined;
  private readonly breaker: CircuitBreaker | undefined;
  private readonly log: Log;
  private readonly fetchImpl: FetchLike;
  private readonly tracker: EventTracker;
  private readonly rankUrl: string;
  private readonly eventsUrl: string;
  private readonly removeListeners: (() => void) | undefined;
  private closed = false;
  private readonly authLogged = new Set<number>();
  private storeFailing = false;

  constructor(private readonly options: KaleidoClientOptions) {
    checkBaseUrl(options.baseUrl);
    const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
    const fetchImpl = options.fetch ?? (globalFetch ? globalFetch.bind(globalThis) : undefined);
    if (!fetchImpl) throw new TypeError("KaleidoClient: no fetch in this runtime; pass options.fetch");
    this.fetchImpl = fetchImpl;
    this.rankUrl = joinUrl(options.baseUrl, "/api/v1/rank");
    this.eventsUrl = joinUrl(options.baseUrl, "/api/v1/events");
    this.log = makeLog(options.logger, options.logLevel ?? "warn");
    this.fatigue =
      options.fatigue === false
        ? undefined
        : new FatigueTracker({
            onStoreError: (error, operation) => {
              // Once per outage of the store, not once per call.
              (this.storeFailing ? this.log.debug : this.log.warn)("fatigue store failed", { operation, error: String(error) });
              this.storeFailing = true;
            },
            ...(options.fatigue ?? {}),
          });
    this.breaker =
      options.circuitBreaker === false
        ? undefined
        : new CircuitBreaker(options.circuitBreaker ?? {}, options.now ?? Date.now, (state, failures) => {
            if (state === "open") this.log.warn("circuit open: not calling Kaleido for a while", { failures, cooldownMs: this.breaker?.cooldownMs });
            else this.log.info("circuit closed: Kaleido answers again", {});
          });
    this.tracker = new EventTracker({
      fetch: this.fetchImpl,
      eventsUrl: this.eventsUrl,
      headers: () => this.headers(),
      batchSize: options.batchSize,
      flushIntervalMs: options.flushIntervalMs,
      retryWindowMs: options.retryWindowMs,
      maxRetries: options.maxRetries,
      retryBaseMs: options.retryBaseMs,
      retryMaxMs: options.retryMaxMs,
      requestTimeoutMs: options.eventsTimeoutMs,
      maxQueue: options.maxQueue,
      overflow: options.overflow,
      onDelivered: options.onDelivered,
      onRejected: options.onRejected,
      onFailed: options.onFailed,
      closeTimeoutMs: options.closeTimeoutMs,
      breaker: this.breaker,
      log: this.log,
      random: options.random,
      sleep: options.sleep,
      now: options.now,
    });
    this.removeListeners = options.beaconOnPageHide === false ? undefined : this.listenForPageHide();
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { ...(this.options.headers ?? {}) };
    if (this.options.apiKey) headers.Authorization = `Api-Key ${this.options.apiKey}`;
    return headers;
  }

  /**
   * Rank a placement's variants for a user. Items come back re-ranked against fatigue: a
   * variant this user has seen `maxImpressions` times in the window without clicking moves
   * behind the others (ask for k > 1 to leave room for that).
   */
  async rank(request: RankRequest, options: RankOptions = {}): Promise<RankResult> {
    const timeoutMs = options.timeoutMs ?? this.options.rankTimeoutMs ?? 800;
    try {
      if (this.breaker && this.breaker.openForMs() > 0) throw new KaleidoUnavailableError("circuit_open");
      let response: RankResponse;
      try {
        response = await postJson<RankResponse>({
          fetch: this.fetchImpl,
          url: this.rankUrl,
          headers: this.headers(),
          body: request,
          timeoutMs,
        });
      } catch (error) {
        if (error instanceof KaleidoUnavailableError) this.breaker?.failure();
        else this.breaker?.success();
        throw error;
      }
      this.breaker?.success();
      return await this.withFatigue(request, response);
    } catch (error) {
      if (error instanceof KaleidoAuthError) {
        this.logAuthError(error);
        if (this.options.authErrors === "fallback" && options.fallback !== undefined) {
          return this.answerFallback(request, options.fallback, { reason: "auth_error", status: error.status, error });
        }
        throw error;
      }
      if (error instanceof KaleidoUnavailableError && options.fallback !== undefined) {
        this.log.info("rank answered the fallback", { placement: request.placement, reason: error.reason, status: error.status });
        return this.answerFallback(request, options.fallback, {
          reason: error.reason,
          status: error.status,
          retryAfterMs: error.retryAfterMs,
          error: error.cause ?? error,
        });
      }
      throw error;
    }
  }

  private async answerFallback(
    request: RankRequest,
    fallback: NonNullable<RankOptions["fallback"]>,
    why: NonNullable<RankResult["fallback"]>,
  ): Promise<RankResult> {
    const answer = typeof fallback === "function" ? fallback() : fallback;
    const result = await this.withFatigue(request, answer);
    result.fallback = why;
    return result;
  }

  /** A bad key is a deployment mistake: say so loudly, once per status, not once per request. */
  private logAuthError(error: KaleidoAuthError): void {
    if (this.authLogged.has(error.status)) return;
    this.authLogged.add(error.status);
    this.log.error(`Kaleido refused the API key (${error.status}): check apiKey and its scopes (rank, events)`, {
      status: error.status,
      detail: (error.body as { detail?: unknown } | null)?.detail,
    });
  }

  private async withFatigue(request: RankRequest, response: RankResponse): Promise<RankResult> {
    const served = response.items ?? [];
    let items = served.map((item) => ({ ...item, server_rank: item.rank, fatigued: false }));
    let skipped: RankResult["fatigueSkipped"];
    if (this.fatigue && this.fatigue.buckets.has(response.bucket)) {
      const outcome = await this.fatigue.rerankAsync(request.user.id, response.placement ?? request.placement, served);
      items = outcome.items;
      skipped = outcome.skipped;
      if (!skipped) this.storeFailing = false;
      if (skipped) this.log.info("fatigue re-rank skipped: the store did not answer", { reason: skipped, placement: request.placement });
    }
    const reranked = items.some((item) => item.rank !== item.server_rank);
    if (reranked && response.decision_id) this.rememberRerank(response.decision_id, items);
    const result: RankResult = { ...response, items, reranked };
    if (skipped) result.fatigueSkipped = skipped;
    return result;
  }

  /**
   * Server positions of re-ranked decisions, so their impressions can say so (bounded, oldest out): the
   * server pairs each logged propensity with the slot its policy chose, and `position` with the slot shown.
   */
  private readonly reranks = new Map<string, Map<number, number>>();

  private rememberRerank(decisionId: string, items: RankedItem[]): void {
    this.reranks.set(decisionId, new Map(items.map((item) => [item.variant_id, item.server_rank])));
    if (this.reranks.size > MAX_REMEMBERED_RERANKS) {
      const oldest = this.reranks.keys().next().value;
      if (oldest !== undefined) this.reranks.delete(oldest);
    }
  }

  /**
   * Queue an impression, click or conversion. Returns the event's id (generated when missing).
   * Impressions and clicks also feed the fatigue memory.
   */
  track(input: TrackInput): string {
    if (this.closed) throw new Error("KaleidoClient: track() after close()");
    if (input === null || typeof input !== "object") throw new KaleidoValidationError("event", "track() takes an event object");
    const now = this.options.now ?? Date.now;
    const event = toWireEvent(input, now);
    try {
      validateEvent(event, now());
    } catch (error) {
      if (!(error instanceof KaleidoValidationError) || this.options.invalidEvents !== "report") throw error;
      this.tracker.reportRejected([{ event, error: error.message, source: "client" }]);
      return event.event_id;
    }
    if (event.type === "impression" && event.decision_id) {
      const serverPosition = this.reranks.get(event.decision_id)?.get(event.variant_id);
      if (serverPosition !== undefined) {
        // The fatigue re-rank is deterministic given the fatigue memory: this order had probability 1.
        event.rerank = "fatigue";
        event.server_position = serverPosition;
        event.rerank_probability = 1;
      }
    }
    this.onTracked(event);
    if (this.fatigue) {
      if (event.type === "impression") this.fatigue.recordImpression(event.user_id, event.placement, event.variant_id);
      if (event.type === "click") this.fatigue.recordClick(event.user_id, event.placement, event.variant_id);
    }
    this.tracker.enqueue(event);
    return event.event_id;
  }

  /** A hook for subclasses (the mock client records here). */
  protected onTracked(_event: TrackEvent): void {
    // nothing by default
  }

  /** The circuit breaker's state ("closed" when it is turned off), e.g. for a health metric. */
  get circuit(): CircuitState {
    return this.breaker?.state ?? "closed";
  }

  /** Events dropped from a full queue since the client started. */
  get dropped(): number {
    return this.tracker.dropped;
  }

  /** Events queued and not yet sent. */
  get queued(): number {
    return this.tracker.queued;
  }

  /** Send everything queued now. */
  flush(): Promise<FlushResult> {
    return this.tracker.flush();
  }

  /**
   * Deliver what is queued and stop: call (and await) on BFF shutdown. Keeps the Node process
   * alive until it settles, waits at most `timeoutMs` (default closeTimeoutMs, 10 s), and resolves
   * with `{delivered, undelivered, …}`; every undelivered event also went to onFailed.
   */
  async close(options: CloseOptions = {}): Promise<FlushResult> {
    this.closed = true;
    this.removeListeners?.();
    return this.tracker.close(options);
  }

  /** Send queued events in the background now, e.g. just before navigating away. */
  beacon(): boolean {
    const events = this.tracker.drain();
    if (events.length === 0) return true;
    const nav = (globalThis as { navigator?: Navigator }).navigator;
    // sendBeacon cannot carry an Authorization header: only for a keyless same-origin proxy.
    const canBeacon = !this.options.apiKey && !this.options.headers && typeof nav?.sendBeacon === "function";
    let allSent = true;
    for (const chunk of chunkBySize(events, BEACON_MAX_BYTES)) {
      const payload = JSON.stringify({ events: chunk });
      let sent = false;
      if (canBeacon) {
        try {
          sent = nav!.sendBeacon(this.eventsUrl, new Blob([payload], { type: "application/json" }));
        } catch {
          sent = false;
        }
      }
      if (!sent) {
        // keepalive fetch survives the page going away and can carry headers.
        this.fetchImpl(this.eventsUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", ...this.headers() },
          body: payload,
          keepalive: true,
        }).catch(() => undefined);
        sent = true;
      }
      allSent = allSent && sent;
    }
    return allSent;
  }

  private listenForPageHide(): (() => void) | undefined {
    const doc = (globalThis as { document?: Document }).document;
    const win = (globalThis as { window?: Window }).window;
    if (!doc || !win || typeof win.addEventListener !== "function") return undefined;
    const onVisibility = () => {
      if (doc.visibilityState === "hidden") this.beacon();
    };
    const onPageHide = () => this.beacon();
    doc.addEventListener("visibilitychange", onVisibility);
    win.addEventListener("pagehide", onPageHide);
    return () => {
      doc.removeEventListener("visibilitychange", onVisibility);
      win.removeEventListener("pagehide", onPageHide);
    };
  }
}

/**
 * An absolute http(s) URL, or in a browser a same-origin path ("/kaleido"). Anything else would
 * fail every call and quietly serve the fallback forever, so it fails here instead.
 */
function checkBaseUrl(baseUrl: unknown): void {
  if (typeof baseUrl !== "string" || !baseUrl.trim()) throw new TypeError("KaleidoClient: baseUrl is required");
  const g = globalThis as { location?: unknown; window?: unknown };
  const inBrowser = g.location !== undefined || g.window !== undefined;
  if (baseUrl.startsWith("/") && !baseUrl.startsWith("//")) {
    if (inBrowser) return;
    throw new TypeError(`KaleidoClient: baseUrl "${baseUrl}" is a path; outside a browser it must be an absolute http(s) URL`);
  }
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`KaleidoClient: baseUrl "${baseUrl}" is not a URL (expected e.g. https://kaleido.internal)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`KaleidoClient: baseUrl "${baseUrl}" must be http(s)`);
  }
  if (url.search || url.hash) throw new TypeError(`KaleidoClient: baseUrl "${baseUrl}" must not carry a query or fragment`);
}

function chunkBySize(events: TrackEvent[], maxBytes: number): TrackEvent[][] {
  const chunks: TrackEvent[][] = [];
  let current: TrackEvent[] = [];
  let size = 12;
  for (const event of events) {
    const eventSize = JSON.stringify(event).length + 1;
    if (current.length > 0 && (size + eventSize > maxBytes || current.length >= MAX_EVENTS_PER_REQUEST)) {
      chunks.push(current);
      current = [];
      size = 12;
    }
    current.push(event);
    size += eventSize;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
