import { CofferError } from '../errors.js';

/**
 * First-line assertions of the crypto engine (as `abytes` in noble-hashes): every function checks
 * the shape of its inputs before it touches OpenSSL, so a wrong length is a clear ERR_CRYPTO_INPUT
 * naming the field, never an OpenSSL message.
 */

/**
 * Asserts that `value` is a byte array whose length is one of `lengths` (any length when none given).
 *
 * @throws CofferError ERR_CRYPTO_INPUT otherwise.
 */
export function assertBytes(
  value: unknown,
  field: string,
  ...lengths: number[]
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CofferError('ERR_CRYPTO_INPUT', `${field} must be bytes.`, { field });
  }
  if (lengths.length > 0 && !lengths.includes(value.length)) {
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      `${field} must be ${lengths.join(' or ')} bytes long, not ${value.length}.`,
      { field, length: value.length },
    );
  }
}

/**
 * Asserts that `value` is a byte array of `min` to `max` bytes, inclusive.
 *
 * @throws CofferError ERR_CRYPTO_INPUT otherwise.
 */
export function assertByteRange(
  value: unknown,
  field: string,
  min: number,
  max: number,
): asserts value is Uint8Array {
  assertBytes(value, field);
  if (value.length < min || value.length > max) {
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      `${field} must be ${min} to ${max} bytes long, not ${value.length}.`,
      { field, length: value.length },
    );
  }
}

/**
 * Asserts that `value` is one of `allowed`, naming them all in the refusal.
 *
 * @throws CofferError ERR_ALGORITHM otherwise.
 */
export function assertOneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  field: string,
): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new CofferError(
      'ERR_ALGORITHM',
      `${typeof value === 'string' ? `'${value}'` : 'That'} is not a ${field} of this device; use ${allowed.join(', ')}.`,
      { field },
    );
  }
}

/** A `Buffer` view of the same memory (no copy), so Node's APIs and `Buffer` methods apply. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Big-endian unsigned bytes of `value`, left-padded with zeros to `length`. */
export function bigintToBytes(value: bigint, length: number): Buffer {
  const hex = value.toString(16);
  if (hex.length > length * 2) throw new RangeError('value does not fit');
  return Buffer.from(hex.padStart(length * 2, '0'), 'hex');
}

/** The unsigned big-endian integer of `bytes` (0 for none). */
export function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${asBuffer(bytes).toString('hex')}`);
}
