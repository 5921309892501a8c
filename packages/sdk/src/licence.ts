import { createDecipheriv, createPrivateKey, pbkdf2, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CofferLicenceError } from './errors.js';

/**
 * Licence files as the device issues them (docs/management.md "Licence files"), read and opened
 * here without @coffer/core (DESIGN §11: the SDK depends only on the protocol). The sealed part is
 * PBKDF2-SHA256 of the PIN (a–f read as A–F) → AES-256-GCM over the client key's PKCS#8, with the
 * associated data `coffer-licence/v1/DEVICE/OPERATOR/SERIAL` and the 16-byte tag appended. A test
 * in test/e2e opens a licence made by the device's own code with this one.
 */
export interface LicenceFile {
  format: 'coffer-licence';
  version: 1;
  operator: string;
  deviceId: string;
  /** The client certificate's serial, lowercase hex. */
  serial: string;
  issuedAt: string;
  /** The crypto service's address when the licence was issued. */
  service: { host: string; port: number };
  maxConnections: number;
  /** The device CA, PEM: the only CA the client trusts for the service. */
  caCertificate: string;
  /** The operator's client certificate, PEM. */
  certificate: string;
  sealed: {
    kdf: 'PBKDF2-SHA256';
    iterations: number;
    salt: string;
    cipher: 'AES-256-GCM';
    iv: string;
    ciphertext: string;
  };
}

/** A licence opened with its PIN: what the TLS client presents and pins. `keyPem` is a secret. */
export interface OpenedLicence {
  readonly operator: string;
  readonly deviceId: string;
  readonly serial: string;
  readonly service: { readonly host: string; readonly port: number };
  readonly maxConnections: number;
  readonly caPem: string;
  readonly certPem: string;
  /** The client private key, PKCS#8 PEM. */
  readonly keyPem: string;
}

const MAX_FILE_BYTES = 64 * 1024;
const MAX_PEM_CHARS = 16 * 1024;
const MAX_ITERATIONS = 10_000_000;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_CIPHERTEXT_BYTES = 4096;
const TOP_KEYS = [
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
];
const SEALED_KEYS = ['kdf', 'iterations', 'salt', 'cipher', 'iv', 'ciphertext'];
const OPERATOR = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const SERIAL = /^[0-9a-f]{2,40}$/;
const HOST = /^[A-Za-z0-9.:[\]-]{1,255}$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

const pbkdf2Async = promisify(pbkdf2);

function refuse(message: string, field?: string): never {
  throw new CofferLicenceError('ERR_LICENCE_FORMAT', message, field);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], prefix: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) refuse(`The licence file has an unknown field ${prefix}${k}.`, prefix + k);
  for (const k of allowed) if (!(k in o)) refuse(`The licence file has no field ${prefix}${k}.`, prefix + k);
}

function base64Field(value: unknown, field: string, min: number, max: number): Buffer {
  const ok = typeof value === 'string' && value.length % 4 === 0 && B64.test(value);
  const bytes = ok ? Buffer.from(value, 'base64') : undefined;
  if (!bytes || bytes.toString('base64') !== value || bytes.length < min || bytes.length > max)
    refuse(`The field ${field} is not base64 of the right length.`, field);
  return bytes;
}

function certificateField(value: unknown, field: string): X509Certificate {
  if (
    typeof value !== 'string' ||
    value.length > MAX_PEM_CHARS ||
    !value.includes('-----BEGIN CERTIFICATE-----')
  )
    refuse(`The field ${field} is not a PEM certificate.`, field);
  try {
    return new X509Certificate(value);
  } catch {
    return refuse(`The field ${field} is not a valid certificate.`, field);
  }
}

/**
 * Checks a licence file: JSON text, its bytes, or the parsed object. Unknown fields are refused.
 *
 * @throws CofferLicenceError ERR_LICENCE_FORMAT naming the first field that is wrong.
 */
export function parseLicence(input: unknown): LicenceFile {
  let value = input;
  if (typeof value === 'string' || value instanceof Uint8Array) {
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    if (text.length > MAX_FILE_BYTES) refuse('This file is too large to be a Coffer licence.');
    try {
      value = JSON.parse(text);
    } catch {
      refuse('This licence file is not JSON.');
    }
  }
  if (!isObject(value)) refuse('This licence file is not a JSON object.');
  const o = value;
  if (o['format'] !== 'coffer-licence') refuse('This is not a Coffer licence file.', 'format');
  if (o['version'] !== 1)
    refuse(`This licence file is of version ${String(o['version'])}; this SDK reads version 1.`, 'version');
  checkKeys(o, TOP_KEYS, '');
  if (typeof o['operator'] !== 'string' || !OPERATOR.test(o['operator']))
    refuse('The operator name is malformed.', 'operator');
  if (typeof o['deviceId'] !== 'string' || !DEVICE_ID.test(o['deviceId']))
    refuse('The device id is malformed.', 'deviceId');
  if (typeof o['serial'] !== 'string' || !SERIAL.test(o['serial']))
    refuse('The serial is not lowercase hex.', 'serial');
  if (typeof o['issuedAt'] !== 'string' || Number.isNaN(Date.parse(o['issuedAt'])))
    refuse('The issue time is not a time.', 'issuedAt');
  const service = o['service'];
  if (!isObject(service)) refuse('The service address is missing.', 'service');
  checkKeys(service, ['host', 'port'], 'service.');
  if (typeof service['host'] !== 'string' || !HOST.test(service['host']))
    refuse('The service host is malformed.', 'service.host');
  const port = service['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    refuse('The service port is not a port number.', 'service.port');
  const max = o['maxConnections'];
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 10_000)
    refuse('The connection limit is not a whole number from 1 to 10000.', 'maxConnections');
  const ca = certificateField(o['caCertificate'], 'caCertificate');
  const cert = certificateField(o['certificate'], 'certificate');
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    refuse('The certificate was not issued by the licence’s CA.', 'certificate');
  if (cert.serialNumber.toLowerCase() !== o['serial'])
    refuse('The serial does not match the certificate.', 'serial');
  const sealed = o['sealed'];
  if (!isObject(sealed)) refuse('The licence has no sealed key.', 'sealed');
  checkKeys(sealed, SEALED_KEYS, 'sealed.');
  if (sealed['kdf'] !== 'PBKDF2-SHA256')
    refuse('The key is sealed with an unknown key derivation.', 'sealed.kdf');
  const iterations = sealed['iterations'];
  if (
    typeof iterations !== 'number' ||
    !Number.isInteger(iterations) ||
    iterations < 1 ||
    iterations > MAX_ITERATIONS
  )
    refuse(`The iteration count is not a whole number from 1 to ${MAX_ITERATIONS}.`, 'sealed.iterations');
  if (sealed['cipher'] !== 'AES-256-GCM')
    refuse('The key is sealed with an unknown cipher.', 'sealed.cipher');
  base64Field(sealed['salt'], 'sealed.salt', SALT_BYTES, SALT_BYTES);
  base64Field(sealed['iv'], 'sealed.iv', IV_BYTES, IV_BYTES);
  base64Field(sealed['ciphertext'], 'sealed.ciphertext', TAG_BYTES + 1, MAX_CIPHERTEXT_BYTES);
  return structuredClone(o) as unknown as LicenceFile;
}

/** Reads and checks a licence file from disk. @throws CofferLicenceError ERR_LICENCE_FORMAT. */
export async function readLicence(path: string): Promise<LicenceFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    return refuse(`Cannot read the licence file ${path}: ${(error as Error).message}`);
  }
  return parseLicence(bytes);
}

/** What binds a sealed key to its licence (the device uses the same bytes). */
export function licenceAssociatedData(f: Pick<LicenceFile, 'deviceId' | 'operator' | 'serial'>): Buffer {
  return Buffer.from(`coffer-licence/v1/${f.deviceId}/${f.operator}/${f.serial}`, 'utf8');
}

/**
 * Opens a licence with its PIN (lower-case a–f are read as upper case, as the device does). The
 * PBKDF2 runs off the event loop. The key bytes are wiped once parsed (best effort: JavaScript may
 * keep copies; the returned PEM is itself the secret).
 *
 * @throws CofferLicenceError ERR_LICENCE_FORMAT for a malformed file or a sealed key that does not
 *   match the certificate; ERR_PIN_WRONG when the PIN does not open it.
 */
export async function openLicence(
  input: LicenceFile | string | Uint8Array | object,
  pin: string,
): Promise<OpenedLicence> {
  const file = parseLicence(input);
  const pinBytes = Buffer.from(
    String(pin).replace(/[a-f]/g, (c) => c.toUpperCase()),
    'utf8',
  );
  let key: Buffer | undefined;
  let der: Buffer | undefined;
  try {
    key = await pbkdf2Async(
      pinBytes,
      Buffer.from(file.sealed.salt, 'base64'),
      file.sealed.iterations,
      32,
      'sha256',
    );
    const body = Buffer.from(file.sealed.ciphertext, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(file.sealed.iv, 'base64'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(licenceAssociatedData(file));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      der = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new CofferLicenceError('ERR_PIN_WRONG', 'The licence PIN is wrong.');
    }
    let privateKey: ReturnType<typeof createPrivateKey>;
    try {
      privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      return refuse('The licence’s sealed key is not a private key.', 'sealed');
    }
    if (!new X509Certificate(file.certificate).checkPrivateKey(privateKey))
      refuse('The licence’s sealed key does not match its certificate.', 'sealed');
    return {
      operator: file.operator,
      deviceId: file.deviceId,
      serial: file.serial,
      service: { host: file.service.host, port: file.service.port },
      maxConnections: file.maxConnections,
      caPem: file.caCertificate,
      certPem: file.certificate,
      keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    };
  } finally {
    pinBytes.fill(0);
    key?.fill(0);
    der?.fill(0);
  }
}

/** Whether `value` is a licence already opened (so `connect` need not run the PIN derivation again). */
export function isOpenedLicence(value: unknown): value is OpenedLicence {
  return (
    isObject(value) &&
    typeof value['keyPem'] === 'string' &&
    typeof value['certPem'] === 'string' &&
    typeof value['caPem'] === 'string'
  );
}
