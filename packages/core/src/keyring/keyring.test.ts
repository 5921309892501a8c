import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { computeKcv, deriveKeyring } from './keyring.js';

describe('keyring', () => {
  const mk = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');

  it('computes the KCV as HMAC-SHA256(MK, "coffer/kcv/v1") in 64 lower-case hex', () => {
    const kcv = computeKcv(mk);
    assert.match(kcv, /^[0-9a-f]{64}$/);
    assert.equal(kcv, createHmac('sha256', mk).update('coffer/kcv/v1').digest('hex'));
    assert.equal(deriveKeyring(mk).kcv, kcv);
  });

  it('derives each subkey by HKDF-SHA256 with an empty salt and its own label', () => {
    const ring = deriveKeyring(mk);
    const expect = (info: string) => Buffer.from(hkdfSync('sha256', mk, Buffer.alloc(0), info, 32));
    assert.deepEqual(ring.kek.export(), expect('coffer/kek/v1'));
    assert.deepEqual(ring.integrity.export(), expect('coffer/integrity/v1'));
    assert.deepEqual(ring.backup.export(), expect('coffer/backup/v1'));
  });

  it('holds 32-byte secret KeyObjects, all different', () => {
    const ring = deriveKeyring(mk);
    for (const k of [ring.kek, ring.integrity, ring.backup]) {
      assert.equal(k.type, 'secret');
      assert.equal(k.symmetricKeySize, 32);
    }
    assert.ok(!ring.kek.equals(ring.integrity));
    assert.ok(!ring.kek.equals(ring.backup));
    assert.ok(!ring.integrity.equals(ring.backup));
  });

  it('gives two devices with the same master key the same KCV and keys (one key domain)', () => {
    const a = deriveKeyring(Buffer.from(mk));
    const b = deriveKeyring(Buffer.from(mk));
    assert.equal(a.kcv, b.kcv);
    assert.ok(a.kek.equals(b.kek));
    assert.ok(a.backup.equals(b.backup));
  });

  it('gives a different master key a different KCV and keys', () => {
    const other = deriveKeyring(randomBytes(16));
    const ring = deriveKeyring(mk);
    assert.notEqual(other.kcv, ring.kcv);
    assert.ok(!other.kek.equals(ring.kek));
  });

  it('refuses a master key that is not 16 bytes with ERR_INTERNAL', () => {
    const internal = (err: unknown) => err instanceof CofferError && err.code === 'ERR_INTERNAL';
    assert.throws(() => deriveKeyring(randomBytes(32)), internal);
    assert.throws(() => computeKcv(Buffer.alloc(0)), internal);
  });
});
