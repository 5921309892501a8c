import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type LicenceFile,
  licenceAssociatedData,
  openLicence as openWithCore,
  sealWithPin,
  serialiseLicenceFile,
} from '@coffer/core';
import { CofferLicenceError, openLicence as openWithSdk, parseLicence } from '@coffer/sdk';
import { issueClientCertificate, makeDeviceCa } from '@coffer/server';

/*
 * The SDK opens licences without @coffer/core (DESIGN §11). This test keeps the two readings in
 * step: a licence built by the device's own code (its CA, its certificate issuer, its PIN sealing)
 * opens in the SDK to the same key and certificate as in the core, and refuses the same way.
 */
describe('a licence made by the device’s code opens in the SDK', () => {
  const PIN = '5E7A19C0';

  async function deviceLicence(): Promise<{ text: string; file: LicenceFile }> {
    const ca = await makeDeviceCa(new Date(), 'coffer-e2e-01');
    const issued = await issueClientCertificate(
      { certPem: ca.certPem, keyPkcs8: ca.keyPkcs8 },
      { commonName: 'payments', validityDays: 30 },
    );
    const header = { deviceId: 'coffer-e2e-01', operator: 'payments', serial: issued.serial };
    const file: LicenceFile = {
      format: 'coffer-licence',
      version: 1,
      ...header,
      issuedAt: new Date().toISOString(),
      service: { host: '127.0.0.1', port: 1813 },
      maxConnections: 16,
      caCertificate: ca.certPem,
      certificate: issued.certPem,
      sealed: await sealWithPin(issued.keyPkcs8, PIN, licenceAssociatedData(header), 2000),
    };
    return { text: serialiseLicenceFile(file), file };
  }

  it('to the same certificate, key, CA, address and limit as in the core (PIN a–f in lower case too)', async () => {
    const { text } = await deviceLicence();
    const core = await openWithCore(text, PIN);
    const sdk = await openWithSdk(text, PIN.toLowerCase());
    assert.equal(sdk.operator, core.operator);
    assert.equal(sdk.deviceId, core.deviceId);
    assert.equal(sdk.serial, core.serial);
    assert.deepEqual(sdk.service, core.service);
    assert.equal(sdk.maxConnections, core.maxConnections);
    assert.equal(sdk.caPem, core.caPem);
    assert.equal(sdk.certPem, core.certPem);
    assert.equal(sdk.keyPem, core.keyPem);
    assert.ok(new X509Certificate(sdk.certPem).checkPrivateKey(createPrivateKey(sdk.keyPem)));
  });

  it('and is refused in the SDK where the core refuses it: a wrong PIN, a moved sealed part, a malformed file', async () => {
    const { file } = await deviceLicence();
    await assert.rejects(
      openWithSdk(file, '5E7A19C1'),
      (e) => e instanceof CofferLicenceError && e.code === 'ERR_PIN_WRONG',
    );
    await assert.rejects(
      openWithSdk({ ...file, operator: 'billing' }, PIN),
      (e) => e instanceof CofferLicenceError && e.code === 'ERR_PIN_WRONG',
    );
    assert.throws(
      () => parseLicence({ ...file, version: 2 }),
      (e) => e instanceof CofferLicenceError && e.code === 'ERR_LICENCE_FORMAT',
    );
  });
});
