import type { AuditDraft, AuditLog, RunningLog } from '@coffer/core';

/**
 * The crypto service's entries in the operator log (source `integrated`, the manual's "operator
 * log"): connections admitted and ended, connections refused with the reason, and requests refused
 * their key. Successful operations are counted, not logged one by one: at the rates the service
 * runs (tens of thousands a second) an entry each would be the bottleneck and drown the log.
 *
 * Refusals are rate-limited, like the management listener's: the first of a kind is recorded at
 * once, repeats within `windowMs` are counted and the count is written with the next entry of that
 * kind (or with the connection's disconnect entry), so a client looping on a refused request cannot
 * flood the log.
 */
export interface ServiceAuditOptions {
  audit: () => AuditLog;
  log?: RunningLog | undefined;
  /** 10 s by default. */
  windowMs?: number;
  now?: () => number;
}

interface Window {
  at: number;
  suppressed: number;
}

const MAX_WINDOWS = 10_000;

export class ServiceAudit {
  readonly #opts: ServiceAuditOptions;
  readonly #windowMs: number;
  readonly #windows = new Map<string, Window>();
  readonly #pending = new Set<Promise<unknown>>();

  constructor(opts: ServiceAuditOptions) {
    this.#opts = opts;
    this.#windowMs = opts.windowMs ?? 10_000;
  }

  /**
   * Writes an entry and waits for it (an admission must not go ahead unrecorded).
   *
   * @throws CofferError ERR_AUDIT_WRITE.
   */
  async record(draft: Omit<AuditDraft, 'source'>): Promise<void> {
    const writing = this.#opts.audit().append({ source: 'integrated', ...draft });
    this.#pending.add(writing);
    try {
      await writing;
    } finally {
      this.#pending.delete(writing);
    }
  }

  /** Writes an entry without waiting; a failure goes to the running log. */
  recordLater(draft: Omit<AuditDraft, 'source'>): void {
    this.record(draft).catch((error) =>
      this.#opts.log?.error(
        { err: String(error), content: draft.content },
        'crypto service: an operator-log entry could not be written',
      ),
    );
  }

  /**
   * A rate-limited entry: written unless one with the same `kind` was written less than the window
   * ago (then only counted). Returns whether it was written.
   */
  recordLimited(kind: string, draft: Omit<AuditDraft, 'source'>): boolean {
    const now = (this.#opts.now ?? Date.now)();
    const last = this.#windows.get(kind);
    if (last && now - last.at < this.#windowMs) {
      last.suppressed += 1;
      return false;
    }
    if (this.#windows.size >= MAX_WINDOWS) this.#windows.clear();
    this.#windows.set(kind, { at: now, suppressed: 0 });
    const more = last?.suppressed
      ? `; ${last.suppressed} more like it since ${new Date(last.at).toISOString()}`
      : '';
    this.recordLater({ ...draft, details: `${draft.details ?? ''}${more}` });
    return true;
  }

  /** Waits for every entry being written (before the store may close). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}
