import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { issueClientCertificate, issueServerCertificate, makeDeviceCa } from './device-ca.js';

describe('device CA issuing', () => {
  it('a server certificate is signed by the device CA, names the IP and localhost, and is for serverAuth', async () => {
    const ca = await makeDeviceCa(new Date(), 'dev-1');
    const issued = await issueServerCertificate(ca, {
      commonName: 'Coffer management 127.0.0.1',
      ips: ['127.0.0.1'],
      dnsNames: ['localhost'],
      validityDays: 30,
    });
    const cert = new X509Certificate(issued.certPem);
    const caCert = new X509Certificate(ca.certPem);
    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(issued.serial, cert.serialNumber.toLowerCase());
    assert.equal(issued.fingerprint, cert.fingerprint256.replaceAll(':', '').toLowerCase());
  });

  it('a client certificate is signed by the device CA and is for clientAuth only', async () => {
    const ca = await makeDeviceCa(new Date(), 'dev-1');
    const issued = await issueClientCertificate(ca, { commonName: 'app1', validityDays: 365 });
    const cert = new X509Certificate(issued.certPem);
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.match(cert.subject, /CN=app1/);
    assert.ok(issued.keyPkcs8.length > 0);
  });

  it('two certificates never share a serial number', async () => {
    const ca = await makeDeviceCa(new Date(), 'dev-1');
    const a = await issueClientCertificate(ca, { commonName: 'a', validityDays: 1 });
    const b = await issueClientCertificate(ca, { commonName: 'b', validityDays: 1 });
    assert.notEqual(a.serial, b.serial);
  });
});
