import assert from 'node:assert/strict';
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { macFields, openRecord, type RecordPlace, sealRecord, verifyMac } from './sealing.js';

const key = createSecretKey(randomBytes(32));
const otherKey = createSecretKey(randomBytes(32));
const place: RecordPlace = { table: 'shares', id: 'A1', version: 1 };
const secret = Buffer.from('a master-key share, say');

const decryptRefused = (err: unknown): boolean => err instanceof CofferError && err.code === 'ERR_DECRYPT';
const internal = (err: unknown): boolean => err instanceof CofferError && err.code === 'ERR_INTERNAL';

describe('sealRecord and openRecord', () => {
  it('open what was sealed for the same place', () => {
    assert.deepEqual(openRecord(key, sealRecord(key, secret, place), place), secret);
  });

  it('lay out 0x01 ‖ IV (12) ‖ tag (16) ‖ ciphertext of the plaintext’s length', () => {
    const blob = sealRecord(key, secret, place);
    assert.equal(blob[0], 0x01);
    assert.equal(blob.length, 1 + 12 + 16 + secret.length);
  });

  it('seal the same plaintext differently each time (random IV)', () => {
    assert.notDeepEqual(sealRecord(key, secret, place), sealRecord(key, secret, place));
  });

  it('seal and open an empty secret', () => {
    assert.deepEqual(openRecord(key, sealRecord(key, Buffer.alloc(0), place), place), Buffer.alloc(0));
  });

  // After Vault's TestAESGCMBarrier_MoveIntegrityV2: a ciphertext copied elsewhere must not open.
  it('refuse a ciphertext copied to another row with ERR_DECRYPT', () => {
    const blob = sealRecord(key, secret, place);
    assert.throws(() => openRecord(key, blob, { ...place, id: 'A2' }), decryptRefused);
  });

  it('refuse a ciphertext copied to another table with ERR_DECRYPT', () => {
    const blob = sealRecord(key, secret, place);
    assert.throws(() => openRecord(key, blob, { ...place, table: 'keys' }), decryptRefused);
  });

  it('refuse a ciphertext copied to another version with ERR_DECRYPT', () => {
    const blob = sealRecord(key, secret, place);
    assert.throws(() => openRecord(key, blob, { ...place, version: 2 }), decryptRefused);
  });

  it('do not let a place be shifted between its fields', () => {
    const blob = sealRecord(key, secret, { table: 'a', id: 'b/c', version: 1 });
    assert.throws(() => openRecord(key, blob, { table: 'a/b', id: 'c', version: 1 }), decryptRefused);
  });

  it('refuse a ciphertext under another key with ERR_DECRYPT', () => {
    assert.throws(() => openRecord(otherKey, sealRecord(key, secret, place), place), decryptRefused);
  });

  it('refuse a ciphertext with any single bit flipped, header included, with ERR_DECRYPT', () => {
    const blob = sealRecord(key, secret, place);
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 0x01;
      assert.throws(() => openRecord(key, bad, place), decryptRefused, `byte ${i}`);
    }
  });

  it('refuse a truncated or empty ciphertext with ERR_DECRYPT', () => {
    const blob = sealRecord(key, secret, place);
    for (const len of [0, 1, 13, 28, 29, blob.length - 1]) {
      assert.throws(() => openRecord(key, blob.subarray(0, len), place), decryptRefused, `length ${len}`);
    }
  });

  it('hold for any plaintext and place: it opens there and nowhere else', () => {
    const places = fc.record({
      table: fc.string({ minLength: 1, maxLength: 12 }),
      id: fc.string({ maxLength: 40 }),
      version: fc.nat(),
    });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), places, places, (pt, here, there) => {
        const blob = sealRecord(key, Buffer.from(pt), here);
        assert.deepEqual(openRecord(key, blob, here), Buffer.from(pt));
        const same = here.table === there.table && here.id === there.id && here.version === there.version;
        if (!same) assert.throws(() => openRecord(key, blob, there), decryptRefused);
      }),
      { numRuns: 300 },
    );
  });

  it('refuse a key that is not a 32-byte secret key with ERR_INTERNAL', () => {
    assert.throws(() => sealRecord(createSecretKey(randomBytes(16)), secret, place), internal);
    assert.throws(() => openRecord(createSecretKey(randomBytes(16)), Buffer.alloc(40), place), internal);
  });

  it('refuse a place with a negative or fractional version with ERR_INTERNAL', () => {
    assert.throws(() => sealRecord(key, secret, { ...place, version: -1 }), internal);
    assert.throws(() => sealRecord(key, secret, { ...place, version: 1.5 }), internal);
  });
});

describe('macFields and verifyMac', () => {
  const fields = ['A1', 'device-manager', 'active', null, 3, true] as const;

  it('is HMAC-SHA256 over the JSON array of the table and the fields, in 64 hex', () => {
    const mac = macFields(key, 'cards', fields);
    assert.match(mac, /^[0-9a-f]{64}$/);
    const want = createHmac('sha256', key)
      .update(JSON.stringify(['cards', ...fields]))
      .digest('hex');
    assert.equal(mac, want);
  });

  it('accepts the MAC of the same fields, in upper-case hex too', () => {
    const mac = macFields(key, 'cards', fields);
    assert.equal(verifyMac(key, 'cards', fields, mac), true);
    assert.equal(verifyMac(key, 'cards', fields, mac.toUpperCase()), true);
  });

  it('refuses the MAC once any field changes', () => {
    const mac = macFields(key, 'cards', fields);
    for (let i = 0; i < fields.length; i++) {
      const changed = [...fields] as (string | number | boolean | null)[];
      changed[i] = typeof changed[i] === 'string' ? `${changed[i]}x` : 'other';
      assert.equal(verifyMac(key, 'cards', changed, mac), false, `field ${i}`);
    }
  });

  it('refuses the MAC of one table offered for another', () => {
    assert.equal(verifyMac(key, 'domain', fields, macFields(key, 'cards', fields)), false);
  });

  it('refuses the MAC under another key', () => {
    assert.equal(verifyMac(otherKey, 'cards', fields, macFields(key, 'cards', fields)), false);
  });

  it('tells apart fields that a naive join would confuse', () => {
    const mac = (f: (string | number | boolean | null)[]) => macFields(key, 't', f);
    assert.notEqual(mac(['ab', 'c']), mac(['a', 'bc']));
    assert.notEqual(mac([null]), mac(['null']));
    assert.notEqual(mac([1]), mac(['1']));
    assert.notEqual(mac([true]), mac(['true']));
    assert.notEqual(mac(['a,b']), mac(['a', 'b']));
    assert.notEqual(mac([]), mac(['']));
  });

  it('says false, without throwing, for a malformed MAC', () => {
    const mac = macFields(key, 'cards', fields);
    for (const bad of ['', mac.slice(2), `${mac}00`, `${mac.slice(0, 63)}g`, ' '.repeat(64)]) {
      assert.equal(verifyMac(key, 'cards', fields, bad), false, JSON.stringify(bad));
    }
    assert.equal(verifyMac(key, 'cards', fields, null as unknown as string), false);
  });

  it('refuses a number that JSON cannot write (NaN, Infinity) with ERR_INTERNAL', () => {
    assert.throws(() => macFields(key, 't', [Number.NaN]), internal);
    assert.throws(() => macFields(key, 't', [Number.POSITIVE_INFINITY]), internal);
  });
});
