import { randomBytes } from 'node:crypto';

/**
 * Random bytes for IVs, drawn from OpenSSL's generator in 64 KiB blocks and handed out in slices.
 * A call into OpenSSL costs a few microseconds whatever the length, which at tens of thousands of
 * encryptions a second was the largest single cost of a 64-byte AES-GCM request. IVs are public, and
 * each slice is handed out once: a block is never rewritten (a new one is drawn when it runs out).
 */
export class RandomPool {
  readonly #blockBytes: number;
  #block: Buffer;
  #at = 0;

  constructor(blockBytes = 64 * 1024) {
    this.#blockBytes = blockBytes;
    this.#block = randomBytes(blockBytes);
  }

  /** `length` fresh random bytes (large requests bypass the pool). */
  take(length: number): Buffer {
    if (length > this.#blockBytes / 16) return randomBytes(length);
    if (this.#at + length > this.#block.length) {
      this.#block = randomBytes(this.#blockBytes);
      this.#at = 0;
    }
    const out = this.#block.subarray(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }
}
