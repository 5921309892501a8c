import assert from 'node:assert/strict';
import { createHash, createHmac, createPublicKey, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type CofferClient, connect } from './client.js';
import { CofferClosedError, CofferRequestError, CofferServiceError } from './errors.js';
import { FakeServer } from './testing/fake-server.js';
import { makeTestLicence, makeTestPki, type TestPki } from './testing/test-pki.js';

const PIN = '12AB34CD';

describe('a client connected to a (fake) crypto service', () => {
  let pki: TestPki;
  let server: FakeServer;
  let hsm: CofferClient;

  before(async () => {
    pki = makeTestPki();
    server = await FakeServer.start({ pki, maxBatchItems: 3 });
    hsm = await connect({ license: makeTestLicence(pki, PIN, { service: server.address }), pin: PIN });
  });
  after(async () => {
    await hsm.close();
    await server.close();
  });

  it('learns the server’s limits from info when it connects', () => {
    assert.equal(hsm.serverInfo?.server, 'coffer-fake/1');
    assert.equal(hsm.serverInfo?.maxBatchItems, 3);
    assert.equal(hsm.licence.operator, 'payments');
    assert.equal(hsm.connections.length >= 1, true);
  });

  it('signs with a stored key, and Node verifies the signature with the key’s public key', async () => {
    const data = Buffer.from('hello');
    const signature = await hsm.sign({ key: 3, algorithm: 'ecdsa-sha256', data });
    const pem = await hsm.publicKey(3);
    assert.ok(verify('sha256', data, createPublicKey(pem), signature));
    assert.equal(await hsm.verify({ key: 3, algorithm: 'ecdsa-sha256', data, signature }), true);
    assert.equal(
      await hsm.verify({ publicKey: Buffer.from(pem), algorithm: 'ecdsa-sha256', data, signature }),
      true,
    );
    assert.equal(
      await hsm.verify({ key: 3, algorithm: 'ecdsa-sha256', data: Buffer.from('other'), signature }),
      false,
    );
  });

  it('hashes, MACs, encrypts and decrypts, cross-checked with Node', async () => {
    const data = Buffer.from('sixty-four bytes or so of application data, for the service');
    assert.deepEqual(
      await hsm.hash({ algorithm: 'sha256', data }),
      createHash('sha256').update(data).digest(),
    );
    const mac = await hsm.mac({ key: 6, algorithm: 'hmac-sha256', data });
    assert.deepEqual(mac, createHmac('sha256', server.keys.hmac.secret).update(data).digest());
    assert.equal(await hsm.verifyMac({ key: 6, algorithm: 'hmac-sha256', data, mac }), true);
    const sealed = await hsm.encrypt({ key: 1, mode: 'gcm', data, aad: Buffer.from('ctx') });
    assert.equal(sealed.iv?.length, 12);
    assert.equal(sealed.tag?.length, 16);
    const plain = await hsm.decrypt({
      key: 1,
      mode: 'gcm',
      data: sealed.ciphertext,
      iv: sealed.iv,
      tag: sealed.tag,
      aad: Buffer.from('ctx'),
    });
    assert.deepEqual(plain, data);
    assert.equal((await hsm.random(48)).length, 48);
    assert.deepEqual(await hsm.ping(Buffer.from('hi')), Buffer.from('hi'));
  });

  it('lists keys page by page and reads one key’s attributes', async () => {
    const all = await hsm.listKeys();
    assert.deepEqual(
      all.keys.map((k) => k.index),
      [1, 3, 5, 6],
    );
    const page = await hsm.listKeys({ offset: 1, limit: 2 });
    assert.equal(page.total, 4);
    assert.deepEqual(
      page.keys.map((k) => k.index),
      [3, 5],
    );
    const info = await hsm.keyInfo(6);
    assert.equal(info.type, 'HMAC-SHA256');
    assert.deepEqual(info.usage, ['mac']);
  });

  it('turns an error frame into a CofferServiceError carrying the device’s code', async () => {
    await assert.rejects(hsm.sign({ key: 6, algorithm: 'ecdsa-sha256', data: Buffer.alloc(1) }), (e) => {
      assert.ok(e instanceof CofferServiceError);
      assert.equal(e.code, 'ERR_KEY_USAGE_NOT_ALLOWED');
      assert.equal(e.connectionLevel, false);
      return true;
    });
    await assert.rejects(
      hsm.sign({ key: 99, algorithm: 'ecdsa-sha256', data: Buffer.alloc(1) }),
      (e) => e instanceof CofferServiceError && e.code === 'ERR_KEY_NOT_BOUND',
    );
    await assert.rejects(
      hsm.decrypt({
        key: 1,
        mode: 'gcm',
        data: Buffer.alloc(4),
        iv: Buffer.alloc(12),
        tag: Buffer.alloc(16),
      }),
      (e) => e instanceof CofferServiceError && e.code === 'ERR_CIPHERTEXT',
    );
    await assert.rejects(
      hsm.wrap({ key: 1, algorithm: 'aes-kw', keyMaterial: Buffer.alloc(16) }),
      (e) => e instanceof CofferServiceError && e.code === 'ERR_UNKNOWN_COMMAND',
    );
    // The connection is still good after refusals.
    assert.equal((await hsm.random(4)).length, 4);
  });

  it('refuses to send a request with a field out of range (ERR_FIELD), sending nothing', async () => {
    const before = server.received.length;
    await assert.rejects(
      hsm.sign({ key: 0, algorithm: 'ecdsa-sha256', data: Buffer.alloc(1) }),
      (e) => e instanceof CofferRequestError && e.code === 'ERR_FIELD' && e.field === 'key',
    );
    await assert.rejects(
      hsm.random(65_537),
      (e) => e instanceof CofferRequestError && e.code === 'ERR_FIELD',
    );
    assert.equal(server.received.length, before);
  });

  it('sends a batch in frames of at most the server’s item limit, with per-item results in order', async () => {
    const items = Array.from({ length: 7 }, (_, i) => ({
      key: i === 4 ? 99 : 6,
      algorithm: 'hmac-sha256' as const,
      data: Buffer.from(`item ${i}`),
    }));
    const before = server.received.filter((r) => r.command === 'batch').length;
    const results = await hsm.batch('mac', items);
    assert.equal(server.received.filter((r) => r.command === 'batch').length - before, 3);
    assert.equal(results.length, 7);
    results.forEach((r, i) => {
      if (i === 4) {
        assert.ok(!r.ok && r.error.code === 'ERR_KEY_NOT_BOUND');
      } else {
        assert.ok(r.ok);
        assert.deepEqual(
          r.value.mac,
          createHmac('sha256', server.keys.hmac.secret).update(`item ${i}`).digest(),
        );
      }
    });
  });

  it('after close, refuses new calls with ERR_CLOSED', async () => {
    const other = await connect({
      license: makeTestLicence(pki, PIN, { service: server.address }),
      pin: PIN,
    });
    const inFlight = other.random(8);
    await other.close();
    assert.equal((await inFlight).length, 8, 'a call in flight finishes');
    await assert.rejects(other.random(8), (e) => e instanceof CofferClosedError && e.code === 'ERR_CLOSED');
  });

  it('refuses a pool larger than the licence’s connection limit', async () => {
    await assert.rejects(
      connect({
        license: makeTestLicence(pki, PIN, { service: server.address, maxConnections: 2 }),
        pin: PIN,
        poolSize: 3,
      }),
      RangeError,
    );
  });
});
