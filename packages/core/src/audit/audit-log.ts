/**
 * The audit log (DESIGN §8): appends hash-chained entries through the storage port and verifies the
 * whole chain. If an entry cannot be written the caller's action must fail, as Vault's audit broker
 * fails a request no sink recorded, so `append` throws rather than logging and carrying on.
 */
import { CofferError, isCofferError } from '../errors.js';
import type { AuditEntry, Store, StoreTx } from '../store/port.js';
import { computeAuditDigest, GENESIS_DIGEST, type VerifyResult, verifyAuditChain } from './audit-chain.js';

/**
 * What a caller supplies for one entry; the log adds `seq`, `time` and both digests.
 * Never put a secret (PIN, share, key, passphrase, MK part) in any field: entries are exported and
 * shown to the Audit Manager, and the chain makes them impossible to remove later.
 */
export type AuditDraft = Omit<AuditEntry, 'seq' | 'time' | 'prevDigest' | 'digest' | 'details'> & {
  details?: string;
};

/** Rows read per page by `verify`, so that a long log is never held in memory at once. */
const VERIFY_PAGE_SIZE = 1000;

export class AuditLog {
  /**
   * @param store where entries live.
   * @param now the device clock (system time plus the configured offset), read once per entry.
   */
  constructor(
    private readonly store: Store,
    private readonly now: () => Date,
  ) {}

  /**
   * Appends one entry as head + 1, chained to the current head. Given `tx`, the entry is written in
   * the caller's transaction, so it commits or rolls back with the action it records (to record a
   * failed action, append after that transaction has rolled back, without `tx`). Without `tx` it runs
   * in a transaction of its own. Inside `store.transaction`, always pass its `tx`: the store is held
   * exclusively until that transaction ends.
   *
   * The caller is responsible for keeping secrets out of every field (see `AuditDraft`).
   *
   * @throws CofferError `ERR_AUDIT_WRITE` when the entry could not be written for any reason (the
   *   store's error, a malformed field or an unreadable clock is its `cause`); the action it records
   *   must then fail.
   */
  async append(draft: AuditDraft, tx?: StoreTx): Promise<AuditEntry> {
    try {
      return tx === undefined
        ? await this.store.transaction((own) => this.appendIn(own, draft))
        : await this.appendIn(tx, draft);
    } catch (error) {
      if (isCofferError(error) && error.code === 'ERR_AUDIT_WRITE') throw error;
      throw new CofferError(
        'ERR_AUDIT_WRITE',
        'The audit entry could not be written, so the action was not carried out.',
        isCofferError(error) ? { cause: error.code } : {},
        { cause: error },
      );
    }
  }

  private async appendIn(tx: StoreTx, draft: AuditDraft): Promise<AuditEntry> {
    const head = await tx.auditHead();
    const fields = {
      seq: (head?.seq ?? 0) + 1,
      time: this.now().toISOString(),
      source: draft.source,
      account: draft.account,
      clientIp: draft.clientIp,
      businessType: draft.businessType,
      result: draft.result,
      content: draft.content,
      details: draft.details ?? '',
    };
    const prevDigest = head?.digest ?? GENESIS_DIGEST;
    const entry: AuditEntry = { ...fields, prevDigest, digest: computeAuditDigest(prevDigest, fields) };
    await tx.insertAudit(entry);
    return entry;
  }

  /**
   * Verifies the whole chain from the genesis, reading the log in pages of 1000 entries (outside
   * any transaction, so the device keeps working; entries appended meanwhile are verified too).
   * A broken chain is returned as `{ ok: false, badSeq, reason }`, not thrown.
   *
   * @throws CofferError `ERR_STORE` when the log cannot be read.
   */
  async verify(): Promise<VerifyResult> {
    let start = { digest: GENESIS_DIGEST, seq: 0 };
    let count = 0;
    for (;;) {
      const page = await this.store.listAudit({ afterSeq: start.seq, limit: VERIFY_PAGE_SIZE, order: 'asc' });
      const result = verifyAuditChain(page, start);
      if (!result.ok) return result;
      count += result.count;
      const last = page.at(-1);
      if (last === undefined || page.length < VERIFY_PAGE_SIZE) return { ok: true, count, head: result.head };
      start = { digest: last.digest, seq: last.seq };
    }
  }
}
