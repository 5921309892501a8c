import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { APT_CUTOFF, APT_WINDOW, RCT_CUTOFF, rngHealthTest } from './rng-health.js';

function failsWith(pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CofferError);
    assert.equal(err.code, 'ERR_INTERNAL');
    assert.match(err.message, pattern);
    return true;
  };
}

describe('random generator health test', () => {
  it('passes on crypto.randomBytes, the generator the device uses', async () => {
    await rngHealthTest().run();
  });

  it('passes on randomBytes many times over (no false alarms)', async () => {
    for (let i = 0; i < 200; i++) await rngHealthTest(randomBytes).run();
  });

  it('uses the SP 800-90B cutoffs for 8 bits per byte and α = 2^-40', () => {
    assert.equal(RCT_CUTOFF, 6);
    assert.equal(APT_WINDOW, 512);
    assert.equal(APT_CUTOFF, 19);
  });

  it('fails a generator stuck on one value, on the repetition count', async () => {
    await assert.rejects(
      rngHealthTest((n) => Buffer.alloc(n, 0x55)).run(),
      failsWith(/repeated \d+ times in a row/),
    );
  });

  it('fails a generator that repeats each byte six times, on the repetition count', async () => {
    const sample = (n: number) => {
      const seed = randomBytes(Math.ceil(n / 6));
      return Buffer.from(Array.from({ length: n }, (_, i) => seed[Math.floor(i / 6)]!));
    };
    await assert.rejects(rngHealthTest(sample).run(), failsWith(/repeated/));
  });

  it('fails a generator biased towards zero without long runs, on the adaptive proportion', async () => {
    // Every fourth byte is zero and the others never are: no runs at all, but a quarter of each window.
    const sample = (n: number) => {
      const b = randomBytes(n);
      for (let i = 0; i < n; i++) b[i] = i % 4 === 0 ? 0 : 1 + (b[i]! % 255);
      return b;
    };
    await assert.rejects(rngHealthTest(sample).run(), failsWith(/filled \d+ of 512 samples in a window/));
  });

  it('fails a generator that returns the same block on every call', async () => {
    const block = randomBytes(4096);
    await assert.rejects(
      rngHealthTest((n) => Buffer.from(block.subarray(0, n))).run(),
      failsWith(/two consecutive 32-byte outputs are equal/),
    );
  });

  it('fails a generator that returns fewer bytes than asked', async () => {
    await assert.rejects(
      rngHealthTest((n) => randomBytes(n - 1)).run(),
      failsWith(/asked for 4096 bytes, it gave 4095/),
    );
  });
});
