import type { Bucket, RankItem, RankedItem } from "./types.js";

/**
 * Where the fatigue memory lives: impression times per (user, placement, variant) since the
 * user last clicked that variant. Synchronous so a re-rank never waits on I/O.
 */
export interface FatigueStore {
  get(key: string): number[] | undefined;
  set(key: string, times: number[]): void;
  delete(key: string): void;
}

/** Process memory, bounded so a long-running BFF never grows without limit (oldest keys go first). */
export class MemoryFatigueStore implements FatigueStore {
  private readonly entries = new Map<string, number[]>();

  constructor(private readonly maxKeys = 100_000) {}

  get(key: string): number[] | undefined {
    return this.entries.get(key);
  }

  set(key: string, times: number[]): void {
    this.entries.delete(key);
    this.entries.set(key, times);
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Browser storage: survives reloads, so "seen three times today" holds across page views. */
export class LocalStorageFatigueStore implements FatigueStore {
  constructor(
    private readonly storage: Storage,
    private readonly prefix = "kaleido:fatigue:",
  ) {}

  get(key: string): number[] | undefined {
    try {
      const raw = this.storage.getItem(this.prefix + key);
      if (!raw) return undefined;
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter((t): t is number => typeof t === "number") : undefined;
    } catch {
      return undefined;
    }
  }

  set(key: string, times: number[]): void {
    try {
      this.storage.setItem(this.prefix + key, JSON.stringify(times));
    } catch {
      // Storage full or disabled (private mode): fatigue is a nicety, serving must go on.
    }
  }

  delete(key: string): void {
    try {
      this.storage.removeItem(this.prefix + key);
    } catch {
      // see set()
    }
  }
}

export function defaultFatigueStore(): FatigueStore {
  const storage = (globalThis as { localStorage?: Storage }).localStorage;
  if (storage && typeof (globalThis as { window?: unknown }).window !== "undefined") {
    try {
      const probe = "kaleido:probe";
      storage.setItem(probe, "1");
      storage.removeItem(probe);
      return new LocalStorageFatigueStore(storage);
    } catch {
      // fall through to memory
    }
  }
  return new MemoryFatigueStore();
}

/**
 * A fatigue store behind I/O, e.g. Redis shared by every BFF process. Reads are awaited for at
 * most `storeTimeoutMs` per rank() (then the server's order is served as is); writes are not
 * awaited (a failed write is logged). `getMany` (e.g. Redis MGET) reads a slate in one round trip.
 */
export interface AsyncFatigueStore {
  get(key: string): Promise<number[] | undefined>;
  getMany?(keys: string[]): Promise<Array<number[] | undefined>>;
  set(key: string, times: number[]): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface FatigueOptions {
  /** Impressions without a click after which a variant is demoted. Default 3. */
  maxImpressions?: number;
  /** Only impressions this recent count. Default 24 hours. */
  windowMs?: number;
  store?: FatigueStore | AsyncFatigueStore;
  /** With an AsyncFatigueStore: the longest a rank() waits for its reads. Default 50 ms. */
  storeTimeoutMs?: number;
  /**
   * Buckets whose answers are re-ranked. Default ["model"]: the control arm measures the design and
   * the random arm learns without bias, so re-ranking either would corrupt what they are for.
   */
  buckets?: Bucket[];
  now?: () => number;
  /** Told of a failed store read or write (the client logs it). */
  onStoreError?: (error: unknown, operation: "get" | "set" | "delete") => void;
}

/** A re-rank, or why it was skipped (the store did not answer in time, or failed). */
export interface RerankOutcome {
  items: RankedItem[];
  skipped?: "timeout" | "error";
}

type Times = number[] | undefined;

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}

class StoreTimeout extends Error {}

/** Counts impressions per user and variant and demotes the ones a user keeps ignoring. */
export class FatigueTracker {
  readonly maxImpressions: number;
  readonly windowMs: number;
  readonly store: FatigueStore | AsyncFatigueStore;
  readonly storeTimeoutMs: number;
  readonly buckets: ReadonlySet<Bucket>;
  private readonly now: () => number;
  private readonly onStoreError: (error: unknown, operation: "get" | "set" | "delete") => void;

  constructor(options: FatigueOptions = {}) {
    this.maxImpressions = options.maxImpressions ?? 3;
    this.windowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
    this.store = options.store ?? defaultFatigueStore();
    this.storeTimeoutMs = options.storeTimeoutMs ?? 50;
    this.buckets = new Set(options.buckets ?? ["model"]);
    this.now = options.now ?? Date.now;
    this.onStoreError = options.onStoreError ?? (() => undefined);
  }

  private key(userId: string, placement: string, variantId: number): string {
    return `${placement}|${userId}|${variantId}`;
  }

  private fresh(times: Times): number[] {
    const cutoff = this.now() - this.windowMs;
    return (Array.isArray(times) ? times : []).filter((t) => typeof t === "number" && t > cutoff);
  }

  /** The stored list of a synchronous store; an AsyncFatigueStore must be read with rerankAsync(). */
  private recent(key: string): number[] {
    const times = this.store.get(key);
    if (isThenable(times)) throw new TypeError("FatigueTracker: this store is asynchronous; use rerankAsync()");
    return this.fresh(times);
  }

  private write(operation: "set" | "delete", run: () => void | Promise<void>): void {
    try {
      const pending = run();
      if (isThenable(pending)) pending.then(undefined, (error) => this.onStoreError(error, operation));
    } catch (error) {
      this.onStoreError(error, operation);
    }
  }

  recordImpression(userId: string, placement: string, variantId: number, at?: number): void {
    const key = this.key(userId, placement, variantId);
    const stamp = at ?? this.now();
    // Only the newest maxImpressions matter; keep the stored list short.
    const update = (times: Times) => [...this.fresh(times), stamp].slice(-Math.max(this.maxImpressions, 1));
    if (this.inFlight.has(key)) {
      // An asynchronous update of this key is under way: queue behind it and read afresh then.
      this.serially(key, () => this.updateAsync(key, update));
      return;
    }
    let current: Times | PromiseLike<Times>;
    try {
      current = this.store.get(key);
    } catch (error) {
      this.onStoreError(error, "get");
      return;
    }
    if (isThenable<Times>(current)) {
      // Updates of one key run one after another in this process, so two quick impressions both count.
      const first = current;
      this.serially(key, () => this.updateAsync(key, update, first));
    } else {
      this.write("set", () => this.store.set(key, update(current as Times)));
    }
  }

  recordClick(userId: string, placement: string, variantId: number): void {
    const key = this.key(userId, placement, variantId);
    if (this.inFlight.has(key)) this.serially(key, () => this.awaitWrite("delete", () => this.store.delete(key)));
    else this.write("delete", () => this.store.delete(key));
  }

  /** Pending asynchronous updates per key (a chain each), so they never interleave in this process. */
  private readonly inFlight = new Map<string, Promise<void>>();

  private serially(key: string, work: () => Promise<void>): void {
    const next = (this.inFlight.get(key) ?? Promise.resolve()).then(work, work);
    this.inFlight.set(key, next);
    void next.finally(() => {
      if (this.inFlight.get(key) === next) this.inFlight.delete(key);
    });
  }

  private async updateAsync(key: string, update: (times: Times) => number[], read?: PromiseLike<Times>): Promise<void> {
    let times: Times;
    try {
      times = await (read ?? this.store.get(key));
    } catch (error) {
      this.onStoreError(error, "get");
      return;
    }
    await this.awaitWrite("set", () => this.store.set(key, update(times)));
  }

  private async awaitWrite(operation: "set" | "delete", run: () => void | Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.onStoreError(error, operation);
    }
  }

  /** Synchronous stores only. */
  impressionsWithoutClick(userId: string, placement: string, variantId: number): number {
    return this.recent(this.key(userId, placement, variantId)).length;
  }

  /** Synchronous stores only. */
  isFatigued(userId: string, placement: string, variantId: number): boolean {
    return this.impressionsWithoutClick(userId, placement, variantId) >= this.maxImpressions;
  }

  /**
   * Stable re-rank: fresh variants keep their server order, fatigued ones move behind them
   * (in their server order). If every variant is fatigued the server order stands.
   * Synchronous stores only; see rerankAsync().
   */
  rerank(userId: string, placement: string, items: RankItem[]): RankedItem[] {
    const sorted = [...items].sort((a, b) => a.rank - b.rank);
    return this.order(sorted, sorted.map((item) => this.recent(this.key(userId, placement, item.variant_id)).length));
  }

  /**
   * The same re-rank for any store: reads the slate's lists (in one getMany when the store has
   * it), waiting at most storeTimeoutMs; on a timeout or a failed read the server order stands.
   */
  async rerankAsync(userId: string, placement: string, items: RankItem[]): Promise<RerankOutcome> {
    const sorted = [...items].sort((a, b) => a.rank - b.rank);
    const keys = sorted.map((item) => this.key(userId, placement, item.variant_id));
    let lists: Times[];
    try {
      const read = this.readMany(keys);
      lists = Array.isArray(read) ? read : await this.within(read);
    } catch (error) {
      if (!(error instanceof StoreTimeout)) this.onStoreError(error, "get");
      const unchanged = sorted.map((item) => ({ ...item, server_rank: item.rank, fatigued: false }));
      return { items: unchanged, skipped: error instanceof StoreTimeout ? "timeout" : "error" };
    }
    return { items: this.order(sorted, lists.map((times) => this.fresh(times).length)) };
  }

  /** The lists of `keys`: at once from a synchronous store, else a promise. */
  private readMany(keys: string[]): Times[] | Promise<Times[]> {
    const store = this.store as AsyncFatigueStore;
    if (typeof store.getMany === "function") return Promise.resolve(store.getMany(keys));
    const reads = keys.map((key) => this.store.get(key));
    return reads.some((r) => isThenable(r)) ? Promise.all(reads) : (reads as Times[]);
  }

  private within<T>(work: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreTimeout()), this.storeTimeoutMs);
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  }

  private order(sorted: RankItem[], counts: number[]): RankedItem[] {
    // A pinned variant is the operator's choice for every user: never demoted, whatever its impressions.
    const marked = sorted.map((item, i) => ({ item, fatigued: !item.pinned && (counts[i] ?? 0) >= this.maxImpressions }));
    const ordered = [...marked.filter((m) => !m.fatigued), ...marked.filter((m) => m.fatigued)];
    return ordered.map(({ item, fatigued }, index) => ({ ...item, server_rank: item.rank, rank: index + 1, fatigued }));
  }
}
