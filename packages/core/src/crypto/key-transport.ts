import { createCipheriv, createDecipheriv, KeyObject, randomBytes } from 'node:crypto';
import { CofferError } from '../errors.js';
import { decryptAsymmetric, encryptAsymmetric } from './asym-encrypt.js';
import { assertByteRange, assertBytes, assertOneOf } from './input-checks.js';
import { type SecretKey, secretKeyLength } from './secret-key.js';

/**
 * Key-wrapping schemes: AES key wrap (RFC 3394, `aes-kw`) and with padding (RFC 5649, `aes-kwp`)
 * under an AES key-encryption key; RSA-OAEP and SM2 encryption under an RSA or SM2 key.
 */
export const WRAP_ALGORITHMS = ['aes-kw', 'aes-kwp', 'rsa-oaep-sha1', 'rsa-oaep-sha256', 'sm2'] as const;
export type WrapAlgorithm = (typeof WRAP_ALGORITHMS)[number];

/** Key material one request may wrap or generate: 1 byte … 8 KiB (RSA-OAEP is further bound by the modulus). */
export const MAX_WRAPPED_KEY_BYTES = 8192;

// The default initial values of RFC 3394 §2.2.3.1 and RFC 5649 §3 (the AIV's constant half).
const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
const KWP_IV = Buffer.from('a65959a6', 'hex');

function aesWrapName(algorithm: 'aes-kw' | 'aes-kwp', kek: SecretKey): string {
  const bits = secretKeyLength(kek, 16, 24, 32) * 8;
  return algorithm === 'aes-kw' ? `id-aes${bits}-wrap` : `id-aes${bits}-wrap-pad`;
}

function assertAsymmetricKek(kek: SecretKey | KeyObject): asserts kek is KeyObject {
  if (!(kek instanceof KeyObject) || kek.type === 'secret') {
    throw new CofferError('ERR_ALGORITHM', 'RSA-OAEP and SM2 wrapping need an RSA or SM2 key.', {
      field: 'key',
    });
  }
}

/**
 * Wraps `keyMaterial` under `kek`: an AES key for aes-kw / aes-kwp, an RSA or SM2 key (its public
 * half) for the others. RFC 3394 needs at least 16 bytes in whole 8-byte blocks; RFC 5649 takes any length.
 *
 * @throws CofferError ERR_ALGORITHM for an unknown scheme or a KEK of the wrong kind;
 *   ERR_CRYPTO_INPUT for key material of a length the scheme cannot wrap.
 */
export function wrapKeyMaterial(
  algorithm: WrapAlgorithm,
  kek: SecretKey | KeyObject,
  keyMaterial: Uint8Array,
): Buffer {
  assertOneOf(algorithm, WRAP_ALGORITHMS, 'wrapping algorithm');
  assertByteRange(keyMaterial, 'keyMaterial', 1, MAX_WRAPPED_KEY_BYTES);
  if (algorithm === 'aes-kw' || algorithm === 'aes-kwp') {
    if (algorithm === 'aes-kw' && (keyMaterial.length < 16 || keyMaterial.length % 8 !== 0)) {
      throw new CofferError(
        'ERR_CRYPTO_INPUT',
        'AES key wrap (RFC 3394) takes 16 bytes or more in whole 8-byte blocks; use aes-kwp.',
        {
          field: 'keyMaterial',
          length: keyMaterial.length,
        },
      );
    }
    const cipher = createCipheriv(aesWrapName(algorithm, kek), kek, algorithm === 'aes-kw' ? KW_IV : KWP_IV);
    return Buffer.concat([cipher.update(keyMaterial), cipher.final()]);
  }
  assertAsymmetricKek(kek);
  return encryptAsymmetric(algorithm, kek, keyMaterial);
}

/**
 * Unwraps what `wrapKeyMaterial` produced (or any standard implementation of the scheme).
 *
 * @throws CofferError ERR_CIPHERTEXT when the integrity check fails; ERR_CRYPTO_INPUT for a wrapped
 *   length the scheme cannot produce; ERR_ALGORITHM as for wrapKeyMaterial.
 */
export function unwrapKeyMaterial(
  algorithm: WrapAlgorithm,
  kek: SecretKey | KeyObject,
  wrapped: Uint8Array,
): Buffer {
  assertOneOf(algorithm, WRAP_ALGORITHMS, 'wrapping algorithm');
  assertBytes(wrapped, 'wrapped');
  if (algorithm === 'aes-kw' || algorithm === 'aes-kwp') {
    const name = aesWrapName(algorithm, kek);
    const min = algorithm === 'aes-kw' ? 24 : 16;
    if (wrapped.length < min || wrapped.length % 8 !== 0) {
      throw new CofferError(
        'ERR_CRYPTO_INPUT',
        `A key wrapped with ${algorithm} is at least ${min} bytes in whole 8-byte blocks.`,
        {
          field: 'wrapped',
          length: wrapped.length,
        },
      );
    }
    try {
      const decipher = createDecipheriv(name, kek, algorithm === 'aes-kw' ? KW_IV : KWP_IV);
      return Buffer.concat([decipher.update(wrapped), decipher.final()]);
    } catch (cause) {
      throw new CofferError(
        'ERR_CIPHERTEXT',
        'The wrapped key does not open under this key-encryption key.',
        {},
        { cause },
      );
    }
  }
  assertAsymmetricKek(kek);
  return decryptAsymmetric(algorithm, kek, wrapped);
}

/**
 * A fresh data key of `length` random bytes and the same key wrapped under `kek`, like a KMS
 * "GenerateDataKey": the caller encrypts with the plaintext, forgets it, and keeps the wrapped form.
 *
 * @throws CofferError as wrapKeyMaterial; ERR_CRYPTO_INPUT unless 1 ≤ length ≤ MAX_WRAPPED_KEY_BYTES.
 */
export function generateDataKey(
  algorithm: WrapAlgorithm,
  kek: SecretKey | KeyObject,
  length: number,
): { plaintext: Buffer; wrapped: Buffer } {
  if (!Number.isSafeInteger(length) || length < 1 || length > MAX_WRAPPED_KEY_BYTES) {
    throw new CofferError('ERR_CRYPTO_INPUT', `A data key is 1 to ${MAX_WRAPPED_KEY_BYTES} bytes long.`, {
      field: 'length',
    });
  }
  const plaintext = randomBytes(length);
  return { plaintext, wrapped: wrapKeyMaterial(algorithm, kek, plaintext) };
}
