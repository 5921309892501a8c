import { timingSafeEqual } from 'node:crypto';
import {
  type ErrorCode,
  isServiceAllowed,
  type Keyring,
  type LicenceRecord,
  licenceIntact,
  operatorIntact,
  type StoreTx,
} from '@coffer/core';

/**
 * Who may use the crypto service (DESIGN §5, issue 4): the checks made when a connection arrives and
 * again while it lives. Refusing is a normal outcome, so these return values (STYLE item 2).
 *
 * | check, in order                                                        | refusal                  |
 * |------------------------------------------------------------------------|--------------------------|
 * | a client certificate, issued by this device's CA, valid now            | ERR_LICENCE_UNKNOWN      |
 * | a licence of this device has that certificate (serial and SHA-256)     | ERR_LICENCE_UNKNOWN      |
 * | the licence record is intact (its MAC)                                 | ERR_INTEGRITY            |
 * | the licence is not superseded by a newer one for the operator          | ERR_LICENCE_SUPERSEDED   |
 * | the licence is not revoked, and its operator exists and is intact      | ERR_LICENCE_REVOKED      |
 * | the client IP is on the service whitelist for that operator            | ERR_IP_NOT_ALLOWED       |
 * | the operator has fewer live connections than the licence allows        | ERR_CONNECTION_LIMIT     |
 *
 * The last is the listener's (it counts the connections); the others are here.
 */
export type Admission =
  | { readonly ok: true; readonly licence: LicenceRecord }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly operator?: string };

export interface PresentedCertificate {
  /** Whether TLS verified the chain to the device CA (and the validity period). */
  readonly authorized: boolean;
  /** OpenSSL's reason when not authorized (e.g. CERT_HAS_EXPIRED). */
  readonly authorizationError?: string;
  /** Serial number, lowercase hex; absent when no certificate was presented. */
  readonly serial?: string;
  /** SHA-256 of the certificate DER, lowercase hex. */
  readonly fingerprint?: string;
}

type LicenceStore = Pick<StoreTx, 'getLicence' | 'getOperator'>;

/** Checks a presented certificate against the licences (every row of the table but the IP and the count). */
export async function checkLicence(
  store: LicenceStore,
  keyring: Keyring,
  presented: PresentedCertificate,
): Promise<Admission> {
  if (!presented.serial || !presented.fingerprint) {
    return {
      ok: false,
      code: 'ERR_LICENCE_UNKNOWN',
      message: 'No client certificate was presented; connect with the certificate and key of a licence file.',
    };
  }
  if (!presented.authorized) {
    return {
      ok: false,
      code: 'ERR_LICENCE_UNKNOWN',
      message: `The client certificate is not a licence of this device (${presented.authorizationError ?? 'not verified'}).`,
    };
  }
  const licence = await store.getLicence(presented.serial.toLowerCase());
  const want = licence ? Buffer.from(licence.certFingerprint, 'hex') : Buffer.alloc(0);
  const got = Buffer.from(presented.fingerprint.toLowerCase(), 'hex');
  if (!licence || want.length !== 32 || got.length !== 32 || !timingSafeEqual(want, got)) {
    return {
      ok: false,
      code: 'ERR_LICENCE_UNKNOWN',
      message: 'No licence of this device has this certificate.',
    };
  }
  const operator = licence.operator;
  if (!licenceIntact(keyring, licence)) {
    return {
      ok: false,
      code: 'ERR_INTEGRITY',
      message:
        'The stored licence record fails its integrity check; the System Manager must issue a new licence.',
      operator,
    };
  }
  if (licence.status === 'superseded') {
    return {
      ok: false,
      code: 'ERR_LICENCE_SUPERSEDED',
      message: `This licence of ${operator} was replaced by a newer one; use the newest licence file.`,
      operator,
    };
  }
  const record = licence.status === 'current' ? await store.getOperator(operator) : null;
  if (!record || !operatorIntact(keyring, record)) {
    return {
      ok: false,
      code: 'ERR_LICENCE_REVOKED',
      message: `This licence was revoked: the operator ${operator} no longer exists.`,
      operator,
    };
  }
  return { ok: true, licence };
}

/** Whether `ip` is on the service whitelist for `operator` (records intact). */
export async function checkWhitelist(
  store: Pick<StoreTx, 'getOperator' | 'listServiceWhitelist'>,
  keyring: Keyring,
  operator: string,
  ip: string,
): Promise<Admission | null> {
  if (await isServiceAllowed(store, keyring, ip, operator)) return null;
  return {
    ok: false,
    code: 'ERR_IP_NOT_ALLOWED',
    message: `${ip} is not on the service white list for ${operator}.`,
    operator,
  };
}
