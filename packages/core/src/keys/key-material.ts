import {
  createCipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateKeyPairCb,
  type KeyObject,
  constants as nodeConstants,
  privateDecrypt,
  publicEncrypt,
  randomBytes as randomBytesCb,
  sign as signCb,
  verify as verifyCb,
} from 'node:crypto';
import { promisify } from 'node:util';
import { CofferError } from '../errors.js';
import { type KeyTypeInfo, type KeyTypeName, keyTypeInfo } from './key-types.js';

const randomBytes = promisify(randomBytesCb);
const generateKeyPair = promisify(generateKeyPairCb) as unknown as (
  type: string,
  options: object,
) => Promise<{ privateKey: KeyObject; publicKey: KeyObject }>;
const signAsync = promisify(signCb) as (alg: string | null, data: Buffer, key: KeyObject) => Promise<Buffer>;
const verifyAsync = promisify(verifyCb) as (
  alg: string | null,
  data: Buffer,
  key: KeyObject,
  signature: Buffer,
) => Promise<boolean>;

/**
 * Key material as the device keeps it, and what may be shown of it: the check value of a secret or
 * the public key of a key pair.
 */
export interface KeyMaterial {
  type: KeyTypeName;
  /** The raw secret (symmetric) or the PKCS#8 DER private key (asymmetric). Wipe after use. */
  material: Buffer;
  checkValue: string | null;
  publicKey: string | null;
}

/** DER of the SM2 curve OID 1.2.156.10197.1.301, as it appears in SM2 PKCS#8 and SPKI. */
const SM2_CURVE_OID = Buffer.from('06082a811ccf5501822d', 'hex');
const CONSISTENCY_MESSAGE = Buffer.from('coffer/pairwise-consistency/v1');

/**
 * Generates a new key of `type` inside the device: random bytes for secrets (DES parity set for
 * 3DES), Node's asynchronous key-pair generation for key pairs (RSA-4096 takes seconds; the event
 * loop stays free). Every key pair passes a pairwise consistency test before it is returned.
 *
 * @throws CofferError ERR_KEY_TYPE for an unknown type.
 * @throws CofferError ERR_KEY_MATERIAL when a new key pair fails its consistency test.
 */
export async function generateKeyMaterial(type: string): Promise<KeyMaterial> {
  const info = keyTypeInfo(type);
  if (info.keyClass === 'symmetric') {
    let secret = await randomBytes(info.bytes!);
    if (info.family === '3des') {
      // A key whose parts repeat is single DES in disguise; with random bytes this is 2^-64 likely.
      while (desPartsRepeat(secret)) secret = await randomBytes(info.bytes!);
      setDesOddParity(secret);
    }
    return describeSecret(info, secret);
  }
  const privateKey = await generatePrivateKey(info);
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return describePrivateKey(info, der);
}

async function generatePrivateKey(info: KeyTypeInfo): Promise<KeyObject> {
  switch (info.family) {
    case 'rsa':
      return (await generateKeyPair('rsa', { modulusLength: info.bits, publicExponent: 0x10001 })).privateKey;
    case 'ec':
    case 'sm2':
      return (await generateKeyPair('ec', { namedCurve: info.curve })).privateKey;
    case 'ed25519':
      return (await generateKeyPair('ed25519', {})).privateKey;
    default:
      throw new CofferError('ERR_INTERNAL', `${info.name} is not a key pair.`);
  }
}

/**
 * Describes a secret of a symmetric type: checks its length (and for 3DES that its parts differ)
 * and computes its check value. Takes ownership of `secret`.
 *
 * @throws CofferError ERR_KEY_MATERIAL when the secret does not fit the type.
 */
export function describeSecret(info: KeyTypeInfo, secret: Buffer): KeyMaterial {
  if (info.keyClass !== 'symmetric') throw new CofferError('ERR_INTERNAL', `${info.name} is not symmetric.`);
  const range = info.importBytes ?? { min: info.bytes!, max: info.bytes! };
  if (!Buffer.isBuffer(secret) || secret.length < range.min || secret.length > range.max) {
    const want = range.min === range.max ? `${range.min}` : `${range.min} to ${range.max}`;
    throw new CofferError(
      'ERR_KEY_MATERIAL',
      `${info.name} keys are ${want} bytes; this one is ${Buffer.isBuffer(secret) ? secret.length : 0}.`,
      { field: 'material' },
    );
  }
  if (info.family === '3des' && desPartsRepeat(secret)) {
    throw new CofferError(
      'ERR_KEY_MATERIAL',
      `This ${info.name} key repeats one DES key in adjacent parts, which makes it single DES; it is refused.`,
      { field: 'material' },
    );
  }
  return {
    type: info.name as KeyTypeName,
    material: secret,
    checkValue: computeCheckValue(info, secret),
    publicKey: null,
  };
}

/**
 * Describes a PKCS#8 DER private key of an asymmetric type: checks that it is of that type and
 * passes the pairwise consistency test (sign/verify; and encrypt/decrypt for RSA), and gives its
 * public key (SPKI PEM). Takes ownership of `der`.
 *
 * @throws CofferError ERR_KEY_MATERIAL when the key does not parse, is of another type or fails the test.
 */
export async function describePrivateKey(info: KeyTypeInfo, der: Buffer): Promise<KeyMaterial> {
  const privateKey = loadPrivateKey(der);
  const found = detectPrivateKeyType(privateKey, der);
  if (found !== info.name) {
    throw new CofferError(
      'ERR_KEY_MATERIAL',
      `The key is ${found ?? 'of a kind this device does not keep'}, not ${info.name}.`,
      { field: 'type' },
    );
  }
  const publicKey = createPublicKey(privateKey);
  await pairwiseConsistencyTest(info, privateKey, publicKey);
  return {
    type: info.name as KeyTypeName,
    material: der,
    checkValue: null,
    publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/**
 * The private key of PKCS#8 DER as a `KeyObject`. An SM2 key loaded this way does real SM2
 * (GB/T 32918) in Node 20, unlike the `KeyObject` that `generateKeyPair('ec', {namedCurve:'SM2'})`
 * returns, which signs plain ECDSA on the SM2 curve: always go through the DER.
 *
 * @throws CofferError ERR_KEY_MATERIAL when `der` is not a PKCS#8 private key.
 */
export function loadPrivateKey(der: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new CofferError(
      'ERR_KEY_MATERIAL',
      'The key is not a PKCS#8 private key this device can read.',
      {
        field: 'material',
      },
      { cause: error },
    );
  }
}

/**
 * The public key (SPKI) of stored asymmetric material, loaded so that SM2 keys do real SM2.
 *
 * @throws CofferError ERR_KEY_MATERIAL when `der` is not a PKCS#8 private key.
 */
export function publicKeyFromPkcs8(der: Buffer): KeyObject {
  const spki = createPublicKey(loadPrivateKey(der)).export({ format: 'der', type: 'spki' });
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

/**
 * Which catalogue type a private key is, or null when the device keeps no such keys (RSA of another
 * size, another curve, X25519…). `der` is its PKCS#8, needed to recognise SM2 (Node 20 reports no
 * key type for a re-imported SM2 key).
 */
export function detectPrivateKeyType(key: KeyObject, der: Buffer): KeyTypeName | null {
  const kind = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (kind === 'rsa') {
    const bits = details.modulusLength;
    // Only e = 65537 is generated; imports with another odd exponent ≥ 3 are still valid RSA.
    if (bits === 1024 || bits === 2048 || bits === 3072 || bits === 4096) return `RSA-${bits}`;
    return null;
  }
  if (kind === 'ec') {
    if (details.namedCurve === 'prime256v1') return 'EC-P256';
    if (details.namedCurve === 'secp384r1') return 'EC-P384';
    if (details.namedCurve === 'SM2') return 'SM2';
    return null;
  }
  if (kind === 'ed25519') return 'Ed25519';
  if (kind === undefined && der.includes(SM2_CURVE_OID)) return 'SM2';
  return null;
}

async function pairwiseConsistencyTest(info: KeyTypeInfo, privateKey: KeyObject, publicKey: KeyObject) {
  const fail = (what: string) =>
    new CofferError(
      'ERR_KEY_MATERIAL',
      `The ${info.name} key pair failed its pairwise consistency test (${what}).`,
    );
  let digest: string | null;
  let verifyKey = publicKey;
  switch (info.family) {
    case 'rsa':
      digest = 'sha256';
      break;
    case 'ec':
      digest = info.hash!;
      break;
    case 'sm2': {
      // Verify with the public key re-imported from SPKI, so that the check is real SM2 with SM3.
      const spki = publicKey.export({ format: 'der', type: 'spki' });
      verifyKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      digest = 'sm3';
      break;
    }
    case 'ed25519':
      digest = null;
      break;
    default:
      throw new CofferError('ERR_INTERNAL', `${info.name} is not a key pair.`);
  }
  try {
    const signature = await signAsync(digest, CONSISTENCY_MESSAGE, privateKey);
    if (!(await verifyAsync(digest, CONSISTENCY_MESSAGE, verifyKey, signature))) throw fail('sign/verify');
    const tampered = Buffer.from(CONSISTENCY_MESSAGE);
    tampered[0]! ^= 1;
    if (await verifyAsync(digest, tampered, verifyKey, signature)) throw fail('a changed message verified');
    if (info.family === 'rsa') {
      const oaep = { padding: nodeConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
      const ciphertext = publicEncrypt({ key: publicKey, ...oaep }, CONSISTENCY_MESSAGE);
      const plain = privateDecrypt({ key: privateKey, ...oaep }, ciphertext);
      if (!plain.equals(CONSISTENCY_MESSAGE)) throw fail('encrypt/decrypt');
    }
  } catch (error) {
    if (error instanceof CofferError) throw error;
    throw new CofferError(
      'ERR_KEY_MATERIAL',
      `The ${info.name} key pair failed its pairwise consistency test.`,
      {},
      {
        cause: error,
      },
    );
  }
}

/**
 * The check value of a secret, 6 uppercase hex digits (the first 3 bytes), as payment HSMs show it:
 * - block ciphers (AES, SM4, 3DES): the key encrypting one all-zero block in ECB;
 * - HMAC secrets: HMAC(key, 32 zero bytes) with the type's digest.
 * It identifies a key without revealing it (3 bytes leave 2^24 candidates per value).
 */
export function computeCheckValue(info: KeyTypeInfo, secret: Buffer): string {
  let block: Buffer;
  if (info.family === 'hmac') {
    block = createHmac(info.hash!, secret).update(Buffer.alloc(32)).digest();
  } else {
    const cipher = createCipheriv(ecbCipherName(info, secret.length), secret, null);
    cipher.setAutoPadding(false);
    block = Buffer.concat([cipher.update(Buffer.alloc(info.blockBytes!)), cipher.final()]);
  }
  return block.subarray(0, 3).toString('hex').toUpperCase();
}

/** The OpenSSL name of the ECB cipher of a block-cipher key type. */
export function ecbCipherName(info: KeyTypeInfo, bytes = info.bytes!): string {
  switch (info.family) {
    case 'aes':
      return `aes-${bytes * 8}-ecb`;
    case 'sm4':
      return 'sm4-ecb';
    case '3des':
      return bytes === 16 ? 'des-ede-ecb' : 'des-ede3-ecb';
    default:
      throw new CofferError('ERR_INTERNAL', `${info.name} is not a block cipher key.`);
  }
}

/** Sets odd parity in every byte of a DES-based key (the low bit is the parity bit, FIPS 46-3). */
export function setDesOddParity(key: Buffer): void {
  for (let i = 0; i < key.length; i++) {
    const b = key[i]! & 0xfe;
    let ones = 0;
    for (let v = b; v; v >>= 1) ones += v & 1;
    key[i] = b | (ones % 2 === 0 ? 1 : 0);
  }
}

/** Whether adjacent 8-byte DES keys of a 2- or 3-key 3DES key are equal (ignoring parity bits). */
function desPartsRepeat(key: Buffer): boolean {
  const part = (i: number) => Buffer.from(key.subarray(i * 8, i * 8 + 8).map((b) => b & 0xfe));
  const parts = key.length / 8;
  for (let i = 0; i + 1 < parts; i++) if (part(i).equals(part(i + 1))) return true;
  return false;
}
