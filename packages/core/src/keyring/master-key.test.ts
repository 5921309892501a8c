import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { combineComponents, parseMkPart } from './master-key.js';

function refusedWith(code: string, details?: Record<string, unknown>, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CofferError, 'a CofferError');
    assert.equal(err.code, code);
    if (details) assert.deepEqual({ ...err.details }, details);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('parseMkPart', () => {
  it('reads 32 hex digits in either case as the same 16 bytes', () => {
    const upper = parseMkPart('00112233445566778899AABBCCDDEEFF');
    const lower = parseMkPart('00112233445566778899aabbccddeeff');
    assert.equal(upper.length, 16);
    assert.deepEqual(upper, Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
    assert.deepEqual(lower, upper);
  });

  it('refuses 31 digits with ERR_MK_PART_FORMAT saying how many there are', () => {
    assert.throws(
      () => parseMkPart('0'.repeat(31)),
      refusedWith('ERR_MK_PART_FORMAT', { field: 'mkPart' }, /must be 32 hex digits; this one has 31\./),
    );
  });

  it('refuses 33 digits and the empty string with ERR_MK_PART_FORMAT', () => {
    assert.throws(() => parseMkPart('0'.repeat(33)), refusedWith('ERR_MK_PART_FORMAT', undefined, /has 33/));
    assert.throws(() => parseMkPart(''), refusedWith('ERR_MK_PART_FORMAT', undefined, /has 0/));
  });

  it('refuses a G with ERR_MK_PART_FORMAT naming the character', () => {
    assert.throws(
      () => parseMkPart(`${'0'.repeat(31)}G`),
      refusedWith('ERR_MK_PART_FORMAT', { field: 'mkPart' }, /only use 0–9 and A–F; 'G' is not allowed\./),
    );
  });

  it('names a space by its code point, since a quoted space is invisible', () => {
    assert.throws(
      () => parseMkPart(`${'0'.repeat(31)} `),
      refusedWith('ERR_MK_PART_FORMAT', undefined, /U\+0020/),
    );
  });

  it('does not accept a 0x prefix', () => {
    assert.throws(
      () => parseMkPart(`0x${'0'.repeat(30)}`),
      refusedWith('ERR_MK_PART_FORMAT', undefined, /'x'/),
    );
  });
});

describe('combineComponents', () => {
  const a = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  const b = Buffer.from('fedcba9876543210fedcba9876543210', 'hex');
  const c = Buffer.from('00ff00ff00ff00ff00ff00ff00ff00ff', 'hex');

  it('is the XOR of the three components', () => {
    const mk = combineComponents([a, b, c]);
    const want = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) want[i] = a[i]! ^ b[i]! ^ c[i]!;
    assert.deepEqual(mk, want);
  });

  it('gives the same key whatever order the managers entered their parts in', () => {
    assert.deepEqual(combineComponents([c, a, b]), combineComponents([a, b, c]));
  });

  it('leaves the components untouched and returns a new buffer', () => {
    const copy = Buffer.from(a);
    const mk = combineComponents([a, b, c]);
    assert.deepEqual(a, copy);
    assert.notEqual(mk.buffer, a.buffer);
  });

  it('refuses two components or a short one with ERR_INTERNAL', () => {
    assert.throws(() => combineComponents([a, b]), refusedWith('ERR_INTERNAL'));
    assert.throws(() => combineComponents([a, b, c.subarray(1)]), refusedWith('ERR_INTERNAL'));
  });
});
