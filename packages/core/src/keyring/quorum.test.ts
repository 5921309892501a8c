import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { combineShares, SHARE_BYTES, splitMasterKey } from './quorum.js';

const PAIRS = [
  [0, 1],
  [0, 2],
  [1, 2],
  [1, 0],
  [2, 0],
  [2, 1],
] as const;

const masterKeys = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u));

function refusedWith(code: string) {
  return (err: unknown): boolean => err instanceof CofferError && err.code === code;
}

describe('quorum (Shamir 2-of-3)', () => {
  it('splits a master key into three 17-byte shares', async () => {
    const shares = await splitMasterKey(randomBytes(16));
    assert.equal(shares.length, 3);
    for (const s of shares) assert.equal(s.length, SHARE_BYTES);
  });

  it('gives back the secret from any two of the three shares, in either order', async () => {
    await fc.assert(
      fc.asyncProperty(masterKeys, async (mk) => {
        const shares = await splitMasterKey(mk);
        for (const [i, j] of PAIRS) {
          assert.deepEqual(await combineShares([shares[i], shares[j]]), mk);
        }
        assert.deepEqual(await combineShares([...shares]), mk);
      }),
      { numRuns: 100 },
    );
  });

  it('does not reveal the secret in any single share', async () => {
    await fc.assert(
      fc.asyncProperty(masterKeys, async (mk) => {
        const shares = await splitMasterKey(mk);
        for (const s of shares) assert.notDeepEqual(s.subarray(0, 16), mk);
      }),
      { numRuns: 100 },
    );
  });

  it('splits the same key differently each time', async () => {
    const mk = randomBytes(16);
    const [a] = await splitMasterKey(mk);
    const [b] = await splitMasterKey(mk);
    assert.notDeepEqual(a, b);
  });

  it('leaves the caller’s master key untouched', async () => {
    const mk = randomBytes(16);
    const copy = Buffer.from(mk);
    const shares = await splitMasterKey(mk);
    assert.deepEqual(mk, copy);
    await combineShares([shares[0], shares[1]]);
    assert.deepEqual(mk, copy);
  });

  it('refuses a single share with ERR_BAD_REQUEST', async () => {
    const shares = await splitMasterKey(randomBytes(16));
    await assert.rejects(combineShares([shares[0]]), refusedWith('ERR_BAD_REQUEST'));
  });

  it('refuses the same share twice with ERR_BAD_REQUEST', async () => {
    const shares = await splitMasterKey(randomBytes(16));
    await assert.rejects(combineShares([shares[1], Buffer.from(shares[1])]), refusedWith('ERR_BAD_REQUEST'));
  });

  it('refuses a share of the wrong length with ERR_BAD_REQUEST', async () => {
    const shares = await splitMasterKey(randomBytes(16));
    await assert.rejects(combineShares([shares[0], shares[1].subarray(1)]), refusedWith('ERR_BAD_REQUEST'));
  });

  it('refuses to split a key that is not 16 bytes with ERR_INTERNAL', async () => {
    await assert.rejects(splitMasterKey(randomBytes(32)), refusedWith('ERR_INTERNAL'));
  });
});
