import { constants, type KeyObject, privateDecrypt, publicEncrypt } from 'node:crypto';
import { CofferError } from '../errors.js';
import { asymmetricKeyKind } from './asymmetric-keys.js';
import { assertBytes, assertOneOf } from './input-checks.js';
import { decodePkcs1Encryption } from './rsa-padding.js';
import { decryptSm2, encryptSm2, type Sm2CiphertextFormat } from './sm2.js';

/** Public-key encryption schemes, by the names the API and the protocol use. */
export const ASYMMETRIC_ENCRYPTIONS = ['rsa-oaep-sha1', 'rsa-oaep-sha256', 'rsa-pkcs1', 'sm2'] as const;
export type AsymmetricEncryption = (typeof ASYMMETRIC_ENCRYPTIONS)[number];

export interface AsymmetricEncryptOptions {
  /** RSA-OAEP label (default empty). */
  readonly label?: Uint8Array;
  /** SM2 ciphertext layout: `der` (default, OpenSSL's) or raw `c1c3c2`. */
  readonly sm2Format?: Sm2CiphertextFormat;
}

const OAEP_HASH = { 'rsa-oaep-sha1': 'sha1', 'rsa-oaep-sha256': 'sha256' } as const;

function rsaBytes(key: KeyObject): number {
  return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

function assertKeyFor(scheme: AsymmetricEncryption, key: KeyObject): void {
  const kind = asymmetricKeyKind(key);
  const wanted = scheme === 'sm2' ? 'sm2' : 'rsa';
  if (kind !== wanted) {
    throw new CofferError(
      'ERR_ALGORITHM',
      `${scheme} needs ${wanted === 'rsa' ? 'an RSA' : 'an SM2'} key, not ${kind}.`,
    );
  }
}

function checkOptions(scheme: AsymmetricEncryption, options: AsymmetricEncryptOptions): void {
  if (options.label !== undefined && !scheme.startsWith('rsa-oaep')) {
    throw new CofferError('ERR_CRYPTO_INPUT', 'Only RSA-OAEP takes a label.', { field: 'label' });
  }
  if (options.label !== undefined) assertBytes(options.label, 'label');
  if (options.sm2Format !== undefined && scheme !== 'sm2') {
    throw new CofferError('ERR_CRYPTO_INPUT', 'Only SM2 takes a ciphertext format.', { field: 'format' });
  }
  if (options.sm2Format !== undefined)
    assertOneOf(options.sm2Format, ['der', 'c1c3c2'] as const, 'SM2 ciphertext format');
}

/**
 * Encrypts `plaintext` to `key` (a public key, or the public half of a private one).
 * RSA: OAEP with SHA-1 or SHA-256 (MGF1 with the same hash), or PKCS#1 v1.5; SM2: GB/T 32918.4.
 *
 * @throws CofferError ERR_ALGORITHM for an unknown scheme or a key of the wrong kind;
 *   ERR_CRYPTO_INPUT when the plaintext is empty (SM2) or too long for the key (RSA).
 */
export function encryptAsymmetric(
  scheme: AsymmetricEncryption,
  key: KeyObject,
  plaintext: Uint8Array,
  options: AsymmetricEncryptOptions = {},
): Buffer {
  assertOneOf(scheme, ASYMMETRIC_ENCRYPTIONS, 'public-key encryption scheme');
  assertBytes(plaintext, 'plaintext');
  assertKeyFor(scheme, key);
  checkOptions(scheme, options);
  if (scheme === 'sm2') return encryptSm2(key, plaintext, options.sm2Format);
  const k = rsaBytes(key);
  const max = scheme === 'rsa-pkcs1' ? k - 11 : k - 2 * (scheme === 'rsa-oaep-sha1' ? 20 : 32) - 2;
  if (plaintext.length > max) {
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      `At most ${max} bytes can be encrypted with ${scheme} under this key.`,
      {
        field: 'plaintext',
        length: plaintext.length,
      },
    );
  }
  if (scheme === 'rsa-pkcs1') return publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, plaintext);
  return publicEncrypt(
    {
      key,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: OAEP_HASH[scheme],
      ...(options.label ? { oaepLabel: options.label } : {}),
    },
    plaintext,
  );
}

/**
 * Decrypts with the private `key`. Every way a ciphertext can fail to open is the one refusal
 * ERR_CIPHERTEXT (no padding oracle by error code). PKCS#1 v1.5 is decoded here because Node 20 no
 * longer does it (CVE-2023-46809); the RSA operation stays in OpenSSL.
 *
 * @throws CofferError ERR_CIPHERTEXT when it does not open; ERR_CRYPTO_INPUT when its length is not
 *   the modulus length (RSA) or it is malformed (SM2); ERR_ALGORITHM as for encryption.
 */
export function decryptAsymmetric(
  scheme: AsymmetricEncryption,
  key: KeyObject,
  ciphertext: Uint8Array,
  options: Omit<AsymmetricEncryptOptions, 'sm2Format'> = {},
): Buffer {
  assertOneOf(scheme, ASYMMETRIC_ENCRYPTIONS, 'public-key encryption scheme');
  assertBytes(ciphertext, 'ciphertext');
  assertKeyFor(scheme, key);
  checkOptions(scheme, options);
  if (key.type !== 'private') throw new CofferError('ERR_ALGORITHM', 'Decryption needs the private key.');
  if (scheme === 'sm2') return decryptSm2(key, ciphertext);
  const k = rsaBytes(key);
  if (ciphertext.length !== k) {
    throw new CofferError('ERR_CRYPTO_INPUT', `An RSA ciphertext under this key is ${k} bytes long.`, {
      field: 'ciphertext',
      length: ciphertext.length,
    });
  }
  try {
    if (scheme === 'rsa-pkcs1') {
      return decodePkcs1Encryption(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, ciphertext));
    }
    return privateDecrypt(
      {
        key,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: OAEP_HASH[scheme],
        ...(options.label ? { oaepLabel: options.label } : {}),
      },
      ciphertext,
    );
  } catch (cause) {
    throw new CofferError('ERR_CIPHERTEXT', 'The RSA ciphertext does not open with this key.', {}, { cause });
  }
}
