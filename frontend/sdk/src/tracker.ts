import type { CircuitBreaker } from "./circuit.js";
import { KaleidoApiError, KaleidoAuthError, KaleidoUnavailableError } from "./errors.js";
import { type Log, makeLog } from "./log.js";
import { AbortedError, backoffDelay, type FetchLike, postJson } from "./http.js";
import { newEventId } from "./ids.js";
import type { EventsResponse, TrackEvent, TrackInput } from "./types.js";

/** The server's limit on events per request (shared/API.md). */
export const MAX_EVENTS_PER_REQUEST = 1000;

export interface RejectedEvent {
  event: TrackEvent;
  error: string;
  /** "server": listed in the answer's `rejected`; "client": track() refused it (invalidEvents: "report"). */
  source: "server" | "client";
}

/** What happened to one delivered batch. */
export interface DeliveryReport {
  events: TrackEvent[];
  accepted: number;
  duplicates: number;
  rejected: RejectedEvent[];
  attempts: number;
}

/** A batch that did not reach the server; nothing is dropped without one of these. */
export interface DeliveryFailure {
  events: TrackEvent[];
  /**
   * client_error: a 4xx (fix the request); retries_exhausted: timeouts/408/429/5xx/network past
   * retryWindowMs (or maxRetries);
   * shutdown_timeout: close()'s deadline passed first (a request cut off then may still have been
   * stored: resending the same events is safe, the server counts each event_id once);
   * queue_full: dropped because maxQueue events were already waiting (see `overflow`).
   */
  reason: "client_error" | "retries_exhausted" | "shutdown_timeout" | "queue_full";
  status?: number;
  body?: unknown;
  error?: unknown;
  /** The last `Retry-After` the server sent for this batch, if any. */
  retryAfterMs?: number;
  attempts: number;
}

export interface FlushResult {
  /** Events the server acknowledged: accepted + duplicates. */
  delivered: number;
  accepted: number;
  duplicates: number;
  rejected: RejectedEvent[];
  failed: DeliveryFailure[];
  /** Every event of `failed`, in order: what did not reach the server (each also went to onFailed). */
  undelivered: TrackEvent[];
  /** Events dropped from a full queue (exact count; their list is `failed`'s "queue_full" entry). */
  dropped: number;
}

export interface CloseOptions {
  /**
   * Deadline for delivering what is queued. When it passes, the request in flight is cut off,
   * retries stop, and everything not delivered is reported (onFailed, `undelivered`).
   * Default: the client's closeTimeoutMs (10 s). `Infinity` waits for the retries to run out.
   */
  timeoutMs?: number;
}

export interface TrackerOptions {
  fetch: FetchLike;
  eventsUrl: string;
  headers: () => Record<string, string>;
  /** Send when this many events are queued. Default 50, at most 1000. */
  batchSize?: number;
  /** Send whatever is queued this long after the first queued event. Default 2000 ms. */
  flushIntervalMs?: number;
  /**
   * How long one batch keeps being retried (timeouts, 408, 429, 5xx, network errors), from its
   * first try. Default 60 000 ms. Events queued meanwhile wait in the queue.
   */
  retryWindowMs?: number;
  /** Retries per batch after the first try, on top of the window. Default unlimited. */
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
  /**
   * At most this many events wait in the queue (the batch in flight aside). Default 10 000.
   * A full queue drops by `overflow`, and reports each dropped event (onFailed, "queue_full").
   */
  maxQueue?: number;
  /** Which event a full queue drops: the oldest queued one (default) or the new one. */
  overflow?: "drop-oldest" | "drop-newest";
  onDelivered?: (report: DeliveryReport) => void;
  onFailed?: (failure: DeliveryFailure) => void;
  /** Each event the server rejected (also in onDelivered's report and flush()'s `rejected`). */
  onRejected?: (rejected: RejectedEvent) => void;
  /** close()'s default deadline. Default 10 000 ms. */
  closeTimeoutMs?: number;
  /** Shared with rank(): while it is open no request is sent (delivery waits instead). */
  breaker?: CircuitBreaker;
  log?: Log;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const realSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    unrefTimer(timer);
  });

function unrefTimer(timer: unknown): void {
  // In Node an idle batch timer must not keep a BFF process alive; browsers have no unref.
  if (timer && typeof (timer as { unref?: () => void }).unref === "function") {
    (timer as { unref: () => void }).unref();
  }
}

export function toWireEvent(input: TrackInput, now: () => number = Date.now): TrackEvent {
  const ts =
    input.ts instanceof Date
      ? Number.isNaN(input.ts.getTime())
        ? "Invalid Date"
        : input.ts.toISOString()
      : (input.ts ?? new Date(now()).toISOString());
  // decision_id as given: validateEvent() refuses a missing or empty one (a fallback answer's "").
  return {
    event_id: input.event_id ?? newEventId(),
    type: input.type,
    decision_id: input.decision_id,
    variant_id: input.variant_id,
    user_id: input.user_id,
    placement: input.placement,
    position: input.position ?? 1,
    ts,
  };
}

/**
 * Queues events and sends them in batches. One batch is in flight at a time, so the order of
 * batches is kept and a retrying batch is never overtaken. Retrying is safe because the server
 * stores each event_id once.
 */
export class EventTracker {
  private queue: TrackEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private pending: FlushResult = emptyResult();
  /** Dropped events since the last result, kept up to maxQueue. */
  private droppedEvents: TrackEvent[] = [];
  private readonly batchSize: number;
  private readonly maxQueue: number;
  private readonly overflow: "drop-oldest" | "drop-newest";
  private droppedTotal = 0;
  private dropping = false;
  private readonly flushIntervalMs: number;
  private readonly maxRetries: number;
  private readonly retryWindowMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly requestTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly log: Log;
  /** Set by close()'s deadline: cuts off the request in flight and wakes a retry wait. */
  private abort: AbortController | undefined;
  private stopping = false;

  constructor(private readonly options: TrackerOptions) {
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? 50, MAX_EVENTS_PER_REQUEST));
    this.flushIntervalMs = options.flushIntervalMs ?? 2000;
    this.maxQueue = Math.max(1, options.maxQueue ?? 10_000);
    this.overflow = options.overflow ?? "drop-oldest";
    this.maxRetries = options.maxRetries ?? Infinity;
    this.retryWindowMs = options.retryWindowMs ?? 60_000;
    this.retryBaseMs = options.retryBaseMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? makeLog(undefined);
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Events dropped from a full queue since the tracker started. */
  get dropped(): number {
    return this.droppedTotal;
  }

  enqueue(event: TrackEvent): void {
    if (this.queue.length >= this.maxQueue) {
      const lost = this.overflow === "drop-newest" ? event : (this.queue.shift() as TrackEvent);
      if (this.overflow === "drop-oldest") this.queue.push(event);
      this.drop(lost);
      return;
    }
    this.dropping = false;
    this.queue.push(event);
    if (this.queue.length >= this.batchSize) {
      void this.send();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.send();
      }, this.flushIntervalMs);
      unrefTimer(this.timer);
    }
  }

  /**
   * Send everything queued now; resolves when it is delivered or reported failed, with the
   * totals of every batch finished since the previous flush() (timer-driven sends included).
   */
  async flush(): Promise<FlushResult> {
    await keepingAlive(() => this.send());
    return this.takeResult();
  }

  /**
   * Deliver everything queued, waiting at most `timeoutMs`; the Node process is kept alive until
   * this settles (retry waits included). Whatever is not delivered by the deadline is reported
   * through onFailed (reason "shutdown_timeout") and listed in `undelivered`.
   */
  async close(options: CloseOptions = {}): Promise<FlushResult> {
    const timeoutMs = options.timeoutMs ?? this.closeTimeoutMs;
    await keepingAlive(async () => {
      const done = this.send();
      if (!Number.isFinite(timeoutMs)) return done;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<"expired">((resolve) => {
        timer = setTimeout(() => resolve("expired"), Math.max(0, timeoutMs));
      });
      try {
        if ((await Promise.race([done.then(() => "done" as const), expired])) === "expired") {
          this.stopping = true;
          this.abort?.abort();
          await done;
        }
      } finally {
        clearTimeout(timer);
      }
    });
    return this.takeResult();
  }

  private takeResult(): FlushResult {
    const result = this.pending;
    this.pending = emptyResult();
    if (this.droppedEvents.length > 0) {
      result.failed.push({ events: this.droppedEvents, reason: "queue_full", attempts: 0 });
      this.droppedEvents = [];
    }
    result.delivered = result.accepted + result.duplicates;
    result.undelivered = result.failed.flatMap((f) => f.events);
    return result;
  }

  private send(): Promise<void> {
    this.clearTimer();
    const run = this.chain.then(async () => {
      while (this.queue.length > 0) {
        if (this.stopping) {
          this.fail({ events: this.queue.splice(0, this.queue.length), reason: "shutdown_timeout", attempts: 0 });
          break;
        }
        const batch = this.queue.splice(0, this.batchSize);
        await this.deliver(batch);
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Take every queued event out of the queue (for a page-hide beacon). */
  drain(): TrackEvent[] {
    this.clearTimer();
    return this.queue.splice(0, this.queue.length);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private async deliver(events: TrackEvent[]): Promise<void> {
    let attempt = 0;
    this.abort = typeof AbortController === "function" ? new AbortController() : undefined;
    const signal = this.abort?.signal;
    const giveUpAt = this.now() + this.retryWindowMs;
    const breaker = this.options.breaker;
    for (;;) {
      if (this.stopping) {
        this.fail({ events, reason: "shutdown_timeout", attempts: attempt });
        return;
      }
      const closedFor = breaker?.openForMs() ?? 0;
      if (closedFor > 0) {
        // The circuit is open: wait for it instead of sending, without spending an attempt.
        if (this.now() + closedFor > giveUpAt) {
          const error = new KaleidoUnavailableError("circuit_open");
          this.fail({ events, reason: "retries_exhausted", error, attempts: attempt });
          return;
        }
        await interruptible(this.sleep(closedFor), signal);
        continue;
      }
      attempt += 1;
      try {
        const body = await postJson<EventsResponse>({
          fetch: this.options.fetch,
          url: this.options.eventsUrl,
          headers: this.options.headers(),
          body: { events },
          timeoutMs: this.requestTimeoutMs,
          signal,
          now: this.now,
        });
        const rejected: RejectedEvent[] = (body?.rejected ?? []).map((r) => ({
          event: events[r.index] as TrackEvent,
          error: r.error,
          source: "server",
        }));
        const report: DeliveryReport = {
          events,
          accepted: body?.accepted ?? 0,
          duplicates: body?.duplicates ?? 0,
          rejected,
          attempts: attempt,
        };
        breaker?.success();
        this.pending.accepted += report.accepted;
        this.pending.duplicates += report.duplicates;
        retain(this.pending.rejected, rejected, this.maxQueue);
        this.reportRejected(rejected);
        this.safely(() => this.options.onDelivered?.(report));
        return;
      } catch (error) {
        if (error instanceof AbortedError || this.stopping) {
          this.fail({ events, reason: "shutdown_timeout", error, attempts: attempt });
          return;
        }
        // A 4xx (other than 408/429, which arrive as KaleidoUnavailableError) will not get better.
        if (error instanceof KaleidoApiError) {
          breaker?.success();
          if (error instanceof KaleidoAuthError) this.logAuthError(error.status);
          this.fail({ events, reason: "client_error", status: error.status, body: error.body, attempts: attempt });
          return;
        }
        breaker?.failure();
        const status = error instanceof KaleidoUnavailableError ? error.status : undefined;
        const retryAfterMs = error instanceof KaleidoUnavailableError ? error.retryAfterMs : undefined;
        // Wait the jittered backoff, or as long as the server asked (Retry-After), whichever is longer.
        const wait = Math.max(backoffDelay(attempt - 1, this.retryBaseMs, this.retryMaxMs, this.random), retryAfterMs ?? 0);
        if (attempt > this.maxRetries || this.now() + wait > giveUpAt) {
          this.fail({ events, reason: "retries_exhausted", status, error, retryAfterMs, attempts: attempt });
          return;
        }
        await interruptible(this.sleep(wait), signal);
      }
    }
  }

  private authLogged = false;

  private logAuthError(status: number): void {
    if (this.authLogged) return;
    this.authLogged = true;
    this.log.error(`Kaleido refused the API key for events (${status}): check apiKey and its "events" scope`, { status });
  }

  /** Rejections reach onRejected, or the log when nobody listens. */
  reportRejected(rejected: RejectedEvent[]): void {
    if (rejected.length === 0) return;
    if (this.options.onRejected) {
      for (const r of rejected) this.safely(() => this.options.onRejected?.(r));
    } else {
      this.log.warn("events rejected", { count: rejected.length, source: rejected[0]?.source, first: rejected[0]?.error });
    }
  }

  private drop(event: TrackEvent): void {
    this.droppedTotal += 1;
    this.pending.dropped += 1;
    retain(this.droppedEvents, [event], this.maxQueue);
    if (!this.dropping) {
      // Once per overflow episode, not once per event.
      this.dropping = true;
      this.log.warn("event queue full: dropping events", { maxQueue: this.maxQueue, overflow: this.overflow, droppedTotal: this.droppedTotal });
    }
    const failure: DeliveryFailure = { events: [event], reason: "queue_full", attempts: 0 };
    this.safely(() => this.options.onFailed?.(failure));
  }

  private fail(failure: DeliveryFailure): void {
    retain(this.pending.failed, [failure], this.maxQueue);
    const fields = { count: failure.events.length, reason: failure.reason, status: failure.status, attempts: failure.attempts };
    if (this.options.onFailed) {
      this.log.info("events not delivered", fields);
      this.safely(() => this.options.onFailed?.(failure));
    } else {
      // With no callback the failure still surfaces: here and in the next flush()/close() result.
      this.log.warn("events not delivered", fields);
    }
  }

  private safely(callback: () => void): void {
    try {
      callback();
    } catch {
      // A throwing callback must not lose the next batch.
    }
  }
}

function emptyResult(): FlushResult {
  return { delivered: 0, accepted: 0, duplicates: 0, rejected: [], failed: [], undelivered: [], dropped: 0 };
}

/** Append to a result list, keeping only the newest `cap` entries (results are bounded too). */
function retain<T>(list: T[], items: T[], cap: number): void {
  list.push(...items);
  if (list.length > cap) list.splice(0, list.length - cap);
}

/** A wait that ends early when `signal` aborts (close()'s deadline). */
function interruptible(wait: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return wait;
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    wait.then(done, done);
  });
}

/**
 * Run `work` with a referenced timer alive, so Node does not exit while a caller awaits a flush or
 * close (the retry waits are unref'd so that an idle client never holds a process open).
 */
async function keepingAlive<T>(work: () => Promise<T>): Promise<T> {
  const hold = setInterval(() => undefined, 1 << 30);
  try {
    return await work();
  } finally {
    clearInterval(hold);
  }
}
