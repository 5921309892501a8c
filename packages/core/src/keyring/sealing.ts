import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { CofferError } from '../errors.js';

/**
 * Where a sealed secret lives. It is bound into the ciphertext as associated data, so a ciphertext
 * copied to another row, id or version does not open (STYLE §5, after Vault's barrier and NetHSM's
 * encrypted store).
 */
export interface RecordPlace {
  table: string;
  id: string;
  version: number;
}

/** Allowed in a MAC'd record: values whose canonical JSON encoding is unambiguous. */
export type MacField = string | number | boolean | null;

const FORMAT_V1 = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;
const KEY_BYTES = 32;
const MAC_HEX = /^[0-9a-f]{64}$/i;

/**
 * Seals one secret: `0x01 ‖ IV (12) ‖ tag (16) ‖ ciphertext`, AES-256-GCM under `key` with `place`
 * as associated data. The IV is random; with 96-bit IVs that is safe far beyond the number of
 * records a device will ever write under one KEK.
 *
 * @throws CofferError ERR_INTERNAL when `key` is not a 32-byte secret key or `place` is malformed.
 */
export function sealRecord(key: KeyObject, plaintext: Buffer, place: RecordPlace): Buffer {
  assertAesKey(key);
  const aad = encodePlace(place);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), body]);
}

/**
 * Opens what {@link sealRecord} sealed for the same `place`.
 *
 * @throws CofferError ERR_DECRYPT when the blob does not open: wrong key, sealed for another place,
 *   tampered, truncated or of an unknown format. One code for all, so a caller cannot learn which.
 * @throws CofferError ERR_INTERNAL when `key` is not a 32-byte secret key or `place` is malformed.
 */
export function openRecord(key: KeyObject, blob: Buffer, place: RecordPlace): Buffer {
  assertAesKey(key);
  const aad = encodePlace(place);
  if (!Buffer.isBuffer(blob) || blob.length < HEADER_BYTES || blob[0] !== FORMAT_V1) {
    throw decryptError();
  }
  const iv = blob.subarray(1, 1 + IV_BYTES);
  const tag = blob.subarray(1 + IV_BYTES, HEADER_BYTES);
  const body = blob.subarray(HEADER_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw decryptError();
  }
}

/**
 * HMAC-SHA256 (64 lowercase hex) over the canonical encoding of `[table, ...fields]`: a JSON array
 * of primitives, which is unambiguous (strings are quoted and escaped, so no field can run into the
 * next). The table name keeps a MAC of one table from being accepted for another.
 *
 * @throws CofferError ERR_INTERNAL when `key` is not a secret key or a number field is not finite
 *   (JSON would write NaN and Infinity as `null`, so they would collide with `null`).
 */
export function macFields(key: KeyObject, table: string, fields: ReadonlyArray<MacField>): string {
  if (key?.type !== 'secret') throw new CofferError('ERR_INTERNAL', 'A MAC needs a secret key.');
  if (typeof table !== 'string' || table.length === 0) {
    throw new CofferError('ERR_INTERNAL', 'A MAC needs the name of the table it covers.');
  }
  for (const f of fields) {
    if (typeof f === 'number' && !Number.isFinite(f)) {
      throw new CofferError('ERR_INTERNAL', 'A MAC field that is a number must be finite.');
    }
    if (f !== null && typeof f !== 'string' && typeof f !== 'number' && typeof f !== 'boolean') {
      throw new CofferError('ERR_INTERNAL', 'A MAC field must be a string, number, boolean or null.');
    }
  }
  return createHmac('sha256', key)
    .update(JSON.stringify([table, ...fields]), 'utf8')
    .digest('hex');
}

/**
 * Checks a MAC made by {@link macFields} in constant time. A malformed `mac` (not 64 hex digits) is
 * simply not valid: a record edited behind the device's back is a normal outcome to report, not a
 * crash.
 *
 * @throws CofferError ERR_INTERNAL as {@link macFields} does for a bad key or field.
 */
export function verifyMac(
  key: KeyObject,
  table: string,
  fields: ReadonlyArray<MacField>,
  mac: string,
): boolean {
  const expected = Buffer.from(macFields(key, table, fields), 'hex');
  if (typeof mac !== 'string' || !MAC_HEX.test(mac)) return false;
  return timingSafeEqual(expected, Buffer.from(mac, 'hex'));
}

/** JSON of a fixed-shape array: canonical, and no field can be shifted into the next. */
function encodePlace(place: RecordPlace): Buffer {
  const { table, id, version } = place ?? ({} as RecordPlace);
  if (typeof table !== 'string' || table.length === 0 || typeof id !== 'string') {
    throw new CofferError('ERR_INTERNAL', 'A record place needs a table name and an id.');
  }
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new CofferError('ERR_INTERNAL', 'A record version must be a non-negative integer.');
  }
  return Buffer.from(JSON.stringify([table, id, version]), 'utf8');
}

function assertAesKey(key: KeyObject): void {
  if (key?.type !== 'secret' || key.symmetricKeySize !== KEY_BYTES) {
    throw new CofferError('ERR_INTERNAL', `Sealing needs a ${KEY_BYTES}-byte secret key.`);
  }
}

// No cause attached: every failure looks the same from outside.
function decryptError(): CofferError {
  return new CofferError('ERR_DECRYPT', 'A stored secret could not be decrypted.');
}
