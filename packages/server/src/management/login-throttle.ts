/** How failed logins slow down the next attempt. */
export interface ThrottlePolicy {
  /** Failures allowed without delay. */
  freeFailures: number;
  /** The delay after the first failure beyond the free ones; it doubles with each further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A record with no failure for this long is forgotten. */
  forgetAfterMs: number;
}

/** Per card: three free failures, then 1 s, 2 s, 4 s… up to five minutes. */
export const DEFAULT_THROTTLE: ThrottlePolicy = {
  freeFailures: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  forgetAfterMs: 60 * 60_000,
};

/** Per client IP: more free failures (several managers may share an address), then the same back-off. */
export const DEFAULT_IP_THROTTLE: ThrottlePolicy = { ...DEFAULT_THROTTLE, freeFailures: 10 };

interface Failures {
  count: number;
  lastAt: number;
}

/**
 * Slows down guessing at the management login: per card and per client IP, after `freeFailures`
 * failures in a row each further attempt must wait `baseDelayMs · 2^(n − freeFailures − 1)` since the
 * last failure (capped). A success clears the card's and the IP's record. Pure apart from the clock.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, Failures>();

  constructor(
    readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** How long the caller must still wait before trying with these subjects (0: go ahead). */
  retryAfterMs(subjects: readonly string[]): number {
    const at = this.now();
    let wait = 0;
    for (const s of subjects) {
      const f = this.#failures.get(s);
      if (!f) continue;
      if (at - f.lastAt > this.policy.forgetAfterMs) {
        this.#failures.delete(s);
        continue;
      }
      wait = Math.max(wait, f.lastAt + this.delayAfter(f.count) - at);
    }
    return Math.max(0, wait);
  }

  /** The wait imposed after `count` failures in a row. */
  delayAfter(count: number): number {
    const over = count - this.policy.freeFailures;
    if (over <= 0) return 0;
    return Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** Math.min(over - 1, 30));
  }

  fail(subjects: readonly string[]): void {
    const at = this.now();
    for (const s of subjects) {
      const f = this.#failures.get(s);
      this.#failures.set(s, { count: (f?.count ?? 0) + 1, lastAt: at });
    }
    if (this.#failures.size > 100_000) this.#forgetOld();
  }

  succeed(subjects: readonly string[]): void {
    for (const s of subjects) this.#failures.delete(s);
  }

  #forgetOld(): void {
    const at = this.now();
    for (const [s, f] of this.#failures)
      if (at - f.lastAt > this.policy.forgetAfterMs) this.#failures.delete(s);
  }
}
