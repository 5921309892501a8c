import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { CofferError } from '../errors.js';
import { MK_BYTES } from './master-key.js';

/**
 * The subkeys of one key domain, each derived from the master key for one purpose (DESIGN §3).
 * Separate keys per purpose mean a MAC can never be replayed as a ciphertext or a backup key used to
 * open the store. The master key itself is not kept here: once booted the device needs only these.
 */
export interface Keyring {
  /** AES-256-GCM key for every secret at rest (see `sealRecord`). */
  readonly kek: KeyObject;
  /** HMAC-SHA256 key for security-relevant metadata (see `macFields`). */
  readonly integrity: KeyObject;
  /** Wraps backups, so a backup restores on any device with the same components. */
  readonly backup: KeyObject;
  /** The device key check value: 64 hex, safe to show. */
  readonly kcv: string;
}

/** HKDF `info` labels; the `/v1` lets a purpose be rekeyed later without touching the others. */
export const SUBKEY_INFO = {
  kek: 'coffer/kek/v1',
  integrity: 'coffer/integrity/v1',
  backup: 'coffer/backup/v1',
} as const;

const KCV_LABEL = 'coffer/kcv/v1';
const SUBKEY_BYTES = 32;

/**
 * Derives the keyring from the master key: HKDF-SHA256 (empty salt, RFC 5869 §3.1 allows it since
 * the MK is already uniformly random), 32 bytes per purpose, held as `KeyObject`s so they are not
 * passed around as plain buffers. The caller still owns `mk` and should wipe it.
 *
 * @throws CofferError ERR_INTERNAL when `mk` is not 16 bytes.
 */
export function deriveKeyring(mk: Buffer): Keyring {
  assertMk(mk);
  return {
    kek: deriveSubkey(mk, SUBKEY_INFO.kek),
    integrity: deriveSubkey(mk, SUBKEY_INFO.integrity),
    backup: deriveSubkey(mk, SUBKEY_INFO.backup),
    kcv: computeKcv(mk),
  };
}

/**
 * The device key check value, HMAC-SHA256(MK, "coffer/kcv/v1") as 64 lowercase hex. Equal KCVs mean
 * the same key domain; the MAC (not a plain hash) keeps the KCV from being a hash of the key.
 *
 * @throws CofferError ERR_INTERNAL when `mk` is not 16 bytes.
 */
export function computeKcv(mk: Buffer): string {
  assertMk(mk);
  return createHmac('sha256', mk).update(KCV_LABEL, 'utf8').digest('hex');
}

function deriveSubkey(mk: Buffer, info: string): KeyObject {
  const raw = Buffer.from(hkdfSync('sha256', mk, Buffer.alloc(0), info, SUBKEY_BYTES));
  try {
    return createSecretKey(raw);
  } finally {
    // createSecretKey copies the bytes, so this buffer can go.
    raw.fill(0);
  }
}

function assertMk(mk: Buffer): void {
  if (!Buffer.isBuffer(mk) || mk.length !== MK_BYTES) {
    throw new CofferError('ERR_INTERNAL', `A master key is ${MK_BYTES} bytes.`);
  }
}
