import {
  constants,
  type KeyObject,
  privateEncrypt,
  publicDecrypt,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { CofferError } from '../errors.js';
import { type AsymmetricKeyKind, asymmetricKeyKind } from './asymmetric-keys.js';
import { digestLength } from './hash.js';
import { asBuffer, assertBytes, assertOneOf } from './input-checks.js';
import { encodeDigestInfo, encodePss, verifyPss } from './rsa-padding.js';
import { signSm2, verifySm2 } from './sm2.js';

/** Signature algorithms, by the names the API, the protocol and `coffer client sign --alg` use. */
export const SIGNATURE_ALGORITHMS = [
  'rsa-pkcs1-sha256',
  'rsa-pkcs1-sha384',
  'rsa-pkcs1-sha512',
  'rsa-pss-sha256',
  'rsa-pss-sha384',
  'rsa-pss-sha512',
  'ecdsa-sha256',
  'ecdsa-sha384',
  'ecdsa-sha512',
  'sm2-sm3',
  'ed25519',
] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

/** ECDSA and SM2 signatures: DER SEQUENCE { r, s } (default) or raw r ‖ s (IEEE P1363, WebCrypto's). */
export type SignatureFormat = 'der' | 'raw';

export interface SignOptions {
  /** `message` is the digest of the data under the algorithm's hash (for SM2: e = SM3(Z ‖ M)). Not for Ed25519. */
  readonly prehashed?: boolean;
  /** ECDSA and SM2 only. */
  readonly format?: SignatureFormat;
  /** SM2 only: the signer ID (default 1234567812345678). */
  readonly id?: Uint8Array;
  /** RSA-PSS only: the salt length (default the digest length). */
  readonly saltLength?: number;
}

type Hash = 'sha256' | 'sha384' | 'sha512';
type Scheme = 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'sm2' | 'ed25519';

interface Parsed {
  readonly scheme: Scheme;
  readonly hash: Hash | 'sm3' | undefined;
}

const KINDS: Record<Scheme, readonly AsymmetricKeyKind[]> = {
  'rsa-pkcs1': ['rsa'],
  'rsa-pss': ['rsa'],
  ecdsa: ['ec-p256', 'ec-p384'],
  sm2: ['sm2'],
  ed25519: ['ed25519'],
};

function parse(
  algorithm: SignatureAlgorithm,
  key: KeyObject,
  options: SignOptions,
  message: Uint8Array,
): Parsed {
  assertOneOf(algorithm, SIGNATURE_ALGORITHMS, 'signature algorithm');
  assertBytes(message, options.prehashed ? 'digest' : 'data');
  const scheme = (
    algorithm === 'ed25519' ? 'ed25519' : algorithm.slice(0, algorithm.lastIndexOf('-'))
  ) as Scheme;
  const hash =
    algorithm === 'ed25519' ? undefined : (algorithm.slice(algorithm.lastIndexOf('-') + 1) as Hash | 'sm3');
  const kind = asymmetricKeyKind(key);
  if (!KINDS[scheme].includes(kind)) {
    throw new CofferError('ERR_ALGORITHM', `${algorithm} does not work with a ${kind} key.`, {
      field: 'algorithm',
    });
  }
  if (options.format !== undefined) {
    assertOneOf(options.format, ['der', 'raw'] as const, 'signature format');
    if (scheme !== 'ecdsa' && scheme !== 'sm2') {
      throw new CofferError('ERR_CRYPTO_INPUT', 'Only ECDSA and SM2 signatures have a format.', {
        field: 'format',
      });
    }
  }
  if (options.id !== undefined && scheme !== 'sm2') {
    throw new CofferError('ERR_CRYPTO_INPUT', 'Only SM2 takes a signer ID.', { field: 'id' });
  }
  if (options.saltLength !== undefined) {
    if (scheme !== 'rsa-pss')
      throw new CofferError('ERR_CRYPTO_INPUT', 'Only RSA-PSS takes a salt length.', { field: 'saltLength' });
    if (!Number.isInteger(options.saltLength) || options.saltLength < 0) {
      throw new CofferError('ERR_CRYPTO_INPUT', 'The salt length is a whole number of bytes.', {
        field: 'saltLength',
      });
    }
  }
  if (options.prehashed) {
    if (scheme === 'ed25519') {
      throw new CofferError('ERR_ALGORITHM', 'Ed25519 signs the message itself, never a digest.', {
        field: 'prehashed',
      });
    }
    assertBytes(message, 'digest', hash === 'sm3' ? 32 : digestLength(hash!));
  }
  return { scheme, hash };
}

function modulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

function nobleCurve(key: KeyObject) {
  return asymmetricKeyKind(key) === 'ec-p256' ? p256 : p384;
}

/** The uncompressed point and, for a private key, the scalar, as noble takes them. */
function nobleKey(key: KeyObject, part: 'd' | 'point'): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (part === 'd') return Buffer.from(jwk.d!, 'base64url');
  return Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x!, 'base64url'),
    Buffer.from(jwk.y!, 'base64url'),
  ]);
}

/**
 * Signs `message` (or its digest, with `prehashed`) with `privateKey`. Outputs are the standard
 * encodings: PKCS#1 / PSS for RSA, DER (or raw r ‖ s) for ECDSA and SM2, 64 raw bytes for Ed25519,
 * so OpenSSL and Node verify them unchanged. Over data everything runs in OpenSSL except SM2 (see
 * sm2.ts); over a digest, RSA pads here and signs in OpenSSL, ECDSA uses @noble/curves (RFC 6979
 * with extra entropy) because Node has no raw-digest ECDSA.
 *
 * @throws CofferError ERR_ALGORITHM for an unknown algorithm or one the key cannot do, or a digest
 *   for Ed25519; ERR_CRYPTO_INPUT for an option that does not apply or a digest of the wrong length.
 */
export function signData(
  algorithm: SignatureAlgorithm,
  privateKey: KeyObject,
  message: Uint8Array,
  options: SignOptions = {},
): Buffer {
  const { scheme, hash } = parse(algorithm, privateKey, options, message);
  if (privateKey.type !== 'private') throw new CofferError('ERR_ALGORITHM', 'Signing needs the private key.');
  const saltLength = options.saltLength ?? (hash === 'sm3' || !hash ? 0 : digestLength(hash));
  switch (scheme) {
    case 'sm2':
      return signSm2(privateKey, message, options);
    case 'ed25519':
      return sign(null, message, privateKey);
    case 'ecdsa':
      if (options.prehashed) {
        const curve = nobleCurve(privateKey);
        const format = options.format === 'raw' ? 'compact' : 'der';
        return asBuffer(
          curve.sign(message, nobleKey(privateKey, 'd'), {
            prehash: false,
            lowS: false,
            format,
            extraEntropy: true,
          }),
        );
      }
      return sign(hash!, message, {
        key: privateKey,
        dsaEncoding: options.format === 'raw' ? 'ieee-p1363' : 'der',
      });
    case 'rsa-pkcs1':
      if (options.prehashed) {
        return privateEncrypt(
          { key: privateKey, padding: constants.RSA_PKCS1_PADDING },
          encodeDigestInfo(hash as Hash, message),
        );
      }
      return sign(hash!, message, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
    case 'rsa-pss':
      if (options.prehashed) {
        const block = encodePss(hash as Hash, message, modulusBits(privateKey), saltLength);
        return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block);
      }
      if (Math.ceil((modulusBits(privateKey) - 1) / 8) < digestLength(hash as Hash) + saltLength + 2) {
        throw new CofferError('ERR_CRYPTO_INPUT', 'The PSS salt is too long for this key.', {
          field: 'saltLength',
        });
      }
      return sign(hash!, message, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
  }
}

/**
 * Whether `signature` is valid for `message` (or its digest) under `key` — a public key, a private
 * key's public half, or a client's SPKI through `importPublicKey`. A malformed signature is simply
 * not valid: failure is a value, not an error.
 *
 * @throws CofferError ERR_ALGORITHM / ERR_CRYPTO_INPUT as for signData (algorithm, key, options,
 *   digest length), never for the signature itself.
 */
export function verifySignature(
  algorithm: SignatureAlgorithm,
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  options: SignOptions = {},
): { valid: boolean } {
  const { scheme, hash } = parse(algorithm, key, options, message);
  assertBytes(signature, 'signature');
  const saltLength = options.saltLength ?? (hash === 'sm3' || !hash ? 0 : digestLength(hash));
  try {
    return { valid: verifyChecked(scheme, hash, key, message, signature, options, saltLength) };
  } catch (error) {
    // OpenSSL and noble throw on some malformed signatures: those are invalid signatures.
    if (error instanceof CofferError) throw error;
    return { valid: false };
  }
}

function verifyChecked(
  scheme: Scheme,
  hash: Hash | 'sm3' | undefined,
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  options: SignOptions,
  saltLength: number,
): boolean {
  switch (scheme) {
    case 'sm2':
      return verifySm2(key, message, signature, options);
    case 'ed25519':
      return signature.length === 64 && verify(null, message, key, signature);
    case 'ecdsa':
      if (options.prehashed) {
        const format = options.format === 'raw' ? 'compact' : 'der';
        return nobleCurve(key).verify(signature, message, nobleKey(key, 'point'), {
          prehash: false,
          lowS: false,
          format,
        });
      }
      return verify(
        hash!,
        message,
        { key, dsaEncoding: options.format === 'raw' ? 'ieee-p1363' : 'der' },
        signature,
      );
    case 'rsa-pkcs1': {
      if (!options.prehashed)
        return verify(hash!, message, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      const expected = encodeDigestInfo(hash as Hash, message);
      const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
      return recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    case 'rsa-pss': {
      const k = Math.ceil(modulusBits(key) / 8);
      if (signature.length !== k) return false;
      if (!options.prehashed) {
        return verify(
          hash!,
          message,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
          signature,
        );
      }
      const block = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
      return verifyPss(hash as Hash, message, block, modulusBits(key), saltLength);
    }
  }
}
