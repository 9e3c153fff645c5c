/** When to stop calling a failing server. */
export interface CircuitBreakerOptions {
  /** Consecutive failures (timeouts, 5xx, 429, network) that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long an open circuit skips the server before letting calls try again. Default 10 000 ms. */
  cooldownMs?: number;
}

export type CircuitState = "closed" | "open" | "half_open";

/**
 * One breaker per client, shared by rank() and event delivery (they talk to the same server).
 * After `failureThreshold` consecutive failures it opens: rank() answers its fallback at once and
 * event delivery waits, so a dead Kaleido costs nothing per call. After `cooldownMs` calls go
 * through again (half-open): one success closes it, one failure opens it for another cooldown.
 */
export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  private failures = 0;
  private openUntil = 0;

  constructor(
    options: CircuitBreakerOptions = {},
    private readonly now: () => number = Date.now,
    private readonly onChange: (state: CircuitState, failures: number) => void = () => undefined,
  ) {
    this.failureThreshold = Math.max(1, options.failureThreshold ?? 5);
    this.cooldownMs = Math.max(0, options.cooldownMs ?? 10_000);
  }

  get state(): CircuitState {
    if (this.failures < this.failureThreshold) return "closed";
    return this.now() < this.openUntil ? "open" : "half_open";
  }

  /** Milliseconds until calls may go through again; 0 when they may now. */
  openForMs(): number {
    return Math.max(0, this.openUntil - this.now());
  }

  success(): void {
    const wasOpen = this.failures >= this.failureThreshold;
    this.failures = 0;
    this.openUntil = 0;
    if (wasOpen) this.onChange("closed", 0);
  }

  failure(): void {
    this.failures += 1;
    if (this.failures >= this.failureThreshold) {
      this.openUntil = this.now() + this.cooldownMs;
      this.onChange("open", this.failures);
    }
  }
}
