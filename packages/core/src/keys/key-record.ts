import { createHash } from 'node:crypto';
import { CofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import { type MacField, macFields, openRecord, sealRecord, verifyMac } from '../keyring/sealing.js';
import type { KeyBindingRecord, KeyRecord, KeyStatus, KeyUsage } from '../store/port.js';
import type { KeyMaterial } from './key-material.js';
import { canonicalUsage, keyTypeInfo } from './key-types.js';

/** The table name under which key material is sealed and key records are MAC'd. */
export const KEYS_TABLE = 'keys';
/** The table name under which bindings are MAC'd. */
export const KEY_BINDINGS_TABLE = 'key_bindings';

export const MIN_KEY_INDEX = 1;
export const MAX_KEY_INDEX = 2_147_483_647;
export const MIN_VALIDITY_DAYS = 1;
export const MAX_VALIDITY_DAYS = 36_500;
export const MAX_DESCRIPTION_LENGTH = 256;
const DAY_MS = 86_400_000;

/** Everything of a key record but the sealed material and the MAC. */
export type KeyMetadata = Omit<KeyRecord, 'sealed' | 'mac'>;

/**
 * The fields a key record's MAC covers, in order: every field but `mac`, the sealed material as its
 * SHA-256 (so that sealed bytes from another key at the same index and version are detected too).
 * The crypto service checks the same MAC through {@link verifyKeyRecord}.
 */
export function keyMacFields(record: Omit<KeyRecord, 'mac'>): MacField[] {
  return [
    record.index,
    record.type,
    record.keyClass,
    record.creator,
    record.status,
    record.invalidReason,
    record.validityDays,
    record.description,
    record.createdAt,
    record.expiresAt,
    record.usage.join(','),
    record.checkValue,
    record.publicKey,
    record.version,
    createHash('sha256').update(record.sealed).digest('hex'),
  ];
}

/** Computes the MAC of a record whose other fields are final. */
export function macKeyRecord(keyring: Keyring, record: Omit<KeyRecord, 'mac'>): KeyRecord {
  return { ...record, mac: macFields(keyring.integrity, KEYS_TABLE, keyMacFields(record)) };
}

/**
 * Checks a key record read from the store.
 *
 * @throws CofferError ERR_INTEGRITY when its MAC does not match (the database was edited behind the
 *   device's back: a changed status, usage, validity, or material moved from another row).
 */
export function verifyKeyRecord(keyring: Keyring, record: KeyRecord): KeyRecord {
  if (!verifyMac(keyring.integrity, KEYS_TABLE, keyMacFields(record), record.mac)) {
    throw new CofferError(
      'ERR_INTEGRITY',
      `The stored record of key ${record.index} failed its integrity check; it was changed outside the device.`,
      { index: record.index },
    );
  }
  return record;
}

/** Where the material of key `index` at `version` is sealed (the AEAD's associated data). */
export function keyPlace(index: number, version: number) {
  return { table: KEYS_TABLE, id: String(index), version };
}

/**
 * Makes the record of a new key: seals its material under the KEK at its place and MACs the rest.
 *
 * @throws CofferError ERR_KEY_INDEX, ERR_BAD_REQUEST, ERR_KEY_TYPE as {@link checkKeyFields}.
 */
export function sealKeyRecord(
  keyring: Keyring,
  metadata: Omit<KeyMetadata, 'checkValue' | 'publicKey' | 'keyClass' | 'type'>,
  material: KeyMaterial,
): KeyRecord {
  const info = keyTypeInfo(material.type);
  checkKeyFields(metadata);
  const base: Omit<KeyRecord, 'mac'> = {
    ...metadata,
    type: info.name,
    keyClass: info.keyClass,
    usage: canonicalUsage(metadata.usage),
    checkValue: material.checkValue,
    publicKey: material.publicKey,
    sealed: sealRecord(keyring.kek, material.material, keyPlace(metadata.index, metadata.version)),
  };
  return macKeyRecord(keyring, base);
}

/**
 * Opens the material of a verified key record: the raw secret or the PKCS#8 DER. Wipe it after use.
 *
 * @throws CofferError ERR_INTEGRITY when the record's MAC fails; ERR_DECRYPT when the material does
 *   not open at this record's place.
 */
export function openKeyMaterial(keyring: Keyring, record: KeyRecord): Buffer {
  verifyKeyRecord(keyring, record);
  return openRecord(keyring.kek, record.sealed, keyPlace(record.index, record.version));
}

/**
 * Checks the Safe Manager's fields of a key.
 *
 * @throws CofferError ERR_KEY_INDEX when the index is not an integer in 1…2^31−1.
 * @throws CofferError ERR_BAD_REQUEST for validity outside 1–36500 days or a description longer
 *   than 256 characters or with control characters.
 */
export function checkKeyFields(fields: { index: number; validityDays: number; description: string }): void {
  checkKeyIndex(fields.index);
  if (
    !Number.isSafeInteger(fields.validityDays) ||
    fields.validityDays < MIN_VALIDITY_DAYS ||
    fields.validityDays > MAX_VALIDITY_DAYS
  ) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `The validity period is ${MIN_VALIDITY_DAYS} to ${MAX_VALIDITY_DAYS} days.`,
      { field: 'validityDays' },
    );
  }
  checkDescription(fields.description);
}

/** @throws CofferError ERR_KEY_INDEX when `index` is not an integer in 1…2^31−1. */
export function checkKeyIndex(index: unknown): number {
  if (
    typeof index !== 'number' ||
    !Number.isSafeInteger(index) ||
    index < MIN_KEY_INDEX ||
    index > MAX_KEY_INDEX
  ) {
    throw new CofferError(
      'ERR_KEY_INDEX',
      `A key index is a whole number from ${MIN_KEY_INDEX} to ${MAX_KEY_INDEX}.`,
      {
        field: 'index',
      },
    );
  }
  return index;
}

/** @throws CofferError ERR_BAD_REQUEST for more than 256 characters or control characters. */
export function checkDescription(description: unknown): string {
  if (
    typeof description !== 'string' ||
    description.length > MAX_DESCRIPTION_LENGTH ||
    hasControlCharacter(description)
  ) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `A description is at most ${MAX_DESCRIPTION_LENGTH} characters, on one line.`,
      { field: 'description' },
    );
  }
  return description;
}

/** Whether `text` holds a control character (they would break the one-line audit content). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** When a key created at `createdAt` with `validityDays` expires: exactly that many days later. */
export function expiryOf(createdAt: string, validityDays: number): string {
  return new Date(Date.parse(createdAt) + validityDays * DAY_MS).toISOString();
}

/** A key's status as the device treats it at `now`: past its expiry a key is invalid, swept or not. */
export function effectiveStatus(
  record: Pick<KeyRecord, 'status' | 'invalidReason' | 'expiresAt'>,
  now: Date,
): { status: KeyStatus; invalidReason: 'expired' | 'manual' | null } {
  if (record.status !== 'invalid' && Date.parse(record.expiresAt) <= now.getTime()) {
    return { status: 'invalid', invalidReason: 'expired' };
  }
  return { status: record.status, invalidReason: record.status === 'invalid' ? record.invalidReason : null };
}

/** What the Safe Manager (or the expiry sweep) does to a key's status. */
export type KeyStatusChange = 'discard' | 'restore' | 'invalidate' | 'expire';

const STATUS_WORDS: Record<KeyStatus, string> = {
  normal: 'normal',
  discard: 'discarded',
  invalid: 'invalid',
};

/**
 * The status transitions of manual §4.4.2 (DESIGN §7), a pure function:
 *
 * | from \ change | discard  | restore | invalidate          | expire              |
 * |---------------|----------|---------|---------------------|---------------------|
 * | normal        | discard  | refused | invalid (manual)    | invalid (expired)   |
 * | discard       | refused  | normal  | invalid (manual)    | invalid (expired)   |
 * | invalid       | refused  | refused | refused             | refused             |
 *
 * Expiry is judged on the effective status: a key past its expiry is invalid even before the sweep
 * has written it, so it can be neither discarded nor restored. An invalid key never returns; it can
 * only be deleted.
 *
 * @throws CofferError ERR_KEY_STATUS with a sentence saying why the change is refused.
 */
export function nextKeyStatus(
  record: Pick<KeyRecord, 'index' | 'status' | 'invalidReason' | 'expiresAt'>,
  change: KeyStatusChange,
  now: Date,
): { status: KeyStatus; invalidReason: 'expired' | 'manual' | null } {
  const current = change === 'expire' ? record : effectiveStatus(record, now);
  const refuse = (why: string) =>
    new CofferError('ERR_KEY_STATUS', `Key ${record.index} is ${describeStatus(current)}; ${why}`, {
      index: record.index,
      status: current.status,
    });
  if (current.status === 'invalid') {
    throw refuse('an invalid key never returns to use and can only be deleted.');
  }
  switch (change) {
    case 'discard':
      if (current.status === 'discard') throw refuse('it is already discarded.');
      return { status: 'discard', invalidReason: null };
    case 'restore':
      if (current.status === 'normal') throw refuse('only a discarded key can be restored.');
      return { status: 'normal', invalidReason: null };
    case 'invalidate':
      return { status: 'invalid', invalidReason: 'manual' };
    case 'expire':
      if (Date.parse(record.expiresAt) > now.getTime())
        throw refuse(`it does not expire until ${record.expiresAt}.`);
      return { status: 'invalid', invalidReason: 'expired' };
  }
}

/**
 * Refuses to delete a key unless it is invalid (manual §4.4.2: "Only key data in the invalid state
 * can be deleted"); a key past its expiry counts as invalid.
 *
 * @throws CofferError ERR_KEY_STATUS otherwise.
 */
export function checkDeletable(
  record: Pick<KeyRecord, 'index' | 'status' | 'invalidReason' | 'expiresAt'>,
  now: Date,
) {
  const current = effectiveStatus(record, now);
  if (current.status !== 'invalid') {
    throw new CofferError(
      'ERR_KEY_STATUS',
      `Key ${record.index} is ${describeStatus(current)}; only an invalid key can be deleted (invalidate it first).`,
      { index: record.index, status: current.status },
    );
  }
}

function describeStatus(s: { status: KeyStatus; invalidReason: 'expired' | 'manual' | null }): string {
  if (s.status === 'invalid' && s.invalidReason === 'expired') return 'invalid (expired)';
  return STATUS_WORDS[s.status];
}

/**
 * The fields a binding's MAC covers. The key's creation time ties the binding to this key, so a
 * binding row of a deleted key cannot be replayed onto a new key that reuses its index.
 */
export function bindingMacFields(
  binding: Omit<KeyBindingRecord, 'mac'>,
  key: Pick<KeyRecord, 'index' | 'createdAt'>,
): MacField[] {
  return [binding.keyIndex, key.createdAt, binding.operator, binding.boundAt, binding.boundBy];
}

export function macBinding(
  keyring: Keyring,
  binding: Omit<KeyBindingRecord, 'mac'>,
  key: Pick<KeyRecord, 'index' | 'createdAt'>,
): KeyBindingRecord {
  return {
    ...binding,
    mac: macFields(keyring.integrity, KEY_BINDINGS_TABLE, bindingMacFields(binding, key)),
  };
}

/**
 * Whether a binding read from the store is genuine and belongs to `key` (a verified record). The
 * crypto service uses this before letting an operator use a key.
 */
export function bindingIntact(
  keyring: Keyring,
  binding: KeyBindingRecord,
  key: Pick<KeyRecord, 'index' | 'createdAt'>,
): boolean {
  return (
    binding.keyIndex === key.index &&
    verifyMac(keyring.integrity, KEY_BINDINGS_TABLE, bindingMacFields(binding, key), binding.mac)
  );
}

/**
 * Whether `operator` may use `key` for `usage` at `now` (DESIGN §5): the key is normal and not
 * expired, its usage flags allow it; the binding is the caller's to check ({@link bindingIntact}).
 * Returns the reason as a value, since refusing is a normal outcome.
 */
export function keyUsable(
  key: Pick<KeyRecord, 'status' | 'invalidReason' | 'expiresAt' | 'usage'>,
  usage: KeyUsage,
  now: Date,
): { ok: true } | { ok: false; reason: 'discarded' | 'invalid' | 'usage' } {
  const s = effectiveStatus(key, now).status;
  if (s === 'discard') return { ok: false, reason: 'discarded' };
  if (s === 'invalid') return { ok: false, reason: 'invalid' };
  if (!key.usage.includes(usage)) return { ok: false, reason: 'usage' };
  return { ok: true };
}
