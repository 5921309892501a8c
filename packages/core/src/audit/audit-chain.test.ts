import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import type { AuditEntry } from '../store/port.js';
import {
  type AuditFields,
  canonicalAuditBytes,
  computeAuditDigest,
  GENESIS_DIGEST,
  verifyAuditChain,
} from './audit-chain.js';

function fieldsAt(seq: number, overrides: Partial<AuditFields> = {}): AuditFields {
  return {
    seq,
    time: `2025-01-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`,
    source: 'management',
    account: 'adminB1',
    clientIp: '192.0.2.10',
    businessType: 'update',
    result: 'success',
    content: `step ${seq}`,
    details: '',
    ...overrides,
  };
}

function buildChain(length: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  let prevDigest = GENESIS_DIGEST;
  for (let seq = 1; seq <= length; seq += 1) {
    const fields = fieldsAt(seq);
    const digest = computeAuditDigest(prevDigest, fields);
    entries.push({ ...fields, prevDigest, digest });
    prevDigest = digest;
  }
  return entries;
}

describe('canonicalAuditBytes', () => {
  it('starts with the length-prefixed version tag and the seq as 8 big-endian bytes', () => {
    const bytes = canonicalAuditBytes(fieldsAt(258));
    assert.equal(bytes.readUInt32BE(0), 'coffer-audit-v1'.length);
    assert.equal(bytes.subarray(4, 19).toString('utf8'), 'coffer-audit-v1');
    assert.deepEqual([...bytes.subarray(19, 27)], [0, 0, 0, 0, 0, 0, 1, 2]);
  });

  it('tells apart entries whose fields differ only in where one field ends and the next begins', () => {
    const a = canonicalAuditBytes(fieldsAt(1, { content: 'ab', details: 'c' }));
    const b = canonicalAuditBytes(fieldsAt(1, { content: 'a', details: 'bc' }));
    assert.notDeepEqual(a, b);
  });

  it('does not depend on the key order of the object given', () => {
    const fields = fieldsAt(7);
    const reversed = Object.fromEntries(Object.entries(fields).reverse()) as AuditFields;
    assert.deepEqual(canonicalAuditBytes(reversed), canonicalAuditBytes(fields));
  });

  it('encodes non-ASCII text as UTF-8 with its byte length', () => {
    const bytes = canonicalAuditBytes(fieldsAt(1, { details: 'é' }));
    assert.deepEqual([...bytes.subarray(-6)], [0, 0, 0, 2, 0xc3, 0xa9]);
  });

  it('refuses a lone surrogate with ERR_BAD_REQUEST, because UTF-8 would turn it into U+FFFD', () => {
    assert.throws(
      () => canonicalAuditBytes(fieldsAt(1, { content: 'a\uD800b' })),
      (error) => error instanceof CofferError && error.code === 'ERR_BAD_REQUEST',
    );
    // A proper pair is fine.
    canonicalAuditBytes(fieldsAt(1, { content: '\u{1F510}' }));
  });

  it('refuses a seq that is not a positive safe integer with ERR_BAD_REQUEST', () => {
    for (const seq of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1]) {
      assert.throws(
        () => canonicalAuditBytes(fieldsAt(seq)),
        (error) => error instanceof CofferError && error.code === 'ERR_BAD_REQUEST',
      );
    }
  });
});

describe('computeAuditDigest', () => {
  it('is SHA-256 over the previous digest bytes followed by the canonical bytes', () => {
    const fields = fieldsAt(1);
    const expected = createHash('sha256')
      .update(Buffer.alloc(32))
      .update(canonicalAuditBytes(fields))
      .digest('hex');
    assert.equal(computeAuditDigest(GENESIS_DIGEST, fields), expected);
    assert.match(expected, /^[0-9a-f]{64}$/);
  });

  it('changes when the previous digest changes', () => {
    const fields = fieldsAt(2);
    assert.notEqual(computeAuditDigest(GENESIS_DIGEST, fields), computeAuditDigest('1'.repeat(64), fields));
  });

  it('refuses a previous digest that is not 64 lowercase hex digits with ERR_BAD_REQUEST', () => {
    for (const bad of ['', '0'.repeat(63), 'A'.repeat(64), 'g'.repeat(64)]) {
      assert.throws(
        () => computeAuditDigest(bad, fieldsAt(1)),
        (error) => error instanceof CofferError && error.code === 'ERR_BAD_REQUEST',
      );
    }
  });
});

describe('verifyAuditChain', () => {
  it('accepts an intact chain and returns its count and head digest', () => {
    const chain = buildChain(5);
    assert.deepEqual(verifyAuditChain(chain), { ok: true, count: 5, head: chain[4]!.digest });
  });

  it('accepts an empty log with the genesis digest as head', () => {
    assert.deepEqual(verifyAuditChain([]), { ok: true, count: 0, head: GENESIS_DIGEST });
  });

  it('detects an edited entry at its own seq (wrong-digest)', () => {
    const chain = buildChain(5);
    chain[2] = { ...chain[2]!, content: 'nothing happened here' };
    const result = verifyAuditChain(chain);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.badSeq, 3);
    assert.equal(!result.ok && result.reason, 'wrong-digest');
  });

  it('detects an edited entry whose digest was recomputed at the next seq (broken-link)', () => {
    const chain = buildChain(5);
    const edited = { ...chain[2]!, result: 'failure' as const };
    chain[2] = { ...edited, digest: computeAuditDigest(edited.prevDigest, edited) };
    const result = verifyAuditChain(chain);
    assert.equal(!result.ok && result.badSeq, 4);
    assert.equal(!result.ok && result.reason, 'broken-link');
  });

  it('detects a deleted entry at the missing seq (seq-gap)', () => {
    const chain = buildChain(5);
    chain.splice(1, 1);
    const result = verifyAuditChain(chain);
    assert.equal(!result.ok && result.badSeq, 2);
    assert.equal(!result.ok && result.reason, 'seq-gap');
  });

  it('detects a deleted first entry at seq 1', () => {
    const result = verifyAuditChain(buildChain(3).slice(1));
    assert.equal(!result.ok && result.badSeq, 1);
    assert.equal(!result.ok && result.reason, 'seq-gap');
  });

  it('detects two reordered entries at the first seq out of place (seq-gap)', () => {
    const chain = buildChain(5);
    [chain[1], chain[2]] = [chain[2]!, chain[1]!];
    const result = verifyAuditChain(chain);
    assert.equal(!result.ok && result.badSeq, 2);
    assert.equal(!result.ok && result.reason, 'seq-gap');
  });

  it('detects two entries whose contents swapped seq numbers (broken-link)', () => {
    const chain = buildChain(5);
    const [second, third] = [chain[1]!, chain[2]!];
    chain[1] = { ...third, seq: 2 };
    chain[2] = { ...second, seq: 3 };
    const result = verifyAuditChain(chain);
    assert.equal(!result.ok && result.badSeq, 2);
    assert.equal(!result.ok && result.reason, 'broken-link');
  });

  it('detects a renumbered chain after a deletion at the first renumbered seq (broken-link)', () => {
    const chain = buildChain(5);
    chain.splice(2, 1);
    for (const [index, entry] of chain.entries()) chain[index] = { ...entry, seq: index + 1 };
    const result = verifyAuditChain(chain);
    assert.equal(!result.ok && result.badSeq, 3);
    assert.equal(!result.ok && result.reason, 'broken-link');
  });

  it('reports an entry that cannot be encoded as malformed instead of throwing', () => {
    const chain = buildChain(2);
    chain[1] = { ...chain[1]!, account: 'x\uDC00' };
    const result = verifyAuditChain(chain);
    assert.equal(!result.ok && result.badSeq, 2);
    assert.equal(!result.ok && result.reason, 'malformed');
  });

  it('continues a chain from a given digest and seq, and checks the first number against it', () => {
    const chain = buildChain(6);
    const start = { digest: chain[2]!.digest, seq: 3 };
    assert.deepEqual(verifyAuditChain(chain.slice(3), start), { ok: true, count: 3, head: chain[5]!.digest });
    const gap = verifyAuditChain(chain.slice(4), start);
    assert.equal(!gap.ok && gap.badSeq, 4);
    // With a digest alone the first number is taken as found.
    assert.equal(verifyAuditChain(chain.slice(3), chain[2]!.digest).ok, true);
  });
});
