import { createHash, createPrivateKey, timingSafeEqual, X509Certificate } from 'node:crypto';
import { checkLicencePin } from '../cards/pin-rules.js';
import { sealWithPin } from '../cards/pin-sealing.js';
import { CofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import type { LicenceRecord, StoreTx } from '../store/port.js';
import {
  type LicenceFile,
  licenceAssociatedData,
  MAX_CONNECTIONS_LIMIT,
  serialiseLicenceFile,
} from './licence-file.js';
import {
  type CommitChange,
  type LicenceView,
  licenceView,
  requireOperator,
  type SystemManagerDeps,
} from './operator-directory.js';
import { checkOperatorName, licenceIntact, sealLicenceRecord } from './operator-records.js';

/**
 * Licence files (manual §4.4.1.1 "download license file", DESIGN §5). Issuing one re-keys the
 * operator: a fresh key pair and client certificate from the device CA, the previous current
 * licence marked superseded, so older licence files stop working at once.
 */

/** A client certificate issued by the device CA, with the private key made for it (a secret). */
export interface IssuedLicenceCertificate {
  certPem: string;
  /** PKCS#8 DER of the certificate's private key; wiped here once sealed. */
  keyPkcs8: Buffer;
}

/**
 * Issues the client certificate of a licence (common name: the operator). The core does no X.509
 * writing itself; the server wires the device CA in (`issueClientCertificate`).
 */
export type LicenceCertificateIssuer = (operator: string) => Promise<IssuedLicenceCertificate>;

export interface IssueLicenceInput {
  operator: unknown;
  pin: unknown;
  /** When given, must equal `pin`. */
  pinConfirm?: unknown;
  maxConnections: unknown;
  /** The System Manager's account. */
  issuedBy: string;
  deviceId: string;
  /** The crypto service's address written into the file. */
  service: { host: string; port: number };
  /** The device CA certificate, PEM. */
  caCertPem: string;
  issueCertificate: LicenceCertificateIssuer;
  /** PBKDF2 iterations for the sealed key (600,000 in production, as cards). */
  iterations: number;
}

export interface IssuedLicence {
  file: LicenceFile;
  /** The file as downloaded: pretty JSON with a final newline. */
  text: string;
  licence: LicenceView;
  /** Serials of the licences this one superseded. */
  superseded: string[];
}

/**
 * Issues a licence file for an operator: checks the PIN (card PIN rules) and the connection limit,
 * has the device CA issue a client certificate, seals its private key under the PIN, and in one
 * transaction with the audit entry supersedes the operator's current licence and records the new one.
 *
 * @throws CofferError ERR_OPERATOR_NAME, ERR_NOT_FOUND (no such operator), ERR_INTEGRITY;
 *   ERR_PIN_RULE / ERR_PIN_MISMATCH (`details.field` `pin` / `pinConfirm`); ERR_BAD_REQUEST
 *   (`details.field = 'maxConnections'`) for a limit outside 1–10000; ERR_INTERNAL when the issued
 *   certificate does not chain to the device CA or does not match its key.
 */
export async function issueLicence(
  deps: SystemManagerDeps,
  input: IssueLicenceInput,
  commit: CommitChange,
): Promise<IssuedLicence> {
  const operator = checkOperatorName(input.operator);
  if (typeof input.pin !== 'string') {
    throw new CofferError('ERR_PIN_RULE', 'The licence PIN is missing.', { field: 'pin' });
  }
  // The confirmation is optional here (a script may give the PIN once); a form sends both.
  checkLicencePin(input.pin, input.pinConfirm === undefined ? undefined : String(input.pinConfirm));
  const max = input.maxConnections;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1 || max > MAX_CONNECTIONS_LIMIT) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `The maximum number of concurrent connections is a whole number from 1 to ${MAX_CONNECTIONS_LIMIT}.`,
      { field: 'maxConnections' },
    );
  }
  // Refuse an unknown operator before the costly key generation and PIN derivation.
  await deps.store.transaction((tx) => requireOperator(tx, deps.keyring, operator));

  const issued = await input.issueCertificate(operator);
  let file: LicenceFile;
  let fingerprint: string;
  const issuedAt = deps.now().toISOString();
  try {
    const cert = new X509Certificate(issued.certPem);
    const ca = new X509Certificate(input.caCertPem);
    const key = createPrivateKey({ key: issued.keyPkcs8, format: 'der', type: 'pkcs8' });
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey) || !cert.checkPrivateKey(key)) {
      throw new CofferError(
        'ERR_INTERNAL',
        'The licence certificate does not chain to the device CA or match its key.',
      );
    }
    fingerprint = createHash('sha256').update(cert.raw).digest('hex');
    const serial = cert.serialNumber.toLowerCase();
    const header = { deviceId: input.deviceId, operator, serial };
    file = {
      format: 'coffer-licence',
      version: 1,
      operator,
      deviceId: input.deviceId,
      serial,
      issuedAt,
      service: { host: input.service.host, port: input.service.port },
      maxConnections: max,
      caCertificate: input.caCertPem,
      certificate: issued.certPem,
      sealed: await sealWithPin(issued.keyPkcs8, input.pin, licenceAssociatedData(header), input.iterations),
    };
  } finally {
    issued.keyPkcs8.fill(0);
  }

  const record = sealLicenceRecord(deps.keyring, {
    serial: file.serial,
    operator,
    certFingerprint: fingerprint,
    maxConnections: max,
    issuedAt,
    issuedBy: input.issuedBy,
    status: 'current',
  });
  const superseded = await deps.store.transaction(async (tx) => {
    // The operator may have been deleted while the certificate was being made.
    await requireOperator(tx, deps.keyring, operator);
    const replaced: string[] = [];
    for (const previous of await tx.listLicences(operator)) {
      if (previous.status !== 'current') continue;
      await tx.putLicence(sealLicenceRecord(deps.keyring, { ...previous, status: 'superseded' }));
      replaced.push(previous.serial);
    }
    await tx.putLicence(record);
    await commit(
      tx,
      `serial ${record.serial}; max connections ${max}; superseded: ${replaced.length === 0 ? 'none' : replaced.join(', ')}`,
    );
    return replaced;
  });
  return { file, text: serialiseLicenceFile(file), licence: licenceView(record), superseded };
}

/**
 * The licence a client certificate stands for, if it is the operator's current one and intact: what
 * the crypto service checks on every connection. `certFingerprint` is the SHA-256 of the presented
 * certificate's DER (hex, any case, with or without colons).
 */
export async function findCurrentLicence(
  tx: Pick<StoreTx, 'getLicence' | 'getOperator'>,
  keyring: Keyring,
  presented: { serial: string; certFingerprint: string },
): Promise<LicenceRecord | null> {
  const serial = presented.serial.toLowerCase();
  const record = await tx.getLicence(serial);
  if (record?.status !== 'current' || !licenceIntact(keyring, record)) return null;
  const want = Buffer.from(record.certFingerprint, 'hex');
  const got = Buffer.from(presented.certFingerprint.replace(/:/g, '').toLowerCase(), 'hex');
  if (want.length !== 32 || got.length !== want.length || !timingSafeEqual(want, got)) return null;
  // A current licence of a deleted operator cannot exist (deleting revokes), but a store edited
  // behind the device's back could hold one: the operator must still be there.
  return (await tx.getOperator(record.operator)) ? record : null;
}
