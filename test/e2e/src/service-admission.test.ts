import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { INFO, PING, RANDOM } from '@coffer/protocol';
import { issueClientCertificate, loadDeviceCa, makeDeviceCa } from '@coffer/server';
import {
  closedWith,
  type Licence,
  RestClient,
  SECOND_LOOPBACK,
  ServiceClient,
  type ServiceDevice,
  startServiceDevice,
} from './service-support.js';

/*
 * Who may connect to the crypto service (DESIGN §5, issue 4), over real mutual TLS: every refusal
 * reaches the client with its own code (binary: an error frame for request 0, then close; REST: a
 * 403 JSON body, then close) and is an operator-log entry; live connections are cut within a second
 * when the operator is deleted, its licence re-issued or its whitelist entry removed; stopping the
 * service closes every connection.
 */

let d: ServiceDevice;

before(async () => {
  d = await startServiceDevice();
});
after(async () => {
  await d?.close();
});

async function integratedLog() {
  return d.dev.daemon.device.store.listAudit({ sources: ['integrated'], order: 'desc', limit: 50 });
}

async function refusedWith(
  licence: Licence,
  code: string,
  opts: { localAddress?: string; anonymous?: boolean } = {},
) {
  const client = await ServiceClient.connect(d.address, licence, opts);
  assert.equal(await closedWith(client), code);
  const rest = new RestClient(d.address, licence, { ...opts, keepAlive: false });
  const reply = await rest.call('GET', '/v1/info');
  rest.close();
  assert.equal(reply.status, code === 'ERR_SERVICE_STOPPED' ? 503 : 403);
  assert.equal((reply.body['error'] as { code: string }).code, code);
  assert.equal(reply.headers['connection'], 'close');
}

/** Resolves with the milliseconds from now until the client is cut, with the code it was cut with. */
async function cutWithin(client: ServiceClient, code: string, ms = 1000): Promise<number> {
  const start = performance.now();
  await Promise.race([client.closed, sleep(ms + 500)]);
  const took = performance.now() - start;
  assert.equal(client.connectionError?.code, code);
  assert.ok(took <= ms, `cut after ${took.toFixed(0)} ms`);
  return took;
}

describe('admission to the crypto service', () => {
  test('a current licence from a whitelisted IP is admitted, and the connection is in the operator log', async () => {
    const lic = await d.licence('alpha');
    const c = await d.connect(lic);
    assert.equal((await c.request(INFO, {})).protocolVersion, 1);
    const entry = (await integratedLog()).find((e) => e.businessType === 'connect' && e.account === 'alpha');
    assert.ok(entry);
    assert.equal(entry.result, 'success');
    assert.equal(entry.clientIp, '127.0.0.1');
    assert.match(entry.content, /^Connect;coffer\/1$/);
    c.close();
    await c.closed;
    await sleep(100);
    const gone = (await integratedLog()).find(
      (e) => e.businessType === 'disconnect' && e.account === 'alpha',
    );
    assert.ok(gone);
    assert.match(gone.details, /requests 1; refused 0/);
  });

  test('no client certificate, or one the device did not issue as a licence: ERR_LICENCE_UNKNOWN', async () => {
    const lic = await d.licence('alpha');
    await refusedWith(lic, 'ERR_LICENCE_UNKNOWN', { anonymous: true });
    // A certificate from another device's CA.
    const foreignCa = await makeDeviceCa(new Date(), 'coffer-elsewhere');
    const foreign = await issueClientCertificate(foreignCa, { commonName: 'alpha', validityDays: 30 });
    const keyPem = (k: Buffer) =>
      createPrivateKey({ key: k, format: 'der', type: 'pkcs8' })
        .export({ format: 'pem', type: 'pkcs8' })
        .toString();
    await refusedWith(
      { ...lic, certPem: foreign.certPem, keyPem: keyPem(foreign.keyPkcs8) },
      'ERR_LICENCE_UNKNOWN',
    );
    // A certificate this device's CA issued, but not as a licence.
    const ca = await loadDeviceCa(d.dev.daemon.device);
    const stray = await issueClientCertificate(ca, { commonName: 'alpha', validityDays: 30 });
    await refusedWith(
      { ...lic, certPem: stray.certPem, keyPem: keyPem(stray.keyPkcs8) },
      'ERR_LICENCE_UNKNOWN',
    );
    const entry = (await integratedLog()).find((e) => e.content === 'Connect refused;ERR_LICENCE_UNKNOWN');
    assert.ok(entry);
    assert.equal(entry.result, 'failure');
  });

  test('a superseded licence is refused with ERR_LICENCE_SUPERSEDED; the new one works', async () => {
    const old = await d.licence('beta');
    const current = await d.licence('beta');
    await refusedWith(old, 'ERR_LICENCE_SUPERSEDED');
    const c = await d.connect(current);
    assert.deepEqual(await c.request(PING, {}), {});
    c.close();
    const entry = (await integratedLog()).find((e) => e.content === 'Connect refused;ERR_LICENCE_SUPERSEDED');
    assert.equal(entry?.account, 'beta');
  });

  test('the licence of a deleted operator is refused with ERR_LICENCE_REVOKED', async () => {
    const lic = await d.licence('gamma');
    await d.b1.delete('/api/operators/gamma');
    await refusedWith(lic, 'ERR_LICENCE_REVOKED');
  });

  test('an IP not whitelisted for the operator is refused with ERR_IP_NOT_ALLOWED (127.0.0.2, and another operator’s IP)', async () => {
    const lic = await d.licence('delta');
    await refusedWith(lic, 'ERR_IP_NOT_ALLOWED', { localAddress: SECOND_LOOPBACK });
    // 127.0.0.2 whitelisted for someone else does not help delta.
    await d.licence('epsilon', { whitelist: [SECOND_LOOPBACK] });
    await refusedWith(lic, 'ERR_IP_NOT_ALLOWED', { localAddress: SECOND_LOOPBACK });
    const entry = (await integratedLog()).find((e) => e.content === 'Connect refused;ERR_IP_NOT_ALLOWED');
    assert.equal(entry?.clientIp, SECOND_LOOPBACK);
    assert.equal(entry?.account, 'delta');
  });

  test('beyond the licence’s connection limit: ERR_CONNECTION_LIMIT, binary and REST counted together', async () => {
    const lic = await d.licence('zeta', { maxConnections: 2 });
    const first = await d.connect(lic);
    const rest = d.rest(lic);
    assert.equal((await rest.get('/v1/info'))['protocolVersion'], 1);
    await refusedWith(lic, 'ERR_CONNECTION_LIMIT');
    first.close();
    await first.closed;
    await sleep(50);
    const again = await d.connect(lic);
    assert.equal((await again.request(RANDOM, { length: 4 })).data.length, 4);
    again.close();
    rest.close();
  });

  test('TLS below 1.2 and unknown ALPN protocols are refused in the handshake', async () => {
    const lic = await d.licence('alpha');
    const attempt = (options: object) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({
          host: d.address.host,
          port: d.address.port,
          ca: lic.caPem,
          cert: lic.certPem,
          key: lic.keyPem,
          ...options,
        });
        s.once('secureConnect', () => {
          s.destroy();
          resolve('connected');
        });
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
    assert.notEqual(await attempt({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }), 'connected');
    assert.notEqual(await attempt({ ALPNProtocols: ['h2'] }), 'connected');
    assert.equal(await attempt({ maxVersion: 'TLSv1.2', ALPNProtocols: ['coffer/1'] }), 'connected');
    assert.notEqual(
      await attempt({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' }),
      'connected',
    );
  });
});

describe('live connections are cut within a second', () => {
  test('when the operator is deleted: ERR_LICENCE_REVOKED, REST connections closed too', async () => {
    const lic = await d.licence('eta');
    const c = await d.connect(lic);
    const rest = d.rest(lic);
    await rest.get('/v1/info');
    const restSocket = new Promise<void>((resolve) => {
      for (const sockets of Object.values(rest.agent.freeSockets)) {
        for (const socket of sockets ?? []) socket.once('close', () => resolve());
      }
    });
    await d.b1.delete('/api/operators/eta');
    await cutWithin(c, 'ERR_LICENCE_REVOKED');
    await Promise.race([restSocket, sleep(1000).then(() => assert.fail('the REST connection stayed open'))]);
    const entry = (await integratedLog()).find((e) => e.account === 'eta' && e.businessType === 'disconnect');
    assert.equal(entry?.content, 'Disconnect;ERR_LICENCE_REVOKED');
    assert.equal(entry?.result, 'failure');
  });

  test('when its licence is re-issued: ERR_LICENCE_SUPERSEDED', async () => {
    const lic = await d.licence('theta');
    const c = await d.connect(lic);
    await d.licence('theta');
    await cutWithin(c, 'ERR_LICENCE_SUPERSEDED');
  });

  test('when its whitelist entry is removed: ERR_IP_NOT_ALLOWED, other operators at that IP untouched', async () => {
    const lic = await d.licence('iota');
    const other = await d.licence('kappa');
    const c = await d.connect(lic);
    const bystander = await d.connect(other);
    await d.b1.delete('/api/whitelist/127.0.0.1?operator=iota');
    await cutWithin(c, 'ERR_IP_NOT_ALLOWED');
    assert.deepEqual(await bystander.request(PING, { data: Buffer.from('still here') }), {
      data: Buffer.from('still here'),
    });
    bystander.close();
  });
});

describe('stopping the service', () => {
  test('closes every connection with ERR_SERVICE_STOPPED and the port; started again, licences work again', async () => {
    const lic = await d.licence('lambda');
    const clients = await Promise.all([d.connect(lic), d.connect(lic), d.connect(lic)]);
    const rest = d.rest(lic);
    await rest.get('/v1/info');
    const card = (slot: string) => JSON.parse(readFileSync(d.dev.init.card(slot).file, 'utf8'));
    await d.dev.api.post('/api/service/stop', { card: card('B1'), pin: d.dev.init.card('B1').pin });
    for (const c of clients) {
      await Promise.race([c.closed, sleep(2000)]);
      assert.equal(c.connectionError?.code, 'ERR_SERVICE_STOPPED');
    }
    assert.equal(d.dev.daemon.crypto?.address, null);
    await assert.rejects(ServiceClient.connect(d.address, lic));
    const start = await d.dev.api.post<{ token: string }>('/api/service/start/auth', {
      card: card('B1'),
      pin: d.dev.init.card('B1').pin,
    });
    await d.dev.api.post('/api/service/start', {
      token: start.token,
      mNet0: { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: null },
      aNet1: { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: null },
    });
    const address = d.dev.daemon.crypto?.address;
    assert.ok(address);
    const again = await ServiceClient.connect(address, lic);
    assert.equal((await again.request(RANDOM, { length: 8 })).data.length, 8);
    again.close();
    rest.close();
  });
});
