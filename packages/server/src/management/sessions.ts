import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CofferError, type ManagerRole } from '@coffer/core';
import type { ManagerSession } from './context.js';

/** Ten minutes without a request end a session (manual §4.3). */
export const DEFAULT_SESSION_IDLE_MS = 10 * 60_000;
/** A login challenge must be answered within a minute, once. */
export const CHALLENGE_TTL_MS = 60_000;
/** Outstanding challenges kept at most; the oldest are dropped first (a flood cannot grow memory). */
const MAX_CHALLENGES = 4096;
/** Sessions that ended by idling are remembered this long, so their holder hears "expired", not "log in". */
const EXPIRED_MEMORY_MS = 60 * 60_000;

function digestOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * The management sessions of one running service, in memory only: they end when the service stops
 * or the device restarts. Tokens are 256-bit random values; only their SHA-256 is kept as the map key,
 * so a heap dump does not hand out live tokens. The clock is the host's (idle time is a duration,
 * and the System Manager may move the device clock).
 */
export class SessionStore {
  readonly #live = new Map<string, ManagerSession>();
  readonly #expired = new Map<string, number>();

  constructor(
    readonly idleMs: number = DEFAULT_SESSION_IDLE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens a session and returns its bearer token (base64url, 43 characters). */
  open(who: { account: string; role: ManagerRole; cardId: string; slot: string; clientIp: string }): {
    token: string;
    session: ManagerSession;
  } {
    this.#sweep();
    const token = randomBytes(32).toString('base64url');
    const at = this.now();
    const session: ManagerSession = {
      id: randomBytes(8).toString('hex'),
      ...who,
      createdAt: at,
      lastSeenAt: at,
    };
    this.#live.set(digestOf(token), session);
    return { token, session };
  }

  /**
   * The session of `token`, touched (its idle time starts again).
   * @throws ERR_SESSION_REQUIRED without a token, for an unknown or ended one, or from another IP.
   * @throws ERR_SESSION_EXPIRED when it idled out (once; afterwards it is unknown).
   */
  use(token: string | null, clientIp: string): ManagerSession {
    if (!token)
      throw new CofferError('ERR_SESSION_REQUIRED', 'Log in first: this function needs a manager session.');
    const key = digestOf(token);
    const session = this.#live.get(key);
    const at = this.now();
    if (!session) {
      if (this.#expired.delete(key)) {
        throw new CofferError(
          'ERR_SESSION_EXPIRED',
          `The session ended after ${Math.round(this.idleMs / 60_000) || '<1'} minutes without activity; log in again.`,
        );
      }
      throw new CofferError('ERR_SESSION_REQUIRED', 'The session is unknown or has ended; log in again.');
    }
    if (at - session.lastSeenAt > this.idleMs) {
      this.#live.delete(key);
      throw new CofferError(
        'ERR_SESSION_EXPIRED',
        `The session ended after ${Math.round(this.idleMs / 60_000) || '<1'} minutes without activity; log in again.`,
      );
    }
    if (!sameText(session.clientIp, clientIp)) {
      throw new CofferError(
        'ERR_SESSION_REQUIRED',
        'This session was opened from another address; log in again.',
      );
    }
    session.lastSeenAt = at;
    return session;
  }

  /** Ends the session of `token` at once (logout). */
  end(token: string): boolean {
    return this.#live.delete(digestOf(token));
  }

  /** Ends every session (the service stops). */
  clear(): void {
    this.#live.clear();
    this.#expired.clear();
  }

  get size(): number {
    return this.#live.size;
  }

  #sweep(): void {
    const at = this.now();
    for (const [key, s] of this.#live) {
      if (at - s.lastSeenAt > this.idleMs) {
        this.#live.delete(key);
        this.#expired.set(key, s.lastSeenAt + this.idleMs);
      }
    }
    for (const [key, when] of this.#expired) if (at - when > EXPIRED_MEMORY_MS) this.#expired.delete(key);
  }
}

interface Pending {
  cardId: string;
  issuedAt: number;
}

/**
 * Login challenges: 32 random bytes for one card, answered once within {@link CHALLENGE_TTL_MS}.
 * `take` removes the challenge whatever the outcome, so a challenge never verifies twice.
 */
export class ChallengeStore {
  readonly #pending = new Map<string, Pending>();

  constructor(
    private readonly now: () => number = Date.now,
    readonly ttlMs: number = CHALLENGE_TTL_MS,
  ) {}

  issue(cardId: string): { challenge: Buffer; expiresAt: number } {
    this.#sweep();
    const challenge = randomBytes(32);
    const issuedAt = this.now();
    this.#pending.set(challenge.toString('base64'), { cardId, issuedAt });
    while (this.#pending.size > MAX_CHALLENGES) {
      const oldest = this.#pending.keys().next().value;
      if (oldest === undefined) break;
      this.#pending.delete(oldest);
    }
    return { challenge, expiresAt: issuedAt + this.ttlMs };
  }

  /**
   * Consumes a challenge issued for `cardId`.
   * @throws ERR_CHALLENGE when it was never issued, was already used, is for another card, or is older than the TTL.
   */
  take(challengeB64: string, cardId: string): Buffer {
    const challenge = Buffer.from(challengeB64, 'base64');
    const key = challenge.toString('base64');
    const pending = this.#pending.get(key);
    this.#pending.delete(key);
    if (!pending || challenge.length !== 32) {
      throw new CofferError(
        'ERR_CHALLENGE',
        'This challenge was not issued by the device or has already been used; ask for a new one.',
      );
    }
    if (pending.cardId !== cardId) {
      throw new CofferError('ERR_CHALLENGE', 'This challenge was issued for another card.');
    }
    if (this.now() - pending.issuedAt > this.ttlMs) {
      throw new CofferError(
        'ERR_CHALLENGE',
        `The challenge is older than ${this.ttlMs / 1000} seconds; ask for a new one.`,
      );
    }
    return challenge;
  }

  #sweep(): void {
    const at = this.now();
    for (const [key, p] of this.#pending) if (at - p.issuedAt > this.ttlMs) this.#pending.delete(key);
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
