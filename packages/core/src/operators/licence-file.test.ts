import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify, webcrypto, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { sealWithPin } from '../cards/pin-sealing.js';
import { CofferError } from '../errors.js';
import {
  type LicenceFile,
  licenceAssociatedData,
  openLicence,
  parseLicenceFile,
  serialiseLicenceFile,
} from './licence-file.js';

/*
 * Fixtures made once with openssl (test-only keys, never used elsewhere):
 *   openssl ecparam -name prime256v1 -genkey -noout -out ca.key
 *   openssl req -x509 -new -key ca.key -subj "/CN=Test CA/O=Coffer" -days 36500 -sha256 \
 *     -addext "basicConstraints=critical,CA:TRUE" -out ca.pem
 *   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out client.key
 *   openssl req -new -key client.key -subj "/CN=payments/O=Coffer" -out client.csr
 *   openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -set_serial 0x5a0102030405060708090a0b0c0d0e0f \
 *     -days 36500 -sha256 -extfile <(printf "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n") -out client.pem
 *   openssl pkcs8 -topk8 -nocrypt -in client.key   (and another key, for "a key that does not match")
 */
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBnTCCAUOgAwIBAgIUVE/BgblzdhJxmPto43MgbsiQ8vEwCgYIKoZIzj0EAwIw
IzEQMA4GA1UEAwwHVGVzdCBDQTEPMA0GA1UECgwGQ29mZmVyMCAXDTI2MTIwNDE2
MjkyMloYDzIxMjYxMTEwMTYyOTIyWjAjMRAwDgYDVQQDDAdUZXN0IENBMQ8wDQYD
VQQKDAZDb2ZmZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARC96T/wCEdBd5g
1UDLl+wEwuTgYP2xfFNHHstUxiLGmYJesS9Xktew+l6jUdXkOjQQX+/AQY8Gzu4H
jMuqPiMLo1MwUTAdBgNVHQ4EFgQUv6z/xkfglqd8amiyapnRSKWkP+EwHwYDVR0j
BBgwFoAUv6z/xkfglqd8amiyapnRSKWkP+EwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNIADBFAiAmq9FMWHDnfL46hdVp77Vi//LN83wRitJbg3A/5DxGUAIh
AJRVxuVVO2nKWrPWma9US/w3O/SSEiMJT9q2tdsBoccp
-----END CERTIFICATE-----
`;
const CLIENT_PEM = `-----BEGIN CERTIFICATE-----
MIIBqTCCAU+gAwIBAgIQWgECAwQFBgcICQoLDA0ODzAKBggqhkjOPQQDAjAjMRAw
DgYDVQQDDAdUZXN0IENBMQ8wDQYDVQQKDAZDb2ZmZXIwIBcNMjYxMjA0MTYyOTIy
WhgPMjEyNjExMTAxNjI5MjJaMCQxETAPBgNVBAMMCHBheW1lbnRzMQ8wDQYDVQQK
DAZDb2ZmZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARjxfnJl/Imt8scaALS
W2tEmE2RtvwPZePPjHhHJt6pht1kuxTIQIBwvUOJufiLQWJDxhd2IAUuO93gV13F
kK7Ro2IwYDATBgNVHSUEDDAKBggrBgEFBQcDAjAJBgNVHRMEAjAAMB0GA1UdDgQW
BBROD2k1NIlRuOwduyxqMEb8u+FK8DAfBgNVHSMEGDAWgBS/rP/GR+CWp3xqaLJq
mdFIpaQ/4TAKBggqhkjOPQQDAgNIADBFAiAk/YeN0wOMj/QASRbPXB7UkIa6IHOW
Rw3HRRXcJo2e+wIhAPNXnUDz6M1zdXydImtLuNBZwMWeNboiAyvnLJdi25qe
-----END CERTIFICATE-----
`;
const CLIENT_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjFf590UPUxkcTYzO
XC9U5RWR7yJ2TIm6Ht2jUgfi+3qhRANCAARjxfnJl/Imt8scaALSW2tEmE2RtvwP
ZePPjHhHJt6pht1kuxTIQIBwvUOJufiLQWJDxhd2IAUuO93gV13FkK7R
-----END PRIVATE KEY-----
`;
const OTHER_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/vyKd9qVBRP0TTLb
yFdfrop10FAyjxSR5+D5HDYI+YuhRANCAASd6kJWjYAPMuAkGcQJuLl4CJglPRly
YyR75lmqBCbBX9gycM3sYnaAUpeSBopEoPQs05gGHKgkgnljJOVZta3x
-----END PRIVATE KEY-----
`;
const SERIAL = '5a0102030405060708090a0b0c0d0e0f';
const PIN = '12AB34CD';
const ITERATIONS = 1_000;

function isCode(code: string, field?: string): (error: unknown) => boolean {
  return (error) =>
    error instanceof CofferError &&
    error.code === code &&
    (field === undefined || error.details['field'] === field);
}

function pkcs8Der(pem: string): Buffer {
  return createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
}

async function makeFile(overrides: Partial<LicenceFile> = {}, keyPem = CLIENT_KEY_PEM): Promise<LicenceFile> {
  const header = { deviceId: 'coffer-test-01', operator: 'payments', serial: SERIAL, ...overrides };
  return {
    format: 'coffer-licence',
    version: 1,
    operator: header.operator,
    deviceId: header.deviceId,
    serial: header.serial,
    issuedAt: '2026-01-01T08:00:00.000Z',
    service: { host: '127.0.0.1', port: 1813 },
    maxConnections: 8,
    caCertificate: CA_PEM,
    certificate: CLIENT_PEM,
    sealed: await sealWithPin(pkcs8Der(keyPem), PIN, licenceAssociatedData(header), ITERATIONS),
    ...overrides,
  };
}

describe('licence files', () => {
  it('open with their PIN into a certificate, key and CA a TLS client can use', async () => {
    const file = await makeFile();
    const opened = await openLicence(serialiseLicenceFile(file), PIN.toLowerCase());
    assert.equal(opened.operator, 'payments');
    assert.equal(opened.deviceId, 'coffer-test-01');
    assert.equal(opened.serial, SERIAL);
    assert.deepEqual(opened.service, { host: '127.0.0.1', port: 1813 });
    assert.equal(opened.maxConnections, 8);
    assert.equal(opened.caPem, CA_PEM);
    assert.equal(opened.certPem, CLIENT_PEM);
    assert.match(opened.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    const cert = new X509Certificate(opened.certPem);
    assert.ok(cert.verify(new X509Certificate(opened.caPem).publicKey));
    const signature = sign('sha256', Buffer.from('hello'), opened.privateKey);
    assert.ok(verify('sha256', Buffer.from('hello'), createPublicKey(opened.certPem), signature));
  });

  it('a wrong PIN is refused with ERR_PIN_WRONG', async () => {
    await assert.rejects(openLicence(await makeFile(), '12AB34CE'), (error) => {
      assert.ok(isCode('ERR_PIN_WRONG')(error));
      assert.equal((error as CofferError).message, 'The licence PIN is wrong.');
      return true;
    });
  });

  it('a sealed key copied into another operator’s or serial’s file does not open', async () => {
    const file = await makeFile();
    await assert.rejects(openLicence({ ...file, deviceId: 'coffer-test-02' }, PIN), isCode('ERR_PIN_WRONG'));
    await assert.rejects(openLicence({ ...file, operator: 'billing' }, PIN), isCode('ERR_PIN_WRONG'));
  });

  it('a sealed key that does not match the certificate is refused with ERR_LICENCE_FORMAT', async () => {
    await assert.rejects(
      openLicence(await makeFile({}, OTHER_KEY_PEM), PIN),
      isCode('ERR_LICENCE_FORMAT', 'sealed'),
    );
  });

  it('the sealed key opens in WebCrypto and imports as PKCS#8 unchanged', async () => {
    const file = await makeFile();
    const subtle = webcrypto.subtle;
    const material = await subtle.importKey('raw', Buffer.from(PIN), 'PBKDF2', false, ['deriveKey']);
    const aesKey = await subtle.deriveKey(
      {
        name: 'PBKDF2',
        hash: 'SHA-256',
        salt: Buffer.from(file.sealed.salt, 'base64'),
        iterations: file.sealed.iterations,
      },
      material,
      { name: 'AES-GCM', length: 256 },
      false,
      ['decrypt'],
    );
    const pkcs8 = await subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: Buffer.from(file.sealed.iv, 'base64'),
        additionalData: licenceAssociatedData(file),
      },
      aesKey,
      Buffer.from(file.sealed.ciphertext, 'base64'),
    );
    const key = await subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ]);
    assert.equal(key.type, 'private');
  });

  describe('parseLicenceFile refuses with ERR_LICENCE_FORMAT', () => {
    const cases: [string, (f: Record<string, unknown>) => unknown, string | undefined][] = [
      ['text that is not JSON', () => '{not json', undefined],
      ['another format', (f) => ({ ...f, format: 'coffer-card' }), 'format'],
      ['another version', (f) => ({ ...f, version: 2 }), 'version'],
      ['an unknown field', (f) => ({ ...f, extra: 1 }), 'extra'],
      ['a missing field', ({ maxConnections: _m, ...f }) => f, 'maxConnections'],
      ['a malformed operator', (f) => ({ ...f, operator: '../x' }), 'operator'],
      ['a serial that is not the certificate’s', (f) => ({ ...f, serial: 'abcd' }), 'serial'],
      ['a port out of range', (f) => ({ ...f, service: { host: '127.0.0.1', port: 70000 } }), 'service.port'],
      ['a connection limit of 0', (f) => ({ ...f, maxConnections: 0 }), 'maxConnections'],
      ['a certificate from another CA', (f) => ({ ...f, caCertificate: CLIENT_PEM }), 'certificate'],
      ['a certificate that is not PEM', (f) => ({ ...f, certificate: 'MIIB' }), 'certificate'],
      [
        'an absurd iteration count',
        (f) => ({ ...f, sealed: { ...(f['sealed'] as object), iterations: 1e9 } }),
        'sealed.iterations',
      ],
      ['a short IV', (f) => ({ ...f, sealed: { ...(f['sealed'] as object), iv: 'AAAA' } }), 'sealed.iv'],
    ];
    for (const [name, change, field] of cases) {
      it(name, async () => {
        const file = (await makeFile()) as unknown as Record<string, unknown>;
        assert.throws(() => parseLicenceFile(change(file)), isCode('ERR_LICENCE_FORMAT', field));
      });
    }
  });

  it('round-trips through serialiseLicenceFile and parseLicenceFile unchanged', async () => {
    const file = await makeFile();
    const text = serialiseLicenceFile(file);
    assert.ok(text.endsWith('}\n'));
    assert.deepEqual(parseLicenceFile(text), file);
    assert.deepEqual(parseLicenceFile(Buffer.from(text)), file);
  });
});
