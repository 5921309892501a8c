import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { CofferError, type Device } from '@coffer/core';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];
type CryptoKey = CryptoKeyPair['publicKey'];

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * The device's own certificate authority, made at initialisation: it issues the management and
 * service TLS certificates and the operators' licence certificates. P-256, valid 20 years.
 */
export async function makeDeviceCa(
  now: Date,
  deviceId: string,
): Promise<{ certPem: string; keyPkcs8: Buffer }> {
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 20);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: `CN=Coffer device CA ${deviceId}, O=Coffer`,
    notBefore: now,
    notAfter,
    keys: keys as unknown as CryptoKeyPair,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as CryptoKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem'), keyPkcs8: pkcs8 };
}

/** The device CA as loaded for issuing: its certificate and its PKCS#8 private key (wipe it after use). */
export interface DeviceCaMaterial {
  certPem: string;
  keyPkcs8: Buffer;
}

/** A certificate the device CA issued, with the private key made for it. */
export interface IssuedCertificate {
  certPem: string;
  /** The new key pair's private key, PKCS#8 DER (P-256). A secret: seal or wipe it. */
  keyPkcs8: Buffer;
  /** The key pair's public key, SPKI DER. */
  publicKeySpki: Buffer;
  /** Certificate serial number, lowercase hex. */
  serial: string;
  /** SHA-256 of the certificate DER, lowercase hex (what a TLS peer certificate's `fingerprint256` shows without colons). */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

export interface IssueOptions {
  /** Subject common name. */
  commonName: string;
  /** Start of validity; the host clock minus five minutes by default (TLS peers check the host clock). */
  notBefore?: Date;
  validityDays: number;
}

/**
 * Opens the device CA's private key with the KEK (it is sealed at initialisation with the place
 * `{ table: 'domain', id: 'ca', version: 1 }`). Only while booted (the keyring is needed).
 * @throws ERR_STATE_* unless READY or SERVING; ERR_STATE_UNINITIALISED without a domain; ERR_DECRYPT.
 */
export async function loadDeviceCa(device: Device): Promise<DeviceCaMaterial> {
  return device.deviceCa();
}

function randomSerial(): string {
  // 16 random bytes, positive (first nibble below 8) and never starting with 0 (DER minimal encoding).
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[089a-f]/, '1');
}

async function issue(
  ca: DeviceCaMaterial,
  opts: IssueOptions,
  extensions: (keys: CryptoKeyPair) => Promise<x509.Extension[]>,
): Promise<IssuedCertificate> {
  if (!Number.isInteger(opts.validityDays) || opts.validityDays < 1 || opts.validityDays > 36500) {
    throw new CofferError('ERR_INTERNAL', 'validityDays must be an integer between 1 and 36500.');
  }
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', ca.keyPkcs8, EC, false, ['sign']);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const notBefore = opts.notBefore ?? new Date(Date.now() - 5 * 60_000);
  const notAfter = new Date(notBefore.getTime() + opts.validityDays * 86_400_000);
  const serial = randomSerial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: new x509.Name([{ CN: [opts.commonName] }, { O: ['Coffer'] }]).toString(),
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingKey: caKey as unknown as CryptoKey,
    publicKey: keys.publicKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(await extensions(keys)),
    ],
  });
  const keyPkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as never));
  const publicKeySpki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey as never));
  return {
    certPem: cert.toString('pem'),
    keyPkcs8,
    publicKeySpki,
    serial: cert.serialNumber.toLowerCase(),
    fingerprint: createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex'),
    notBefore,
    notAfter,
  };
}

/**
 * Issues a TLS server certificate (P-256, a fresh key pair) for the management or crypto service:
 * serverAuth, with the given IP addresses and DNS names as subject alternative names.
 * @throws ERR_INTERNAL for an out-of-range validity; WebCrypto errors for a malformed CA key.
 */
export async function issueServerCertificate(
  ca: DeviceCaMaterial,
  opts: IssueOptions & { ips: string[]; dnsNames: string[] },
): Promise<IssuedCertificate> {
  return issue(ca, opts, async () => [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    new x509.SubjectAlternativeNameExtension([
      ...opts.ips.map((ip) => ({ type: 'ip' as const, value: ip })),
      ...opts.dnsNames.map((dns) => ({ type: 'dns' as const, value: dns })),
    ]),
  ]);
}

/**
 * Issues a TLS client certificate (P-256, a fresh key pair) — an operator's licence certificate
 * (DESIGN §5): clientAuth, the operator's name as common name. The caller seals `keyPkcs8` under the
 * licence PIN and records `serial` and `fingerprint`.
 * @throws ERR_INTERNAL for an out-of-range validity; WebCrypto errors for a malformed CA key.
 */
export async function issueClientCertificate(
  ca: DeviceCaMaterial,
  opts: IssueOptions,
): Promise<IssuedCertificate> {
  return issue(ca, opts, async () => [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
  ]);
}
