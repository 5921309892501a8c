import { createCipheriv, createDecipheriv, type KeyObject, randomBytes } from 'node:crypto';
import { CofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import type { KeyStatus, KeyUsage } from '../store/port.js';
import { isKeyTypeName, isKeyUsage } from './key-types.js';

export const KEY_BACKUP_FORMAT = 'coffer-key-backup';
export const KEY_BACKUP_VERSION = 1;
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** One key in a backup: all of its metadata and its material (inside the encrypted part only). */
export interface KeyBackupEntry {
  index: number;
  type: string;
  creator: string;
  status: KeyStatus;
  invalidReason: 'expired' | 'manual' | null;
  validityDays: number;
  description: string;
  createdAt: string;
  expiresAt: string;
  usage: KeyUsage[];
  /** The operators bound on the source device; restore binds those that exist on the target. */
  operators: string[];
  /** Base64 of the raw secret or the PKCS#8 DER. */
  material: string;
}

/** The clear header of a backup file; all of it is bound into the ciphertext as associated data. */
export interface KeyBackupHeader {
  format: typeof KEY_BACKUP_FORMAT;
  version: typeof KEY_BACKUP_VERSION;
  /** The device that made it. */
  deviceId: string;
  /** The device key check value of the key domain it was made in (DESIGN §3). */
  kcv: string;
  createdAt: string;
  createdBy: string;
  count: number;
  cipher: typeof CIPHER;
}

/**
 * A backup file (manual §4.4.2 "Key back up"): JSON, the header in the clear, the entries as one
 * AES-256-GCM ciphertext under the key domain's backup subkey with the header as associated data.
 * Any device of the same key domain (same MK components) derives the same backup subkey and so can
 * restore it; a device of another domain sees another KCV and refuses it with a clear message.
 */
export interface KeyBackupFile extends KeyBackupHeader {
  iv: string; // base64
  tag: string; // base64
  ciphertext: string; // base64
}

/** The associated data: the header fields in a fixed order, JSON-encoded (canonical and unambiguous). */
function headerAad(h: KeyBackupHeader): Buffer {
  return Buffer.from(
    JSON.stringify([h.format, h.version, h.deviceId, h.kcv, h.createdAt, h.createdBy, h.count, h.cipher]),
    'utf8',
  );
}

/**
 * Makes a backup file of `entries` under `keyring.backup`. The plaintext JSON holds key material;
 * its buffer is wiped here, but JavaScript strings cannot be (best effort, as STYLE §4 says).
 */
export function makeKeyBackup(
  keyring: Keyring,
  meta: { deviceId: string; createdAt: string; createdBy: string },
  entries: KeyBackupEntry[],
): KeyBackupFile {
  const header: KeyBackupHeader = {
    format: KEY_BACKUP_FORMAT,
    version: KEY_BACKUP_VERSION,
    deviceId: meta.deviceId,
    kcv: keyring.kcv,
    createdAt: meta.createdAt,
    createdBy: meta.createdBy,
    count: entries.length,
    cipher: CIPHER,
  };
  const iv = randomBytes(IV_BYTES);
  const plaintext = Buffer.from(JSON.stringify(entries), 'utf8');
  try {
    const cipher = createCipheriv(CIPHER, keyring.backup, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(headerAad(header));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      ...header,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  } finally {
    plaintext.fill(0);
  }
}

/** The header of a backup file, checked for shape only (nothing decrypted), e.g. to show before restoring. */
export function readKeyBackupHeader(file: unknown): KeyBackupFile {
  const bad = (what: string) =>
    new CofferError('ERR_BACKUP_FORMAT', `This is not a Coffer key backup file: ${what}.`, { field: 'file' });
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw bad('it is not a JSON object');
  const f = file as Record<string, unknown>;
  if (f['format'] !== KEY_BACKUP_FORMAT) throw bad(`its format is not '${KEY_BACKUP_FORMAT}'`);
  if (f['version'] !== KEY_BACKUP_VERSION) {
    throw new CofferError(
      'ERR_BACKUP_FORMAT',
      `This key backup is version ${String(f['version'])}; this device reads version ${KEY_BACKUP_VERSION}.`,
      { field: 'version' },
    );
  }
  for (const k of ['deviceId', 'kcv', 'createdAt', 'createdBy', 'iv', 'tag', 'ciphertext'] as const) {
    if (typeof f[k] !== 'string') throw bad(`'${k}' is missing`);
  }
  if (f['cipher'] !== CIPHER) throw bad(`its cipher is not ${CIPHER}`);
  if (!Number.isSafeInteger(f['count']) || (f['count'] as number) < 0)
    throw bad("'count' is not a number of keys");
  if (!/^[0-9a-f]{64}$/.test(f['kcv'] as string)) throw bad("'kcv' is not a device key check value");
  return f as unknown as KeyBackupFile;
}

/**
 * Opens a backup file made in this key domain.
 *
 * @throws CofferError ERR_BACKUP_FORMAT when it is not a backup file, is of another version, or was
 *   damaged or altered (it does not authenticate).
 * @throws CofferError ERR_BACKUP_DOMAIN when it was made on a device of another key domain.
 */
export function openKeyBackup(
  keyring: Keyring,
  file: unknown,
): { header: KeyBackupHeader; entries: KeyBackupEntry[] } {
  const f = readKeyBackupHeader(file);
  if (f.kcv !== keyring.kcv) {
    throw new CofferError(
      'ERR_BACKUP_DOMAIN',
      `This backup was made on a device of another key domain (check value ${f.kcv.slice(0, 16)}…; this device is ${keyring.kcv.slice(0, 16)}…). It restores only on a device initialised with the same master-key components.`,
      { backupKcv: f.kcv, deviceKcv: keyring.kcv },
    );
  }
  const header: KeyBackupHeader = {
    format: f.format,
    version: f.version,
    deviceId: f.deviceId,
    kcv: f.kcv,
    createdAt: f.createdAt,
    createdBy: f.createdBy,
    count: f.count,
    cipher: f.cipher,
  };
  const plaintext = decrypt(keyring.backup, header, f);
  try {
    let parsed: unknown;
    try {
      parsed = JSON.parse(plaintext.toString('utf8'));
    } catch {
      throw damaged();
    }
    if (!Array.isArray(parsed) || parsed.length !== header.count) throw damaged();
    return { header, entries: parsed.map((e, i) => checkEntry(e, i)) };
  } finally {
    plaintext.fill(0);
  }
}

function decrypt(key: KeyObject, header: KeyBackupHeader, f: KeyBackupFile): Buffer {
  const iv = Buffer.from(f.iv, 'base64');
  const tag = Buffer.from(f.tag, 'base64');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw damaged();
  try {
    const decipher = createDecipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(headerAad(header));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(f.ciphertext, 'base64')), decipher.final()]);
  } catch {
    throw damaged();
  }
}

function damaged(): CofferError {
  return new CofferError(
    'ERR_BACKUP_FORMAT',
    'The backup file is damaged or was altered: it does not authenticate under this key domain’s backup key.',
    { field: 'file' },
  );
}

const STATUSES: readonly string[] = ['normal', 'discard', 'invalid'];

/** An authenticated entry is ours, but a newer build may have written fields this one cannot take. */
function checkEntry(raw: unknown, i: number): KeyBackupEntry {
  const e = (raw ?? {}) as Record<string, unknown>;
  const ok =
    Number.isSafeInteger(e['index']) &&
    isKeyTypeName(e['type']) &&
    typeof e['creator'] === 'string' &&
    STATUSES.includes(e['status'] as string) &&
    (e['invalidReason'] === null || e['invalidReason'] === 'expired' || e['invalidReason'] === 'manual') &&
    Number.isSafeInteger(e['validityDays']) &&
    typeof e['description'] === 'string' &&
    typeof e['createdAt'] === 'string' &&
    typeof e['expiresAt'] === 'string' &&
    Array.isArray(e['usage']) &&
    (e['usage'] as unknown[]).every(isKeyUsage) &&
    Array.isArray(e['operators']) &&
    (e['operators'] as unknown[]).every((o) => typeof o === 'string') &&
    typeof e['material'] === 'string';
  if (!ok) {
    throw new CofferError(
      'ERR_BACKUP_FORMAT',
      `Entry ${i + 1} of the backup is not a key this device can restore.`,
      {
        field: 'file',
      },
    );
  }
  return e as unknown as KeyBackupEntry;
}
