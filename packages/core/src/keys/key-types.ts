import { CofferError } from '../errors.js';
import type { KeyClass, KeyUsage } from '../store/port.js';

/** Every usage flag, in the canonical order in which records store them (DESIGN §5). */
export const KEY_USAGES = [
  'encrypt',
  'decrypt',
  'sign',
  'verify',
  'mac',
  'wrap',
  'unwrap',
  'derive',
] as const;

/**
 * What a key type is made of. `family` tells the crypto service which primitives apply; `bytes` is
 * the length of a symmetric secret as generated (HMAC imports may differ: `importBytes`).
 */
export type KeyFamily = 'aes' | 'sm4' | '3des' | 'hmac' | 'rsa' | 'ec' | 'sm2' | 'ed25519';

export interface KeyTypeInfo {
  /** The type name as records, dev.json, the API and the CLI write it. */
  readonly name: string;
  /** As the manual's tables show it ("AES 256", "RSA 2048"). */
  readonly label: string;
  readonly keyClass: KeyClass;
  readonly family: KeyFamily;
  /** Key size in bits (for DES-based types: the key length incl. parity bits, 128 or 192). */
  readonly bits: number;
  /** Symmetric secrets: bytes as generated. */
  readonly bytes?: number;
  /** Symmetric secrets that may be imported with another length (HMAC): inclusive bounds. */
  readonly importBytes?: { readonly min: number; readonly max: number };
  /** HMAC: the digest; the crypto service also uses it for the pairwise test of EC keys. */
  readonly hash?: 'sha256' | 'sha384' | 'sha512' | 'sm3';
  /** EC and SM2: the curve as Node names it. */
  readonly curve?: 'prime256v1' | 'secp384r1' | 'SM2';
  /** Block size in bytes of a block cipher (AES, SM4, 3DES). */
  readonly blockBytes?: number;
  readonly allowedUsage: readonly KeyUsage[];
  /** Given to a new key when the Safe Manager names no usage. */
  readonly defaultUsage: readonly KeyUsage[];
}

const AES_USAGE: readonly KeyUsage[] = ['encrypt', 'decrypt', 'wrap', 'unwrap', 'mac'];
const AES_DEFAULT: readonly KeyUsage[] = ['encrypt', 'decrypt', 'wrap', 'unwrap'];
const SM4_USAGE: readonly KeyUsage[] = ['encrypt', 'decrypt', 'wrap', 'unwrap', 'mac'];
const DES_USAGE: readonly KeyUsage[] = ['encrypt', 'decrypt', 'mac'];
const DES_DEFAULT: readonly KeyUsage[] = ['encrypt', 'decrypt'];
const HMAC_USAGE: readonly KeyUsage[] = ['mac'];
const RSA_USAGE: readonly KeyUsage[] = ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap'];
const EC_USAGE: readonly KeyUsage[] = ['sign', 'verify', 'derive'];
const SM2_USAGE: readonly KeyUsage[] = ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap'];
const SIGN_VERIFY: readonly KeyUsage[] = ['sign', 'verify'];

function aes(bits: 128 | 192 | 256): KeyTypeInfo {
  const u = { allowedUsage: AES_USAGE, defaultUsage: AES_DEFAULT };
  return {
    name: `AES-${bits}`,
    label: `AES ${bits}`,
    keyClass: 'symmetric',
    family: 'aes',
    bits,
    bytes: bits / 8,
    blockBytes: 16,
    ...u,
  };
}
function hmac(hash: 'sha256' | 'sha384' | 'sha512' | 'sm3', bytes: number): KeyTypeInfo {
  const name = `HMAC-${hash.toUpperCase()}`;
  return {
    name,
    label: name,
    keyClass: 'symmetric',
    family: 'hmac',
    bits: bytes * 8,
    bytes,
    // RFC 2104 §3: less than the digest length is weak; more than a block is hashed first anyway.
    importBytes: { min: 16, max: 128 },
    hash,
    allowedUsage: HMAC_USAGE,
    defaultUsage: HMAC_USAGE,
  };
}
function rsa(bits: 1024 | 2048 | 3072 | 4096): KeyTypeInfo {
  return {
    name: `RSA-${bits}`,
    label: `RSA ${bits}`,
    keyClass: 'asymmetric',
    family: 'rsa',
    bits,
    allowedUsage: RSA_USAGE,
    defaultUsage: SIGN_VERIFY,
  };
}

/**
 * The catalogue of key types the device generates, imports and stores. Symmetric material is the
 * raw secret; asymmetric material is the PKCS#8 DER private key (for SM2 the PKCS#8 that Node exports
 * for an `ec`/`SM2` key: re-imported from that DER it does real SM2, see `key-material.ts`).
 *
 * | type          | class      | material           | allowed usage                         | default            |
 * |---------------|------------|--------------------|---------------------------------------|--------------------|
 * | AES-128/192/256 | symmetric | 16/24/32 bytes   | encrypt decrypt wrap unwrap mac(CMAC) | encrypt decrypt wrap unwrap |
 * | SM4           | symmetric  | 16 bytes           | encrypt decrypt wrap unwrap mac       | encrypt decrypt wrap unwrap |
 * | 3DES          | symmetric  | 24 bytes (3 keys)  | encrypt decrypt mac                   | encrypt decrypt    |
 * | 3DES-2KEY     | symmetric  | 16 bytes (2 keys)  | encrypt decrypt mac                   | encrypt decrypt    |
 * | HMAC-SHA256/384/512, HMAC-SM3 | symmetric | 32/48/64/32 bytes (import 16–128) | mac        | mac                |
 * | RSA-1024/2048/3072/4096 | asymmetric | PKCS#8 | sign verify encrypt decrypt wrap unwrap | sign verify        |
 * | EC-P256, EC-P384 | asymmetric | PKCS#8          | sign verify derive                    | sign verify        |
 * | SM2           | asymmetric | PKCS#8             | sign verify encrypt decrypt wrap unwrap | sign verify      |
 * | Ed25519       | asymmetric | PKCS#8             | sign verify                           | sign verify        |
 */
export const KEY_TYPES = [
  aes(128),
  aes(192),
  aes(256),
  {
    name: 'SM4',
    label: 'SM4',
    keyClass: 'symmetric',
    family: 'sm4',
    bits: 128,
    bytes: 16,
    blockBytes: 16,
    allowedUsage: SM4_USAGE,
    defaultUsage: AES_DEFAULT,
  },
  {
    name: '3DES',
    label: '3DES',
    keyClass: 'symmetric',
    family: '3des',
    bits: 192,
    bytes: 24,
    blockBytes: 8,
    allowedUsage: DES_USAGE,
    defaultUsage: DES_DEFAULT,
  },
  {
    name: '3DES-2KEY',
    label: '3DES 2-key',
    keyClass: 'symmetric',
    family: '3des',
    bits: 128,
    bytes: 16,
    blockBytes: 8,
    allowedUsage: DES_USAGE,
    defaultUsage: DES_DEFAULT,
  },
  hmac('sha256', 32),
  hmac('sha384', 48),
  hmac('sha512', 64),
  hmac('sm3', 32),
  rsa(1024),
  rsa(2048),
  rsa(3072),
  rsa(4096),
  {
    name: 'EC-P256',
    label: 'ECC P-256',
    keyClass: 'asymmetric',
    family: 'ec',
    bits: 256,
    curve: 'prime256v1',
    hash: 'sha256',
    allowedUsage: EC_USAGE,
    defaultUsage: SIGN_VERIFY,
  },
  {
    name: 'EC-P384',
    label: 'ECC P-384',
    keyClass: 'asymmetric',
    family: 'ec',
    bits: 384,
    curve: 'secp384r1',
    hash: 'sha384',
    allowedUsage: EC_USAGE,
    defaultUsage: SIGN_VERIFY,
  },
  {
    name: 'SM2',
    label: 'SM2',
    keyClass: 'asymmetric',
    family: 'sm2',
    bits: 256,
    curve: 'SM2',
    hash: 'sm3',
    allowedUsage: SM2_USAGE,
    defaultUsage: SIGN_VERIFY,
  },
  {
    name: 'Ed25519',
    label: 'Ed25519',
    keyClass: 'asymmetric',
    family: 'ed25519',
    bits: 256,
    allowedUsage: SIGN_VERIFY,
    defaultUsage: SIGN_VERIFY,
  },
] as const satisfies readonly KeyTypeInfo[];

export type KeyTypeName = (typeof KEY_TYPES)[number]['name'];

export const KEY_TYPE_NAMES: readonly KeyTypeName[] = KEY_TYPES.map((t) => t.name);

const BY_NAME = new Map<string, KeyTypeInfo>(KEY_TYPES.map((t) => [t.name, t]));

export function isKeyTypeName(value: unknown): value is KeyTypeName {
  return typeof value === 'string' && BY_NAME.has(value);
}

/**
 * The catalogue entry of `name`.
 *
 * @throws CofferError ERR_KEY_TYPE when the device knows no such type (the message lists the types).
 */
export function keyTypeInfo(name: unknown): KeyTypeInfo {
  const info = typeof name === 'string' ? BY_NAME.get(name) : undefined;
  if (!info) {
    throw new CofferError(
      'ERR_KEY_TYPE',
      `${typeof name === 'string' ? `'${name}'` : 'That'} is not a key type of this device; choose one of ${KEY_TYPE_NAMES.join(', ')}.`,
      { field: 'type' },
    );
  }
  return info;
}

export function isKeyUsage(value: unknown): value is KeyUsage {
  return typeof value === 'string' && (KEY_USAGES as readonly string[]).includes(value);
}

/**
 * The usage flags for a key of `type`: the type's default when `requested` is absent, otherwise the
 * requested flags, de-duplicated and in canonical order.
 *
 * @throws CofferError ERR_KEY_USAGE when a flag is unknown, the list is empty, or a flag is not
 *   allowed for the type (the message names the allowed ones).
 * @throws CofferError ERR_KEY_TYPE for an unknown type.
 */
export function resolveUsage(type: string, requested?: readonly unknown[] | null): KeyUsage[] {
  const info = keyTypeInfo(type);
  if (requested === undefined || requested === null) return canonicalUsage(info.defaultUsage);
  if (!Array.isArray(requested) || requested.length === 0) {
    throw new CofferError('ERR_KEY_USAGE', 'Give at least one usage flag, or none for the type’s default.', {
      field: 'usage',
    });
  }
  for (const u of requested) {
    if (!isKeyUsage(u)) {
      throw new CofferError(
        'ERR_KEY_USAGE',
        `'${String(u)}' is not a usage flag; use ${KEY_USAGES.join(', ')}.`,
        {
          field: 'usage',
        },
      );
    }
    if (!info.allowedUsage.includes(u)) {
      throw new CofferError(
        'ERR_KEY_USAGE',
        `${info.name} keys cannot be used to ${u}; their usage may be ${info.allowedUsage.join(', ')}.`,
        { field: 'usage' },
      );
    }
  }
  return canonicalUsage(requested as KeyUsage[]);
}

/** De-duplicates and orders flags as `KEY_USAGES` does, so equal sets encode (and MAC) equally. */
export function canonicalUsage(usage: readonly KeyUsage[]): KeyUsage[] {
  return KEY_USAGES.filter((u) => usage.includes(u));
}
