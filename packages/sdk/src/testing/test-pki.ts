import { execFileSync } from 'node:child_process';
import { createCipheriv, createPrivateKey, pbkdf2Sync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LicenceFile, licenceAssociatedData } from '../licence.js';

/**
 * A throw-away PKI for the SDK's offline tests, made with the `openssl` command line: a device CA,
 * a server certificate for 127.0.0.1 and localhost (serverAuth), an operator's client certificate
 * (clientAuth), and a second CA that nobody trusts. Test-only: not exported by the package.
 */
export interface TestPki {
  caPem: string;
  caKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  /** A server certificate for the same names from another CA (a device the licence does not pin). */
  foreignServerCertPem: string;
  foreignServerKeyPem: string;
  /** A server certificate of the right CA naming only 127.0.0.1 (not localhost). */
  ipOnlyServerCertPem: string;
  ipOnlyServerKeyPem: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-subj',
    `/CN=${name}/O=Coffer test`,
    '-days',
    '2',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    `${name}.pem`,
  ]);
}

function issue(dir: string, ca: string, name: string, cn: string, ext: string): void {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}/O=Coffer`, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    `0x${randomBytes(16)
      .toString('hex')
      .replace(/^[089a-f]/, '1')}`,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  ]);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-sdk-pki-'));
  try {
    makeCa(dir, 'ca');
    makeCa(dir, 'other-ca');
    const server =
      'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n';
    issue(dir, 'ca', 'server', 'coffer-test-service', server);
    issue(dir, 'other-ca', 'foreign', 'coffer-test-service', server);
    issue(
      dir,
      'ca',
      'ip-only',
      'coffer-test-service',
      'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n',
    );
    issue(dir, 'ca', 'client', 'payments', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    return {
      caPem: read('ca.pem'),
      caKeyPem: read('ca.key'),
      serverCertPem: read('server.pem'),
      serverKeyPem: read('server.key'),
      clientCertPem: read('client.pem'),
      clientKeyPem: read('client.key'),
      foreignServerCertPem: read('foreign.pem'),
      foreignServerKeyPem: read('foreign.key'),
      ipOnlyServerCertPem: read('ip-only.pem'),
      ipOnlyServerKeyPem: read('ip-only.key'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A licence file for the test PKI's client certificate, sealed as the device seals one (PBKDF2-SHA256
 * with `iterations` → AES-256-GCM, associated data naming device, operator and serial).
 */
export function makeTestLicence(
  pki: TestPki,
  pin: string,
  overrides: Partial<Pick<LicenceFile, 'service' | 'maxConnections' | 'deviceId' | 'operator'>> & {
    iterations?: number;
    keyPem?: string;
  } = {},
): LicenceFile {
  const serial = new X509Certificate(pki.clientCertPem).serialNumber.toLowerCase();
  const header = {
    deviceId: overrides.deviceId ?? 'coffer-test-01',
    operator: overrides.operator ?? 'payments',
    serial,
  };
  const iterations = overrides.iterations ?? 1000;
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = pbkdf2Sync(
    Buffer.from(pin.replace(/[a-f]/g, (c) => c.toUpperCase())),
    salt,
    iterations,
    32,
    'sha256',
  );
  const der = createPrivateKey(overrides.keyPem ?? pki.clientKeyPem).export({ format: 'der', type: 'pkcs8' });
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(licenceAssociatedData(header));
  const ciphertext = Buffer.concat([cipher.update(der), cipher.final(), cipher.getAuthTag()]);
  return {
    format: 'coffer-licence',
    version: 1,
    operator: header.operator,
    deviceId: header.deviceId,
    serial,
    issuedAt: '2026-01-01T08:00:00.000Z',
    service: overrides.service ?? { host: '127.0.0.1', port: 1813 },
    maxConnections: overrides.maxConnections ?? 8,
    caCertificate: pki.caPem,
    certificate: pki.clientCertPem,
    sealed: {
      kdf: 'PBKDF2-SHA256',
      iterations,
      salt: salt.toString('base64'),
      cipher: 'AES-256-GCM',
      iv: iv.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    },
  };
}
