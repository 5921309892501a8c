import { createHash } from 'node:crypto';
import { assertBytes, assertOneOf } from './input-checks.js';

/** The digests the device offers, by the names the API and the protocol use (Node's names too). */
export const HASH_ALGORITHMS = [
  'sha1',
  'sha224',
  'sha256',
  'sha384',
  'sha512',
  'sha3-256',
  'sha3-384',
  'sha3-512',
  'sm3',
] as const;

export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

const DIGEST_BYTES: Record<HashAlgorithm, number> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  'sha3-256': 32,
  'sha3-384': 48,
  'sha3-512': 64,
  sm3: 32,
};

/** The output length of `algorithm` in bytes. */
export function digestLength(algorithm: HashAlgorithm): number {
  return DIGEST_BYTES[algorithm];
}

/**
 * The digest of `data`. (SM3 over the SM2 Z-value of a signer is `computeSm2Digest`.)
 *
 * @throws CofferError ERR_ALGORITHM for an unknown algorithm; ERR_CRYPTO_INPUT when data is not bytes.
 */
export function hashData(algorithm: HashAlgorithm, data: Uint8Array): Buffer {
  assertOneOf(algorithm, HASH_ALGORITHMS, 'hash algorithm');
  assertBytes(data, 'data');
  return createHash(algorithm).update(data).digest();
}
