import { diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import { CofferError } from '../errors.js';
import { asymmetricKeyKind } from './asymmetric-keys.js';
import { assertByteRange, assertOneOf } from './input-checks.js';

/** Hashes for the optional HKDF (RFC 5869) over the shared secret. */
export const AGREEMENT_KDFS = ['hkdf-sha256', 'hkdf-sha384', 'hkdf-sha512'] as const;
export type AgreementKdf = (typeof AGREEMENT_KDFS)[number];

export interface AgreementOptions {
  /** Derive `length` bytes with HKDF instead of returning the raw x-coordinate. */
  readonly kdf?: AgreementKdf;
  readonly salt?: Uint8Array;
  readonly info?: Uint8Array;
  readonly length?: number;
}

/**
 * ECDH (SP 800-56A, the x-coordinate of d·Q) between the device's `privateKey` and a peer's public
 * key on the same curve (P-256 or P-384). The peer key comes through `importPublicKey`, whose SPKI
 * parsing rejects points that are not on the curve.
 *
 * @throws CofferError ERR_ALGORITHM unless both keys are EC keys on one curve;
 *   ERR_CRYPTO_INPUT for HKDF options out of range.
 */
export function deriveSharedSecret(
  privateKey: KeyObject,
  peerPublicKey: KeyObject,
  options: AgreementOptions = {},
): Buffer {
  const kind = asymmetricKeyKind(privateKey);
  if ((kind !== 'ec-p256' && kind !== 'ec-p384') || privateKey.type !== 'private') {
    throw new CofferError('ERR_ALGORITHM', 'ECDH needs a P-256 or P-384 private key.', { field: 'key' });
  }
  const peerKind = asymmetricKeyKind(peerPublicKey);
  if (peerKind !== kind) {
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      `The peer key is ${peerKind}; it must be on the same curve (${kind}).`,
      {
        field: 'publicKey',
      },
    );
  }
  let secret: Buffer;
  try {
    secret = diffieHellman({ privateKey, publicKey: peerPublicKey });
  } catch (cause) {
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      'The peer public key does not agree with this key.',
      { field: 'publicKey' },
      { cause },
    );
  }
  if (options.kdf === undefined) {
    if (options.salt !== undefined || options.info !== undefined || options.length !== undefined) {
      throw new CofferError('ERR_CRYPTO_INPUT', 'Salt, info and length apply only with a KDF.', {
        field: 'kdf',
      });
    }
    return secret;
  }
  assertOneOf(options.kdf, AGREEMENT_KDFS, 'key-derivation function');
  if (options.salt !== undefined) assertByteRange(options.salt, 'salt', 0, 1024);
  if (options.info !== undefined) assertByteRange(options.info, 'info', 0, 1024);
  const hash = options.kdf.slice(5) as 'sha256' | 'sha384' | 'sha512';
  const max = 255 * { sha256: 32, sha384: 48, sha512: 64 }[hash];
  const length = options.length ?? 32;
  if (!Number.isInteger(length) || length < 1 || length > max) {
    throw new CofferError('ERR_CRYPTO_INPUT', `HKDF gives 1 to ${max} bytes with ${hash}.`, {
      field: 'length',
    });
  }
  return Buffer.from(
    hkdfSync(hash, secret, options.salt ?? Buffer.alloc(0), options.info ?? Buffer.alloc(0), length),
  );
}
