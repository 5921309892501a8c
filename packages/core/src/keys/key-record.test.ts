import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { deriveKeyring } from '../keyring/keyring.js';
import type { KeyRecord, KeyStatus } from '../store/port.js';
import { generateKeyMaterial } from './key-material.js';
import {
  bindingIntact,
  checkDeletable,
  checkKeyFields,
  effectiveStatus,
  expiryOf,
  type KeyStatusChange,
  keyUsable,
  macBinding,
  macKeyRecord,
  nextKeyStatus,
  openKeyMaterial,
  sealKeyRecord,
  verifyKeyRecord,
} from './key-record.js';

const keyring = deriveKeyring(randomBytes(16));
const otherKeyring = deriveKeyring(randomBytes(16));
const code = (c: string) => (err: unknown) => err instanceof CofferError && err.code === c;
const created = '2026-01-01T00:00:00.000Z';

async function newRecord(index = 21, type = 'AES-256'): Promise<{ record: KeyRecord; secret: Buffer }> {
  const material = await generateKeyMaterial(type);
  const secret = Buffer.from(material.material);
  const record = sealKeyRecord(
    keyring,
    {
      index,
      creator: 'adminC1',
      status: 'normal',
      invalidReason: null,
      validityDays: 30,
      description: 'test',
      createdAt: created,
      expiresAt: expiryOf(created, 30),
      usage: ['decrypt', 'encrypt'],
      version: 1,
    },
    material,
  );
  return { record, secret };
}

describe('key records', () => {
  it('seal the material and open it again at the same place', async () => {
    const { record, secret } = await newRecord();
    assert.equal(record.keyClass, 'symmetric');
    assert.deepEqual(record.usage, ['encrypt', 'decrypt']);
    assert.deepEqual(openKeyMaterial(keyring, record), secret);
    assert.equal(record.expiresAt, '2026-01-31T00:00:00.000Z');
  });

  it('refuse a record whose status was edited in the database with ERR_INTEGRITY', async () => {
    const { record } = await newRecord();
    assert.throws(
      () => verifyKeyRecord(keyring, { ...record, status: 'normal', validityDays: 36500 }),
      code('ERR_INTEGRITY'),
    );
    assert.throws(
      () => verifyKeyRecord(keyring, { ...record, usage: ['encrypt', 'decrypt', 'wrap'] }),
      code('ERR_INTEGRITY'),
    );
    assert.throws(() => openKeyMaterial(keyring, { ...record, description: 'x' }), code('ERR_INTEGRITY'));
  });

  it('refuse sealed material copied from another key with ERR_INTEGRITY', async () => {
    const a = await newRecord(21);
    const b = await newRecord(22);
    assert.throws(
      () => openKeyMaterial(keyring, { ...a.record, sealed: b.record.sealed }),
      code('ERR_INTEGRITY'),
    );
  });

  it('refuse material moved to another index even with a recomputed MAC, with ERR_DECRYPT', async () => {
    const { record } = await newRecord(21);
    const moved = macKeyRecord(keyring, { ...record, index: 22 });
    assert.throws(() => openKeyMaterial(keyring, moved), code('ERR_DECRYPT'));
  });

  it('refuse a record of another key domain with ERR_INTEGRITY', async () => {
    const { record } = await newRecord();
    assert.throws(() => verifyKeyRecord(otherKeyring, record), code('ERR_INTEGRITY'));
  });

  it('check index, validity and description', () => {
    assert.throws(
      () => checkKeyFields({ index: 0, validityDays: 1, description: '' }),
      code('ERR_KEY_INDEX'),
    );
    assert.throws(
      () => checkKeyFields({ index: 1.5, validityDays: 1, description: '' }),
      code('ERR_KEY_INDEX'),
    );
    assert.throws(
      () => checkKeyFields({ index: 1, validityDays: 0, description: '' }),
      code('ERR_BAD_REQUEST'),
    );
    assert.throws(
      () => checkKeyFields({ index: 1, validityDays: 36501, description: '' }),
      code('ERR_BAD_REQUEST'),
    );
    assert.throws(
      () => checkKeyFields({ index: 1, validityDays: 1, description: 'x'.repeat(257) }),
      code('ERR_BAD_REQUEST'),
    );
    assert.throws(
      () => checkKeyFields({ index: 1, validityDays: 1, description: 'a\nb' }),
      code('ERR_BAD_REQUEST'),
    );
    checkKeyFields({ index: 2_147_483_647, validityDays: 36500, description: 'x'.repeat(256) });
  });
});

describe('key status transitions', () => {
  const before = new Date('2026-01-15T00:00:00Z');
  const after = new Date('2026-02-15T00:00:00Z');
  const key = (status: KeyStatus, invalidReason: 'expired' | 'manual' | null = null) => ({
    index: 7,
    status,
    invalidReason,
    expiresAt: '2026-01-31T00:00:00.000Z',
  });
  // The table of `nextKeyStatus`, row by row; null: refused with ERR_KEY_STATUS.
  const table: [KeyStatus, KeyStatusChange, Date, KeyStatus | null][] = [
    ['normal', 'discard', before, 'discard'],
    ['normal', 'restore', before, null],
    ['normal', 'invalidate', before, 'invalid'],
    ['normal', 'expire', before, null],
    ['normal', 'expire', after, 'invalid'],
    ['discard', 'discard', before, null],
    ['discard', 'restore', before, 'normal'],
    ['discard', 'invalidate', before, 'invalid'],
    ['discard', 'expire', after, 'invalid'],
    ['invalid', 'discard', before, null],
    ['invalid', 'restore', before, null],
    ['invalid', 'invalidate', before, null],
    ['invalid', 'expire', after, null],
    // Past its expiry a key is invalid even before the sweep has written it.
    ['normal', 'discard', after, null],
    ['discard', 'restore', after, null],
    ['discard', 'invalidate', after, null],
  ];
  for (const [from, change, now, to] of table) {
    const when = now === before ? 'before expiry' : 'after expiry';
    it(`${change} a ${from} key ${when}: ${to ?? 'refused with ERR_KEY_STATUS'}`, () => {
      if (to === null)
        assert.throws(
          () => nextKeyStatus(key(from, from === 'invalid' ? 'manual' : null), change, now),
          code('ERR_KEY_STATUS'),
        );
      else assert.equal(nextKeyStatus(key(from), change, now).status, to);
    });
  }

  it('record why a key became invalid', () => {
    assert.equal(nextKeyStatus(key('normal'), 'invalidate', before).invalidReason, 'manual');
    assert.equal(nextKeyStatus(key('discard'), 'expire', after).invalidReason, 'expired');
  });

  it('report a key past its expiry as invalid (expired)', () => {
    assert.deepEqual(effectiveStatus(key('normal'), after), { status: 'invalid', invalidReason: 'expired' });
    assert.deepEqual(effectiveStatus(key('discard'), before), { status: 'discard', invalidReason: null });
    assert.deepEqual(effectiveStatus(key('invalid', 'manual'), after), {
      status: 'invalid',
      invalidReason: 'manual',
    });
  });

  it('delete only invalid keys (a key past its expiry counts)', () => {
    assert.throws(() => checkDeletable(key('normal'), before), code('ERR_KEY_STATUS'));
    assert.throws(() => checkDeletable(key('discard'), before), code('ERR_KEY_STATUS'));
    checkDeletable(key('invalid', 'manual'), before);
    checkDeletable(key('normal'), after);
  });

  it('let a key be used only while normal, unexpired and with the usage flag', () => {
    const k = { ...key('normal'), usage: ['encrypt' as const] };
    assert.deepEqual(keyUsable(k, 'encrypt', before), { ok: true });
    assert.deepEqual(keyUsable(k, 'decrypt', before), { ok: false, reason: 'usage' });
    assert.deepEqual(keyUsable(k, 'encrypt', after), { ok: false, reason: 'invalid' });
    assert.deepEqual(keyUsable({ ...k, status: 'discard' }, 'encrypt', before), {
      ok: false,
      reason: 'discarded',
    });
  });
});

describe('key bindings', () => {
  it('verify a binding of this key and refuse it on a new key at the same index', async () => {
    const { record } = await newRecord(5);
    const binding = macBinding(
      keyring,
      { keyIndex: 5, operator: 'app1', boundAt: created, boundBy: 'adminC1' },
      record,
    );
    assert.equal(bindingIntact(keyring, binding, record), true);
    assert.equal(bindingIntact(keyring, { ...binding, operator: 'app2' }, record), false);
    const reborn = { ...record, createdAt: '2026-03-01T00:00:00.000Z' };
    assert.equal(bindingIntact(keyring, binding, reborn), false);
  });
});
