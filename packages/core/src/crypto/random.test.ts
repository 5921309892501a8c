import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import { generateRandom, MAX_RANDOM_BYTES } from './random.js';

describe('generateRandom', () => {
  it('gives exactly the number of bytes asked for, different each time', () => {
    assert.equal(generateRandom(1).length, 1);
    assert.equal(generateRandom(MAX_RANDOM_BYTES).length, MAX_RANDOM_BYTES);
    assert.notDeepEqual(generateRandom(32), generateRandom(32));
  });

  it('refuses 0, negative, fractional and too-large lengths with ERR_CRYPTO_INPUT', () => {
    for (const n of [0, -1, 1.5, MAX_RANDOM_BYTES + 1, Number.NaN]) {
      assert.throws(
        () => generateRandom(n),
        (e) => isCofferError(e) && e.code === 'ERR_CRYPTO_INPUT',
        String(n),
      );
    }
  });
});
