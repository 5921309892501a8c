import { randomBytes } from 'node:crypto';
import { CofferError } from '../errors.js';

/** The multi-screen ceremonies that hold something between two steps. */
export type CeremonyKind = 'auth2boot' | 'reinit' | 'remake-device-manager' | 'start-service' | 'settings';

export interface CeremonyHold {
  kind: CeremonyKind;
  /** Who authenticated the first step (for the audit log). */
  account: string;
  slot: string;
  cardId: string;
  /** A master-key share held between the two Auth2Boot steps; wiped on use, expiry or cancel. */
  share: Buffer | null;
  expiresAt: number;
}

/**
 * Tokens that carry one ceremony from one screen to the next (e.g. the first Auth2Boot card to the
 * second). The token is the proof that the first step passed; it lives a few minutes, is bound to
 * its kind, and whatever secret it holds is wiped when it ends.
 */
export class CeremonyTokens {
  readonly #holds = new Map<string, CeremonyHold>();
  constructor(private readonly nowMs: () => number) {}

  issue(hold: Omit<CeremonyHold, 'expiresAt'>, ttlMs: number): string {
    this.#sweep();
    const token = randomBytes(24).toString('base64url');
    this.#holds.set(token, { ...hold, expiresAt: this.nowMs() + ttlMs });
    return token;
  }

  /** @throws ERR_CEREMONY_UNKNOWN (no such token, or of another kind) or ERR_CEREMONY_EXPIRED */
  peek(token: string | undefined, kind: CeremonyKind): CeremonyHold {
    const hold = token ? this.#holds.get(token) : undefined;
    if (!hold || hold.kind !== kind) {
      throw new CofferError(
        'ERR_CEREMONY_UNKNOWN',
        'This step needs the earlier step of the same ceremony first (start again from its first screen).',
        { ceremony: kind },
      );
    }
    if (hold.expiresAt <= this.nowMs()) {
      this.end(token!);
      throw new CofferError(
        'ERR_CEREMONY_EXPIRED',
        'The ceremony took too long and was cancelled; start again.',
        {
          ceremony: kind,
        },
      );
    }
    return hold;
  }

  /** Keeps a settings session alive while it is used. */
  touch(token: string, ttlMs: number): void {
    const hold = this.#holds.get(token);
    if (hold) hold.expiresAt = this.nowMs() + ttlMs;
  }

  end(token: string): void {
    const hold = this.#holds.get(token);
    hold?.share?.fill(0);
    this.#holds.delete(token);
  }

  clear(): void {
    for (const token of [...this.#holds.keys()]) this.end(token);
  }

  #sweep(): void {
    const now = this.nowMs();
    for (const [token, hold] of this.#holds) if (hold.expiresAt <= now) this.end(token);
  }
}
