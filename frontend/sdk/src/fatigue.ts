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

export interface FatigueOptions {
  /** Impressions without a click after which a variant is demoted. Default 3. */
  maxImpressions?: number;
  /** Only impressions this recent count. Default 24 hours. */
  windowMs?: number;
  store?: FatigueStore;
  /**
   * Buckets whose answers are re-ranked. Default ["model"]: the control arm measures the design and
   * the random arm learns without bias, so re-ranking either would corrupt what they are for.
   */
  buckets?: Bucket[];
  now?: () => number;
}

/** Counts impressions per user and variant and demotes the ones a user keeps ignoring. */
export class FatigueTracker {
  readonly maxImpressions: number;
  readonly windowMs: number;
  readonly store: FatigueStore;
  readonly buckets: ReadonlySet<Bucket>;
  private readonly now: () => number;

  constructor(options: FatigueOptions = {}) {
    this.maxImpressions = options.maxImpressions ?? 3;
    this.windowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
    this.store = options.store ?? defaultFatigueStore();
    this.buckets = new Set(options.buckets ?? ["model"]);
    this.now = options.now ?? Date.now;
  }

  private key(userId: string, placement: string, variantId: number): string {
    return `${placement}|${userId}|${variantId}`;
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.windowMs;
    return (this.store.get(key) ?? []).filter((t) => t > cutoff);
  }

  recordImpression(userId: string, placement: string, variantId: number, at?: number): void {
    const key = this.key(userId, placement, variantId);
    const times = this.recent(key);
    times.push(at ?? this.now());
    // Only the newest maxImpressions matter; keep the stored list short.
    this.store.set(key, times.slice(-Math.max(this.maxImpressions, 1)));
  }

  recordClick(userId: string, placement: string, variantId: number): void {
    this.store.delete(this.key(userId, placement, variantId));
  }

  impressionsWithoutClick(userId: string, placement: string, variantId: number): number {
    return this.recent(this.key(userId, placement, variantId)).length;
  }

  isFatigued(userId: string, placement: string, variantId: number): boolean {
    return this.impressionsWithoutClick(userId, placement, variantId) >= this.maxImpressions;
  }

  /**
   * Stable re-rank: fresh variants keep their server order, fatigued ones move behind them
   * (in their server order). If every variant is fatigued the server order stands.
   */
  rerank(userId: string, placement: string, items: RankItem[]): RankedItem[] {
    const sorted = [...items].sort((a, b) => a.rank - b.rank);
    const marked = sorted.map((item) => ({ item, fatigued: this.isFatigued(userId, placement, item.variant_id) }));
    const ordered = [...marked.filter((m) => !m.fatigued), ...marked.filter((m) => m.fatigued)];
    return ordered.map(({ item, fatigued }, index) => ({ ...item, server_rank: item.rank, rank: index + 1, fatigued }));
  }
}
