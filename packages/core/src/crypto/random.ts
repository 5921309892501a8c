import { randomBytes } from 'node:crypto';
import { CofferError } from '../errors.js';

/** The most random bytes one request may ask for (64 KiB): larger amounts are many requests. */
export const MAX_RANDOM_BYTES = 65_536;

/**
 * `length` bytes from OpenSSL's DRBG (the generator the self-test checks at start).
 *
 * @throws CofferError ERR_CRYPTO_INPUT unless 1 ≤ length ≤ MAX_RANDOM_BYTES.
 */
export function generateRandom(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 1 || length > MAX_RANDOM_BYTES) {
    throw new CofferError('ERR_CRYPTO_INPUT', `Ask for 1 to ${MAX_RANDOM_BYTES} random bytes.`, {
      field: 'length',
    });
  }
  return randomBytes(length);
}
