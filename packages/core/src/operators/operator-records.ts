import { CofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import { type MacField, macFields, verifyMac } from '../keyring/sealing.js';
import type { LicenceRecord, OperatorRecord, ServiceWhitelistRecord } from '../store/port.js';

/**
 * The System Manager's records (manual §4.4.1) and the integrity MAC over each (DESIGN §3): the
 * fields a MAC covers, in a fixed order, under the table's name, so that an operator, licence or
 * whitelist pair edited behind the device's back is detected rather than obeyed.
 */

/** An operator's account name past the edge (see {@link checkOperatorName}). */
export type OperatorName = string & { readonly __brand: 'OperatorName' };

export const OPERATOR_NAME_MAX = 32;
export const OPERATOR_DESCRIPTION_MAX = 256;
/** Letters, digits, `_`, `.` and `-`; the first a letter or digit (so no `..` path and no `-flag`). */
const OPERATOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

/**
 * Checks an operator's account name: 1–32 characters of letters, digits, `_`, `.` and `-`, starting
 * with a letter or digit. Names are case-sensitive.
 *
 * @throws CofferError ERR_OPERATOR_NAME (`details.field = 'name'`) with a sentence naming the rule.
 */
export function checkOperatorName(name: unknown, field = 'name'): OperatorName {
  const refuse = (sentence: string): never => {
    throw new CofferError('ERR_OPERATOR_NAME', sentence, { field });
  };
  if (typeof name !== 'string' || name.length === 0) return refuse('The operator account name is missing.');
  if (name.length > OPERATOR_NAME_MAX) {
    refuse(
      `An operator account name has at most ${OPERATOR_NAME_MAX} characters; this one has ${name.length}.`,
    );
  }
  if (!OPERATOR_NAME.test(name)) {
    refuse(
      'An operator account name may use only letters, digits, _ . and -, and must start with a letter or digit.',
    );
  }
  return name as OperatorName;
}

/**
 * Checks an operator's description: at most 256 characters, one line.
 *
 * @throws CofferError ERR_BAD_REQUEST (`details.field = 'description'`).
 */
export function checkOperatorDescription(description: unknown): string {
  if (typeof description !== 'string') {
    throw new CofferError('ERR_BAD_REQUEST', 'The description must be text.', { field: 'description' });
  }
  if (Array.from(description).length > OPERATOR_DESCRIPTION_MAX) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `A description has at most ${OPERATOR_DESCRIPTION_MAX} characters.`,
      { field: 'description' },
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(description)) {
    throw new CofferError('ERR_BAD_REQUEST', 'A description is one line without control characters.', {
      field: 'description',
    });
  }
  return description;
}

export function operatorMacFields(r: Omit<OperatorRecord, 'mac'>): MacField[] {
  return [r.name, r.description, r.creator, r.createdAt];
}

export function licenceMacFields(r: Omit<LicenceRecord, 'mac'>): MacField[] {
  return [r.serial, r.operator, r.certFingerprint, r.maxConnections, r.issuedAt, r.issuedBy, r.status];
}

export function serviceWhitelistMacFields(r: Omit<ServiceWhitelistRecord, 'mac'>): MacField[] {
  return [r.ip, r.operator, r.addedAt, r.addedBy];
}

/** Adds the integrity MAC to an operator record. */
export function sealOperatorRecord(keyring: Keyring, r: Omit<OperatorRecord, 'mac'>): OperatorRecord {
  const base = { name: r.name, description: r.description, creator: r.creator, createdAt: r.createdAt };
  return { ...base, mac: macFields(keyring.integrity, 'operators', operatorMacFields(base)) };
}

/** Adds the integrity MAC to a licence record. */
export function sealLicenceRecord(keyring: Keyring, r: Omit<LicenceRecord, 'mac'>): LicenceRecord {
  const base = {
    serial: r.serial,
    operator: r.operator,
    certFingerprint: r.certFingerprint,
    maxConnections: r.maxConnections,
    issuedAt: r.issuedAt,
    issuedBy: r.issuedBy,
    status: r.status,
  };
  return { ...base, mac: macFields(keyring.integrity, 'licences', licenceMacFields(base)) };
}

/** Adds the integrity MAC to a service whitelist pair. */
export function sealServiceWhitelistRecord(
  keyring: Keyring,
  r: Omit<ServiceWhitelistRecord, 'mac'>,
): ServiceWhitelistRecord {
  const base = { ip: r.ip, operator: r.operator, addedAt: r.addedAt, addedBy: r.addedBy };
  return { ...base, mac: macFields(keyring.integrity, 'service_whitelist', serviceWhitelistMacFields(base)) };
}

export function operatorIntact(keyring: Keyring, r: OperatorRecord): boolean {
  return verifyMac(keyring.integrity, 'operators', operatorMacFields(r), r.mac);
}

export function licenceIntact(keyring: Keyring, r: LicenceRecord): boolean {
  return verifyMac(keyring.integrity, 'licences', licenceMacFields(r), r.mac);
}

export function serviceWhitelistIntact(keyring: Keyring, r: ServiceWhitelistRecord): boolean {
  return verifyMac(keyring.integrity, 'service_whitelist', serviceWhitelistMacFields(r), r.mac);
}

/** @throws CofferError ERR_INTEGRITY naming the record when its MAC does not verify. */
export function assertIntact(intact: boolean, what: string): void {
  if (!intact) {
    throw new CofferError(
      'ERR_INTEGRITY',
      `The stored record of ${what} fails its integrity check: the database was changed outside the device.`,
      { record: what },
    );
  }
}
