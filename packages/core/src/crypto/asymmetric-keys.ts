import { createPublicKey, type KeyObject } from 'node:crypto';
import { CofferError } from '../errors.js';
import { DER_BIT_STRING, DER_OID, DER_SEQUENCE, readDerElements, readDerSequence } from './der.js';
import { asBuffer } from './input-checks.js';

/** The asymmetric keys the engine works with, as the key catalogue's families name them. */
export type AsymmetricKeyKind = 'rsa' | 'ec-p256' | 'ec-p384' | 'sm2' | 'ed25519';

// id-ecPublicKey and the SM2 curve (GB/T 32918.5 / GM/T 0006: 1.2.156.10197.1.301), DER content.
const EC_PUBLIC_KEY_OID = Buffer.from('2a8648ce3d0201', 'hex');
const SM2_CURVE_OID = Buffer.from('2a811ccf5501822d', 'hex');

const kinds = new WeakMap<KeyObject, AsymmetricKeyKind>();

/**
 * What kind of asymmetric key `key` is. Node names an SM2 key `ec`/`SM2` when it generated it but
 * gives it no type at all once re-imported from PKCS#8 or SPKI; both are recognised here by the
 * curve OID, so SM2 keys work however they were loaded.
 *
 * @throws CofferError ERR_ALGORITHM for secret keys and for key types the device does not offer.
 */
export function asymmetricKeyKind(key: KeyObject): AsymmetricKeyKind {
  const known = kinds.get(key);
  if (known) return known;
  if (key.type === 'secret') {
    throw new CofferError('ERR_ALGORITHM', 'This operation needs an asymmetric key, not a secret key.');
  }
  let kind: AsymmetricKeyKind | undefined;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      kind = 'rsa';
      break;
    case 'ed25519':
      kind = 'ed25519';
      break;
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      kind =
        curve === 'prime256v1'
          ? 'ec-p256'
          : curve === 'secp384r1'
            ? 'ec-p384'
            : curve === 'SM2'
              ? 'sm2'
              : undefined;
      break;
    }
    case undefined:
      kind = spkiNamesSm2(publicHalf(key).export({ type: 'spki', format: 'der' })) ? 'sm2' : undefined;
      break;
  }
  if (!kind) {
    throw new CofferError(
      'ERR_ALGORITHM',
      `A ${key.asymmetricKeyType ?? 'key of an unknown type'} is not a key type this device works with.`,
    );
  }
  kinds.set(key, kind);
  return kind;
}

/** The public half of `key` (the key itself when it is public). */
export function publicHalf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/**
 * Reads a public key sent by a client: SPKI as PEM text (string or bytes) or DER.
 *
 * @throws CofferError ERR_CRYPTO_INPUT when it does not parse; ERR_ALGORITHM when it is of a type
 *   the device does not offer.
 */
export function importPublicKey(spki: string | Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    const text = typeof spki === 'string' ? spki : undefined;
    const bytes = typeof spki === 'string' ? undefined : asBuffer(spki);
    const pem =
      text ??
      (bytes!.subarray(0, 10).toString('latin1') === '-----BEGIN' ? bytes!.toString('latin1') : undefined);
    // Node would derive a public key from a private-key PEM; a client sending one has made a mistake.
    if (pem !== undefined && !pem.trimStart().startsWith('-----BEGIN PUBLIC KEY-----'))
      throw new Error('not SPKI PEM');
    key = pem
      ? createPublicKey({ key: pem, format: 'pem', type: 'spki' })
      : createPublicKey({ key: bytes!, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      'The public key is not SPKI in PEM or DER.',
      { field: 'publicKey' },
      { cause },
    );
  }
  if (key.type !== 'public') {
    throw new CofferError('ERR_CRYPTO_INPUT', 'The public key is not SPKI in PEM or DER.', {
      field: 'publicKey',
    });
  }
  const kind = asymmetricKeyKind(key);
  if (kind.startsWith('ec-') && !spkiNamesCurve(key.export({ type: 'spki', format: 'der' }))) {
    // RFC 5480 §2.1.1: PKIX EC keys name their curve. Explicit parameters are how invalid-curve and
    // modified-generator keys are smuggled in (Wycheproof's UnnamedCurve cases), so they are refused.
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      'The public key must name its curve, not spell out its parameters.',
      {
        field: 'publicKey',
      },
    );
  }
  return key;
}

/** True when an EC SPKI carries a curve OID as its parameters (not explicit ECParameters). */
function spkiNamesCurve(spki: Buffer): boolean {
  try {
    const [algorithm] = readDerSequence(spki, [DER_SEQUENCE, DER_BIT_STRING]);
    const ids = readDerElements(algorithm!);
    return ids.length === 2 && ids[1]!.tag === DER_OID;
  } catch {
    return false;
  }
}

/** The SPKI PEM of the public half of `key`, the form every public-key output of the device takes. */
export function exportPublicKeyPem(key: KeyObject): string {
  return publicHalf(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** True when the SPKI names id-ecPublicKey on the SM2 curve. */
function spkiNamesSm2(spki: Buffer): boolean {
  try {
    const [algorithm] = readDerSequence(spki, [DER_SEQUENCE, DER_BIT_STRING]);
    const ids = readDerElements(algorithm!);
    return (
      ids.length === 2 &&
      ids.every((e) => e.tag === DER_OID) &&
      ids[0]!.value.equals(EC_PUBLIC_KEY_OID) &&
      ids[1]!.value.equals(SM2_CURVE_OID)
    );
  } catch {
    return false;
  }
}
