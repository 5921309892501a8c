import type { KeyObject } from 'node:crypto';
import { CofferError } from '../errors.js';

/** A symmetric key: a secret `KeyObject` as the keyring holds it, or its raw bytes. */
export type SecretKey = KeyObject | Uint8Array;

/**
 * The length of a secret key in bytes, asserting that it is one of `lengths` (any when none given).
 *
 * @throws CofferError ERR_CRYPTO_INPUT for a key of another length or an asymmetric key.
 */
export function secretKeyLength(key: SecretKey, ...lengths: number[]): number {
  let length: number | undefined;
  if (key instanceof Uint8Array) length = key.length;
  else if (key.type === 'secret') length = key.symmetricKeySize;
  if (length === undefined) {
    throw new CofferError('ERR_CRYPTO_INPUT', 'This operation needs a secret (symmetric) key.', {
      field: 'key',
    });
  }
  if (lengths.length > 0 && !lengths.includes(length)) {
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      `The key must be ${lengths.join(' or ')} bytes long, not ${length}.`,
      {
        field: 'key',
        length,
      },
    );
  }
  return length;
}
