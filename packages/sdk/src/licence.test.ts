import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { CofferLicenceError } from './errors.js';
import { isOpenedLicence, openLicence, parseLicence } from './licence.js';
import { makeTestLicence, makeTestPki, type TestPki } from './testing/test-pki.js';

const PIN = '12AB34CD';

function isCode(code: string, field?: string): (error: unknown) => boolean {
  return (error) =>
    error instanceof CofferLicenceError &&
    error.code === code &&
    (field === undefined || error.field === field);
}

describe('licence files in the SDK', () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });

  it('open with their PIN (a–f in either case) into the certificate, key and CA a TLS client needs', async () => {
    const file = makeTestLicence(pki, PIN);
    const opened = await openLicence(JSON.stringify(file, null, 2), PIN.toLowerCase());
    assert.equal(opened.operator, 'payments');
    assert.equal(opened.serial, new X509Certificate(pki.clientCertPem).serialNumber.toLowerCase());
    assert.deepEqual(opened.service, { host: '127.0.0.1', port: 1813 });
    assert.equal(opened.maxConnections, 8);
    assert.equal(opened.caPem, pki.caPem);
    assert.ok(
      new X509Certificate(opened.certPem).checkPrivateKey(
        (await import('node:crypto')).createPrivateKey(opened.keyPem),
      ),
    );
    assert.ok(isOpenedLicence(opened));
    assert.ok(!isOpenedLicence(file));
  });

  it('with a wrong PIN are refused with ERR_PIN_WRONG', async () => {
    await assert.rejects(openLicence(makeTestLicence(pki, PIN), '12AB34CE'), isCode('ERR_PIN_WRONG'));
  });

  it('whose sealed key was moved from another licence are refused with ERR_PIN_WRONG', async () => {
    const file = makeTestLicence(pki, PIN);
    await assert.rejects(openLicence({ ...file, operator: 'billing' }, PIN), isCode('ERR_PIN_WRONG'));
    await assert.rejects(openLicence({ ...file, deviceId: 'coffer-test-02' }, PIN), isCode('ERR_PIN_WRONG'));
  });

  it('whose sealed key does not match the certificate are refused with ERR_LICENCE_FORMAT', async () => {
    const file = makeTestLicence(pki, PIN, { keyPem: pki.serverKeyPem });
    await assert.rejects(openLicence(file, PIN), isCode('ERR_LICENCE_FORMAT', 'sealed'));
  });

  it('that are malformed are refused with ERR_LICENCE_FORMAT naming the field', () => {
    const file = makeTestLicence(pki, PIN);
    assert.throws(() => parseLicence('not json'), isCode('ERR_LICENCE_FORMAT'));
    assert.throws(() => parseLicence({ ...file, format: 'x' }), isCode('ERR_LICENCE_FORMAT', 'format'));
    assert.throws(() => parseLicence({ ...file, extra: 1 }), isCode('ERR_LICENCE_FORMAT', 'extra'));
    assert.throws(
      () => parseLicence({ ...file, maxConnections: 0 }),
      isCode('ERR_LICENCE_FORMAT', 'maxConnections'),
    );
    assert.throws(
      () => parseLicence({ ...file, service: { host: '127.0.0.1', port: 70000 } }),
      isCode('ERR_LICENCE_FORMAT', 'service.port'),
    );
    assert.throws(() => parseLicence({ ...file, serial: 'ab' }), isCode('ERR_LICENCE_FORMAT', 'serial'));
    assert.throws(
      () => parseLicence({ ...file, caCertificate: pki.serverCertPem }),
      isCode('ERR_LICENCE_FORMAT', 'certificate'),
    );
    assert.throws(
      () => parseLicence({ ...file, sealed: { ...file.sealed, iterations: 1e9 } }),
      isCode('ERR_LICENCE_FORMAT', 'sealed.iterations'),
    );
    assert.throws(
      () => parseLicence({ ...file, sealed: { ...file.sealed, iv: 'AAAA' } }),
      isCode('ERR_LICENCE_FORMAT', 'sealed.iv'),
    );
  });
});
