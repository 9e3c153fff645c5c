import { KaleidoClient, type KaleidoClientOptions } from "./client.js";
import { toItem } from "./design.js";
import { KaleidoUnavailableError } from "./errors.js";
import { MemoryFatigueStore } from "./fatigue.js";
import { newEventId } from "./ids.js";
import type { RankItem, RankRequest, RankResponse, TrackEvent } from "./types.js";

/** What the mock answers for a placement: a (partial) rank answer, an HTTP failure, or a failure mode. */
export type MockRankAnswer =
  | (Partial<Omit<RankResponse, "items">> & { items: Array<Partial<RankItem> & { variant_id: number }> })
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | "timeout"
  | "network_error";

export interface MockKaleidoClientOptions extends Omit<KaleidoClientOptions, "baseUrl" | "fetch"> {
  /** Fixed answers per placement slug, or a function of the request. Other placements answer 404. */
  answers?: Record<string, MockRankAnswer | ((request: RankRequest) => MockRankAnswer)>;
  baseUrl?: string;
}

/**
 * A KaleidoClient that never leaves the process, for a BFF's unit tests: rank() answers the fixed
 * answer of its placement (through the real client code: fatigue, fallbacks and errors behave as
 * in production), and every event is recorded. `tracked` holds what track() accepted, at once;
 * `events` what reached the fake server (after a flush, deduplicated by event_id like the server).
 */
export class MockKaleidoClient extends KaleidoClient {
  readonly tracked: TrackEvent[] = [];
  readonly rankRequests: RankRequest[];
  private readonly store: { events: Map<string, TrackEvent>; answers: NonNullable<MockKaleidoClientOptions["answers"]> };

  constructor(options: MockKaleidoClientOptions = {}) {
    const rankRequests: RankRequest[] = [];
    const store = { events: new Map<string, TrackEvent>(), answers: { ...(options.answers ?? {}) } };
    super({
      flushIntervalMs: 0,
      fatigue: { store: new MemoryFatigueStore() },
      logLevel: "error",
      ...options,
      baseUrl: options.baseUrl ?? "http://kaleido.mock",
      fetch: (url, init) => mockServer(url, init, store, rankRequests),
    });
    this.rankRequests = rankRequests;
    this.store = store;
  }

  /** Events the fake server stored, in arrival order. */
  get events(): TrackEvent[] {
    return [...this.store.events.values()];
  }

  /** Change what a placement answers. */
  setAnswer(placement: string, answer: MockRankAnswer | ((request: RankRequest) => MockRankAnswer)): void {
    this.store.answers[placement] = answer;
  }

  /** Forget recorded requests and events (answers stay). */
  reset(): void {
    this.tracked.length = 0;
    this.rankRequests.length = 0;
    this.store.events.clear();
  }

  protected override onTracked(event: TrackEvent): void {
    this.tracked.push(event);
  }
}

async function mockServer(
  url: string,
  init: RequestInit | undefined,
  store: { events: Map<string, TrackEvent>; answers: NonNullable<MockKaleidoClientOptions["answers"]> },
  rankRequests: RankRequest[],
): Promise<Response> {
  const body = JSON.parse(String(init?.body ?? "{}"));
  if (url.endsWith("/api/v1/events")) {
    let accepted = 0;
    let duplicates = 0;
    for (const event of body.events as TrackEvent[]) {
      if (store.events.has(event.event_id)) duplicates += 1;
      else (store.events.set(event.event_id, event), (accepted += 1));
    }
    return json(202, { accepted, duplicates, rejected: [] });
  }
  const request = body as RankRequest;
  rankRequests.push(request);
  const configured = store.answers[request.placement];
  if (configured === undefined) return json(404, { detail: `Unknown placement '${request.placement}'.` });
  const answer = typeof configured === "function" ? configured(request) : configured;
  if (answer === "timeout") throw new KaleidoUnavailableError("timeout");
  if (answer === "network_error") throw new TypeError("fetch failed (mock)");
  if ("status" in answer) return json(answer.status, answer.body ?? { detail: "mock failure" }, answer.headers);
  const items = answer.items.slice(0, Math.max(1, request.k ?? 1)).map((item, index) => toItem(item, index));
  return json(200, {
    decision_id: answer.decision_id ?? newEventId(),
    placement: answer.placement ?? request.placement,
    bucket: answer.bucket ?? "model",
    experiment: answer.experiment ?? null,
    model_version: answer.model_version ?? null,
    items,
  } satisfies RankResponse);
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}
