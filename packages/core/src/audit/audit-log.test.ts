import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import type { AuditEntry, AuditQuery, Store, StoreTx } from '../store/port.js';
import { computeAuditDigest, GENESIS_DIGEST, verifyAuditChain } from './audit-chain.js';
import { type AuditDraft, AuditLog } from './audit-log.js';

/**
 * Just enough of a store for the audit log: an array of rows that the tests may tamper with, as an
 * attacker with the database file could. The real adapters run the contract suite in @coffer/server.
 */
class MemoryAuditStore {
  readonly rows: AuditEntry[] = [];
  failInsert = false;
  pagesRead = 0;

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return fn(this as unknown as StoreTx);
  }

  async auditHead(): Promise<{ seq: number; digest: string } | null> {
    const last = this.rows.at(-1);
    return last === undefined ? null : { seq: last.seq, digest: last.digest };
  }

  async insertAudit(entry: AuditEntry): Promise<void> {
    if (this.failInsert) throw new CofferError('ERR_STORE', 'The disk is full.');
    const head = await this.auditHead();
    if (entry.seq !== (head?.seq ?? 0) + 1) throw new CofferError('ERR_CONFLICT', 'Not head + 1.');
    this.rows.push({ ...entry });
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    this.pagesRead += 1;
    const after = this.rows.filter((row) => row.seq > (query.afterSeq ?? 0));
    return after.slice(0, query.limit ?? 100).map((row) => ({ ...row }));
  }

  asStore(): Store {
    return this as unknown as Store;
  }
}

const draft: AuditDraft = {
  source: 'panel',
  account: 'adminA1',
  clientIp: '127.0.0.1',
  businessType: 'boot',
  result: 'success',
  content: 'Auth2Boot;first card A1',
};

function fixedClock(start = Date.UTC(2025, 5, 1)): () => Date {
  let tick = 0;
  return () => new Date(start + 1000 * tick++);
}

async function filledLog(count: number): Promise<{ memory: MemoryAuditStore; log: AuditLog }> {
  const memory = new MemoryAuditStore();
  const log = new AuditLog(memory.asStore(), fixedClock());
  for (let i = 0; i < count; i += 1) await log.append({ ...draft, content: `entry ${i + 1}` });
  return { memory, log };
}

describe('AuditLog.append', () => {
  it('chains the first entry to the genesis digest with seq 1 and the clock time', async () => {
    const memory = new MemoryAuditStore();
    const log = new AuditLog(memory.asStore(), () => new Date('2025-06-01T08:00:00.123Z'));
    const entry = await log.append(draft);
    assert.equal(entry.seq, 1);
    assert.equal(entry.time, '2025-06-01T08:00:00.123Z');
    assert.equal(entry.prevDigest, GENESIS_DIGEST);
    assert.equal(entry.details, '');
    assert.equal(entry.digest, computeAuditDigest(GENESIS_DIGEST, entry));
    assert.deepEqual(memory.rows, [entry]);
  });

  it('chains each entry to the one before it', async () => {
    const { memory } = await filledLog(3);
    assert.deepEqual(
      memory.rows.map((row) => row.seq),
      [1, 2, 3],
    );
    assert.equal(memory.rows[1]!.prevDigest, memory.rows[0]!.digest);
    assert.equal(memory.rows[2]!.prevDigest, memory.rows[1]!.digest);
    assert.equal(verifyAuditChain(memory.rows).ok, true);
  });

  it('writes in the transaction it is given', async () => {
    const memory = new MemoryAuditStore();
    const log = new AuditLog(memory.asStore(), fixedClock());
    const seen: string[] = [];
    const tx = new Proxy(memory as unknown as StoreTx, {
      get(target, property) {
        seen.push(String(property));
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await log.append(draft, tx);
    assert.deepEqual(seen, ['auditHead', 'insertAudit']);
  });

  it('fails with ERR_AUDIT_WRITE when the store cannot write, so the action fails too', async () => {
    const memory = new MemoryAuditStore();
    memory.failInsert = true;
    const log = new AuditLog(memory.asStore(), fixedClock());
    await assert.rejects(log.append(draft), (error) => {
      assert.ok(error instanceof CofferError);
      assert.equal(error.code, 'ERR_AUDIT_WRITE');
      assert.equal(error.details['cause'], 'ERR_STORE');
      return true;
    });
  });

  it('fails with ERR_AUDIT_WRITE when a field is not well-formed text', async () => {
    const log = new AuditLog(new MemoryAuditStore().asStore(), fixedClock());
    await assert.rejects(
      log.append({ ...draft, content: '\uD800' }),
      (error) => error instanceof CofferError && error.code === 'ERR_AUDIT_WRITE',
    );
  });

  it('fails with ERR_AUDIT_WRITE when the clock gives an invalid date', async () => {
    const log = new AuditLog(new MemoryAuditStore().asStore(), () => new Date(Number.NaN));
    await assert.rejects(
      log.append(draft),
      (error) => error instanceof CofferError && error.code === 'ERR_AUDIT_WRITE',
    );
  });
});

describe('AuditLog.verify', () => {
  it('verifies an empty log', async () => {
    const log = new AuditLog(new MemoryAuditStore().asStore(), fixedClock());
    assert.deepEqual(await log.verify(), { ok: true, count: 0, head: GENESIS_DIGEST });
  });

  it('verifies a log longer than one page, reading it in pages of 1000', async () => {
    const { memory, log } = await filledLog(2500);
    memory.pagesRead = 0;
    assert.deepEqual(await log.verify(), { ok: true, count: 2500, head: memory.rows.at(-1)!.digest });
    assert.equal(memory.pagesRead, 3);
  });

  it('verifies a log of exactly one page', async () => {
    const { log } = await filledLog(1000);
    const result = await log.verify();
    assert.equal(result.ok && result.count, 1000);
  });

  it('detects an edited entry on a later page at its seq', async () => {
    const { memory, log } = await filledLog(2100);
    memory.rows[1499] = { ...memory.rows[1499]!, account: 'adminB2' };
    const result = await log.verify();
    assert.equal(!result.ok && result.badSeq, 1500);
    assert.equal(!result.ok && result.reason, 'wrong-digest');
  });

  it('detects a deleted entry at the last place of a page at its seq', async () => {
    const { memory, log } = await filledLog(1500);
    memory.rows.splice(999, 1);
    const result = await log.verify();
    assert.equal(!result.ok && result.badSeq, 1000);
    assert.equal(!result.ok && result.reason, 'seq-gap');
  });

  it('detects a deleted entry on the first page at its seq', async () => {
    const { memory, log } = await filledLog(10);
    memory.rows.splice(4, 1);
    const result = await log.verify();
    assert.equal(!result.ok && result.badSeq, 5);
  });

  it('detects reordered entries (contents swapped between two seqs) at the first of them', async () => {
    const { memory, log } = await filledLog(10);
    const [sixth, seventh] = [memory.rows[5]!, memory.rows[6]!];
    memory.rows[5] = { ...seventh, seq: 6 };
    memory.rows[6] = { ...sixth, seq: 7 };
    const result = await log.verify();
    assert.equal(!result.ok && result.badSeq, 6);
    assert.equal(!result.ok && result.reason, 'broken-link');
  });

  it('keeps appending and verifying after a verification', async () => {
    const { log } = await filledLog(3);
    assert.equal((await log.verify()).ok, true);
    await log.append(draft);
    const result = await log.verify();
    assert.equal(result.ok && result.count, 4);
  });
});
