import { KaleidoApiError, KaleidoUnavailableError } from "./errors.js";
import { backoffDelay, type FetchLike, postJson } from "./http.js";
import { newEventId } from "./ids.js";
import type { EventsResponse, TrackEvent, TrackInput } from "./types.js";

/** The server's limit on events per request (shared/API.md). */
export const MAX_EVENTS_PER_REQUEST = 1000;

export interface RejectedEvent {
  event: TrackEvent;
  error: string;
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
  /** client_error: a 4xx (fix the request); retries_exhausted: 5xx/network past maxRetries. */
  reason: "client_error" | "retries_exhausted";
  status?: number;
  body?: unknown;
  error?: unknown;
  attempts: number;
}

export interface FlushResult {
  accepted: number;
  duplicates: number;
  rejected: RejectedEvent[];
  failed: DeliveryFailure[];
}

export interface TrackerOptions {
  fetch: FetchLike;
  eventsUrl: string;
  headers: () => Record<string, string>;
  /** Send when this many events are queued. Default 50, at most 1000. */
  batchSize?: number;
  /** Send whatever is queued this long after the first queued event. Default 2000 ms. */
  flushIntervalMs?: number;
  /** Retries per batch after the first try, for 5xx, timeouts and network errors. Default 5. */
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
  onDelivered?: (report: DeliveryReport) => void;
  onFailed?: (failure: DeliveryFailure) => void;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
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

export function toWireEvent(input: TrackInput): TrackEvent {
  const ts = input.ts instanceof Date ? input.ts.toISOString() : (input.ts ?? new Date().toISOString());
  const event: TrackEvent = {
    event_id: input.event_id ?? newEventId(),
    type: input.type,
    variant_id: input.variant_id,
    user_id: input.user_id,
    placement: input.placement,
    position: input.position ?? 1,
    ts,
  };
  if (input.decision_id !== undefined) event.decision_id = input.decision_id;
  return event;
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
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly requestTimeoutMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: TrackerOptions) {
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? 50, MAX_EVENTS_PER_REQUEST));
    this.flushIntervalMs = options.flushIntervalMs ?? 2000;
    this.maxRetries = options.maxRetries ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? realSleep;
  }

  get queued(): number {
    return this.queue.length;
  }

  enqueue(event: TrackEvent): void {
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
    await this.send();
    const result = this.pending;
    this.pending = emptyResult();
    return result;
  }

  private send(): Promise<void> {
    this.clearTimer();
    const run = this.chain.then(async () => {
      while (this.queue.length > 0) {
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
    for (;;) {
      attempt += 1;
      try {
        const body = await postJson<EventsResponse>({
          fetch: this.options.fetch,
          url: this.options.eventsUrl,
          headers: this.options.headers(),
          body: { events },
          timeoutMs: this.requestTimeoutMs,
        });
        const rejected = (body?.rejected ?? []).map((r) => ({
          event: events[r.index] as TrackEvent,
          error: r.error,
        }));
        const report: DeliveryReport = {
          events,
          accepted: body?.accepted ?? 0,
          duplicates: body?.duplicates ?? 0,
          rejected,
          attempts: attempt,
        };
        this.pending.accepted += report.accepted;
        this.pending.duplicates += report.duplicates;
        this.pending.rejected.push(...rejected);
        this.safely(() => this.options.onDelivered?.(report));
        return;
      } catch (error) {
        // 408/429 mean "not now", not "wrong": those are retried like a 5xx.
        if (error instanceof KaleidoApiError && error.status !== 408 && error.status !== 429) {
          this.fail({ events, reason: "client_error", status: error.status, body: error.body, attempts: attempt });
          return;
        }
        if (attempt > this.maxRetries) {
          const status = error instanceof KaleidoUnavailableError ? error.status : undefined;
          this.fail({ events, reason: "retries_exhausted", status, error, attempts: attempt });
          return;
        }
        await this.sleep(backoffDelay(attempt - 1, this.retryBaseMs, this.retryMaxMs, this.random));
      }
    }
  }

  private fail(failure: DeliveryFailure): void {
    this.pending.failed.push(failure);
    if (this.options.onFailed) {
      this.safely(() => this.options.onFailed?.(failure));
    } else {
      // With no callback the failure still surfaces: here and in the next flush()/close() result.
      console.warn(`kaleido: ${failure.events.length} event(s) not delivered (${failure.reason}${failure.status ? ` ${failure.status}` : ""})`);
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
  return { accepted: 0, duplicates: 0, rejected: [], failed: [] };
}
