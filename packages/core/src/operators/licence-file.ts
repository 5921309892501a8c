import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import {
  openWithPin,
  PIN_IV_BYTES,
  PIN_KDF_MAX_ITERATIONS,
  PIN_SALT_BYTES,
  PIN_TAG_BYTES,
  type PinSealed,
} from '../cards/pin-sealing.js';
import { CofferError } from '../errors.js';
import { checkOperatorName } from './operator-records.js';

/**
 * An operator's licence file (manual §4.4.1.1 "download license file", DESIGN §5): JSON the System
 * Manager hands to the application's developers. It holds where the crypto service listens, the
 * device CA certificate (to pin the server), the operator's client certificate issued by that CA,
 * the connection limit, and the certificate's private key (PKCS#8 DER) sealed under the licence PIN
 * exactly as a card's sealed part is (PBKDF2-SHA256 → AES-256-GCM, WebCrypto-friendly: the
 * plaintext is the PKCS#8 itself, so `subtle.importKey('pkcs8', …)` takes it unchanged). The
 * associated data binds the sealed key to this file's device, operator and serial.
 *
 * The device keeps only a `LicenceRecord` (serial, fingerprint, status): never the private key.
 */
export interface LicenceFile {
  format: 'coffer-licence';
  version: 1;
  operator: string;
  deviceId: string;
  /** The client certificate's serial number, lowercase hex. */
  serial: string;
  /** ISO-8601 UTC with milliseconds. */
  issuedAt: string;
  /** The crypto service (A-Net1) as the device knew it when the licence was issued. */
  service: { host: string; port: number };
  maxConnections: number;
  /** The device CA certificate, PEM: the client pins it to authenticate the service. */
  caCertificate: string;
  /** The operator's client certificate, PEM, issued by the device CA. */
  certificate: string;
  sealed: PinSealed;
}

/** A licence opened with its PIN: what a TLS client needs. */
export interface OpenedLicence {
  operator: string;
  deviceId: string;
  serial: string;
  service: { host: string; port: number };
  maxConnections: number;
  caPem: string;
  certPem: string;
  /** The client private key as PKCS#8 PEM (what `tls.connect({ key })` takes). A secret. */
  keyPem: string;
  privateKey: KeyObject;
}

export const LICENCE_FORMAT = 'coffer-licence';
export const LICENCE_VERSION = 1;
export const MAX_CONNECTIONS_LIMIT = 10_000;

const MAX_FILE_CHARS = 64 * 1024;
const MAX_PEM_CHARS = 16 * 1024;
const MAX_CIPHERTEXT_BYTES = 4096;
const FILE_KEYS = [
  'format',
  'version',
  'operator',
  'deviceId',
  'serial',
  'issuedAt',
  'service',
  'maxConnections',
  'caCertificate',
  'certificate',
  'sealed',
] as const;
const SEALED_KEYS = ['kdf', 'iterations', 'salt', 'cipher', 'iv', 'ciphertext'] as const;
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const SERIAL = /^[0-9a-f]{2,40}$/;
const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HOST = /^[A-Za-z0-9.:[\]-]{1,255}$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** What binds a licence's sealed key to its file: moved into another licence it does not open. */
export function licenceAssociatedData(f: Pick<LicenceFile, 'deviceId' | 'operator' | 'serial'>): Buffer {
  return Buffer.from(`coffer-licence/v1/${f.deviceId}/${f.operator}/${f.serial}`, 'utf8');
}

/** The file name offered for download: `demo.license` (the manual's spelling of the extension). */
export function licenceFileName(operator: string): string {
  return `${operator}.license`;
}

/** Pretty JSON with a final newline, fields in the documented order. */
export function serialiseLicenceFile(file: LicenceFile): string {
  return `${JSON.stringify(assemble(file), null, 2)}\n`;
}

/**
 * Validates a licence file: JSON text (string or Buffer) or an already parsed object. Every field is
 * checked and unknown fields are refused.
 *
 * @throws CofferError ERR_LICENCE_FORMAT with a sentence naming the first field that is wrong.
 */
export function parseLicenceFile(input: unknown): LicenceFile {
  let value = input;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    const text = value.toString();
    if (text.length > MAX_FILE_CHARS) refuse('This file is too large to be a Coffer licence.');
    try {
      value = JSON.parse(text);
    } catch {
      refuse('This licence file is not JSON.');
    }
  }
  if (!isPlainObject(value)) refuse('This licence file is not a JSON object.');
  const o = value as Record<string, unknown>;
  if (o['format'] !== LICENCE_FORMAT) refuse('This is not a Coffer licence file.', 'format');
  if (o['version'] !== LICENCE_VERSION) {
    refuse(
      `This licence file is of version ${String(o['version'])}; this program reads version ${LICENCE_VERSION}.`,
      'version',
    );
  }
  checkKeys(o, FILE_KEYS, '');
  try {
    checkOperatorName(o['operator'], 'operator');
  } catch {
    refuse('The operator name is malformed.', 'operator');
  }
  if (typeof o['deviceId'] !== 'string' || !DEVICE_ID.test(o['deviceId']))
    refuse('The device id is malformed.', 'deviceId');
  if (typeof o['serial'] !== 'string' || !SERIAL.test(o['serial']))
    refuse('The serial is not lowercase hex.', 'serial');
  if (typeof o['issuedAt'] !== 'string' || !ISO_UTC_MS.test(o['issuedAt'])) {
    refuse('The issue time is not an ISO-8601 UTC time with milliseconds.', 'issuedAt');
  }
  const service = o['service'];
  if (!isPlainObject(service)) refuse('The service address is missing.', 'service');
  checkKeys(service as Record<string, unknown>, ['host', 'port'], 'service.');
  const { host, port } = service as { host: unknown; port: unknown };
  if (typeof host !== 'string' || !HOST.test(host)) refuse('The service host is malformed.', 'service.host');
  if (!Number.isSafeInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    refuse('The service port is not a port number.', 'service.port');
  }
  const max = o['maxConnections'];
  if (!Number.isSafeInteger(max) || (max as number) < 1 || (max as number) > MAX_CONNECTIONS_LIMIT) {
    refuse(
      `The connection limit is not a whole number from 1 to ${MAX_CONNECTIONS_LIMIT}.`,
      'maxConnections',
    );
  }
  const ca = checkCertificate(o['caCertificate'], 'caCertificate');
  const cert = checkCertificate(o['certificate'], 'certificate');
  if (!cert.checkIssued(ca)) refuse('The certificate was not issued by the licence’s CA.', 'certificate');
  if (cert.serialNumber.toLowerCase() !== o['serial'])
    refuse('The serial does not match the certificate.', 'serial');
  const sealed = o['sealed'];
  if (!isPlainObject(sealed)) refuse('The licence has no sealed key.', 'sealed');
  const s = sealed as Record<string, unknown>;
  checkKeys(s, SEALED_KEYS, 'sealed.');
  if (s['kdf'] !== 'PBKDF2-SHA256') refuse('The key is sealed with an unknown key derivation.', 'sealed.kdf');
  const iterations = s['iterations'];
  if (
    !Number.isSafeInteger(iterations) ||
    (iterations as number) < 1 ||
    (iterations as number) > PIN_KDF_MAX_ITERATIONS
  ) {
    refuse(
      `The iteration count is not a whole number from 1 to ${PIN_KDF_MAX_ITERATIONS}.`,
      'sealed.iterations',
    );
  }
  if (s['cipher'] !== 'AES-256-GCM') refuse('The key is sealed with an unknown cipher.', 'sealed.cipher');
  checkB64(s['salt'], 'sealed.salt', PIN_SALT_BYTES, PIN_SALT_BYTES);
  checkB64(s['iv'], 'sealed.iv', PIN_IV_BYTES, PIN_IV_BYTES);
  checkB64(s['ciphertext'], 'sealed.ciphertext', PIN_TAG_BYTES + 1, MAX_CIPHERTEXT_BYTES);
  return assemble(o as unknown as LicenceFile);
}

/**
 * Opens a licence file with its PIN: for the SDK and `coffer client`, which then connect with the
 * certificate and key, pinning the CA.
 *
 * @throws CofferError ERR_LICENCE_FORMAT when the file is malformed, or its sealed key does not match
 *   its certificate.
 * @throws CofferError ERR_PIN_WRONG ("The licence PIN is wrong.") when the sealed key does not open.
 */
export async function openLicence(input: unknown, pin: string): Promise<OpenedLicence> {
  const file = parseLicenceFile(input);
  const der = await openWithPin(file.sealed, pin, licenceAssociatedData(file), 'The licence PIN is wrong.');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return refuse('The licence’s sealed key is not a private key.', 'sealed');
  } finally {
    der.fill(0);
  }
  if (!new X509Certificate(file.certificate).checkPrivateKey(privateKey)) {
    refuse('The licence’s sealed key does not match its certificate.', 'sealed');
  }
  return {
    operator: file.operator,
    deviceId: file.deviceId,
    serial: file.serial,
    service: { ...file.service },
    maxConnections: file.maxConnections,
    caPem: file.caCertificate,
    certPem: file.certificate,
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    privateKey,
  };
}

function checkCertificate(value: unknown, field: string): X509Certificate {
  if (
    typeof value !== 'string' ||
    value.length > MAX_PEM_CHARS ||
    !value.includes('-----BEGIN CERTIFICATE-----')
  ) {
    return refuse(`The field ${field} is not a PEM certificate.`, field);
  }
  try {
    return new X509Certificate(value);
  } catch {
    return refuse(`The field ${field} is not a valid certificate.`, field);
  }
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], prefix: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) refuse(`The licence file has an unknown field ${prefix}${k}.`, `${prefix}${k}`);
  }
  for (const k of allowed) {
    if (!(k in o)) refuse(`The licence file has no field ${prefix}${k}.`, `${prefix}${k}`);
  }
}

function checkB64(value: unknown, field: string, min: number, max: number): void {
  const ok =
    typeof value === 'string' &&
    value.length % 4 === 0 &&
    B64.test(value) &&
    Buffer.from(value, 'base64').toString('base64') === value;
  const length = ok ? Buffer.from(value as string, 'base64').length : -1;
  if (!ok || length < min || length > max)
    refuse(`The field ${field} is not base64 of the right length.`, field);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Builds the file with its fields in the documented order (the serialised form depends on it). */
function assemble(f: LicenceFile): LicenceFile {
  return {
    format: LICENCE_FORMAT,
    version: LICENCE_VERSION,
    operator: f.operator,
    deviceId: f.deviceId,
    serial: f.serial,
    issuedAt: f.issuedAt,
    service: { host: f.service.host, port: f.service.port },
    maxConnections: f.maxConnections,
    caCertificate: f.caCertificate,
    certificate: f.certificate,
    sealed: {
      kdf: f.sealed.kdf,
      iterations: f.sealed.iterations,
      salt: f.sealed.salt,
      cipher: f.sealed.cipher,
      iv: f.sealed.iv,
      ciphertext: f.sealed.ciphertext,
    },
  };
}

function refuse(sentence: string, field?: string): never {
  throw new CofferError('ERR_LICENCE_FORMAT', sentence, field ? { field } : {});
}
