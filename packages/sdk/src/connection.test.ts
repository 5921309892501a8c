import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from './client.js';
import {
  CofferConnectionError,
  CofferProtocolError,
  CofferRequestError,
  CofferServiceError,
} from './errors.js';
import { FakeServer, NO_REPLY } from './testing/fake-server.js';
import { makeTestLicence, makeTestPki, type TestPki } from './testing/test-pki.js';

const PIN = '12AB34CD';

describe('connections: TLS, admission and frame limits', () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  const licence = (address: { host: string; port: number }) =>
    makeTestLicence(pki, PIN, { service: address });

  it('a connection refused by the device (error frame with request id 0) fails connect with its code', async () => {
    const server = await FakeServer.start({
      pki,
      admit: () => ({
        code: 'ERR_IP_NOT_ALLOWED',
        message: 'The IP 127.0.0.1 is not whitelisted for payments.',
      }),
    });
    try {
      await assert.rejects(connect({ license: licence(server.address), pin: PIN }), (e) => {
        assert.ok(e instanceof CofferServiceError, String(e));
        assert.equal(e.code, 'ERR_IP_NOT_ALLOWED');
        assert.equal(e.connectionLevel, true);
        return true;
      });
    } finally {
      await server.close();
    }
  });

  it('a server whose certificate is not from the licence’s CA is refused (ERR_TLS)', async () => {
    const server = await FakeServer.start({
      pki,
      certPem: pki.foreignServerCertPem,
      keyPem: pki.foreignServerKeyPem,
    });
    try {
      await assert.rejects(
        connect({ license: licence(server.address), pin: PIN }),
        (e) => e instanceof CofferConnectionError && e.code === 'ERR_TLS',
      );
      assert.equal(server.accepted, 0);
    } finally {
      await server.close();
    }
  });

  it('a server whose certificate does not name the host connected to is refused (ERR_TLS)', async () => {
    const server = await FakeServer.start({
      pki,
      certPem: pki.ipOnlyServerCertPem,
      keyPem: pki.ipOnlyServerKeyPem,
    });
    try {
      await assert.rejects(
        connect({ license: licence({ host: 'localhost', port: server.port }), pin: PIN }),
        (e) => e instanceof CofferConnectionError && e.code === 'ERR_TLS',
      );
    } finally {
      await server.close();
    }
  });

  it('a server that does not select ALPN coffer/1 is refused (ERR_TLS)', async () => {
    const server = await FakeServer.start({ pki, alpn: ['http/1.1'] });
    try {
      await assert.rejects(
        connect({ license: licence(server.address), pin: PIN }),
        (e) => e instanceof CofferConnectionError && e.code === 'ERR_TLS',
      );
    } finally {
      await server.close();
    }
  });

  it('connects by name when the certificate names it (localhost)', async () => {
    const server = await FakeServer.start({ pki });
    const hsm = await connect({ license: licence({ host: 'localhost', port: server.port }), pin: PIN });
    try {
      assert.equal((await hsm.random(2)).length, 2);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('does not build a frame over the server’s limit (ERR_FRAME_TOO_LARGE), and the connection goes on', async () => {
    const server = await FakeServer.start({ pki, maxFrameBytes: 4096 });
    const hsm = await connect({ license: licence(server.address), pin: PIN, poolSize: 1 });
    try {
      const before = server.received.length;
      await assert.rejects(
        hsm.hash({ algorithm: 'sha256', data: Buffer.alloc(4096) }),
        (e) => e instanceof CofferRequestError && e.code === 'ERR_FRAME_TOO_LARGE',
      );
      assert.equal(server.received.length, before, 'nothing was sent');
      // 12 header + 5 + 6 ("sha256") + 5 + n = 4096 exactly is allowed.
      assert.equal((await hsm.hash({ algorithm: 'sha256', data: Buffer.alloc(4096 - 28) })).length, 32);
      assert.equal(server.accepted, 1);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('does not build a frame over its own limit either', async () => {
    const server = await FakeServer.start({ pki });
    const hsm = await connect({ license: licence(server.address), pin: PIN, maxFrameBytes: 4096 });
    try {
      await assert.rejects(
        hsm.hash({ algorithm: 'sha256', data: Buffer.alloc(5000) }),
        (e) => e instanceof CofferRequestError && e.code === 'ERR_FRAME_TOO_LARGE',
      );
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('a frame the server finds too large is refused by the server with request id 0 and a closed connection', async () => {
    // The server claims 1 MiB but reads 4 KiB: its own check answers.
    const server = await FakeServer.start({ pki, maxFrameBytes: 4096, advertisedMaxFrameBytes: 1_048_576 });
    const hsm = await connect({ license: licence(server.address), pin: PIN, poolSize: 1 });
    try {
      await assert.rejects(hsm.hash({ algorithm: 'sha256', data: Buffer.alloc(5000) }), (e) => {
        assert.ok(e instanceof CofferServiceError, String(e));
        assert.equal(e.code, 'ERR_FRAME_TOO_LARGE');
        assert.equal(e.connectionLevel, true);
        return true;
      });
      await sleep(50);
      assert.equal((await hsm.random(1)).length, 1, 'a new connection serves the next request');
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('a reply over the client’s limit fails the request (ERR_FRAME_TOO_LARGE) before its body is read', async () => {
    const server = await FakeServer.start({ pki });
    server.setHandler('ping', (_r: unknown, ctx) => {
      server.sendOversized(ctx.requestId, 10_000_000);
      return NO_REPLY;
    });
    const hsm = await connect({
      license: licence(server.address),
      pin: PIN,
      poolSize: 1,
      maxFrameBytes: 4096,
    });
    try {
      await assert.rejects(
        hsm.ping(),
        (e) => e instanceof CofferProtocolError && e.code === 'ERR_FRAME_TOO_LARGE',
      );
      await sleep(50);
      server.setHandler('random', (r: { length: number }) => ({ data: randomBytes(r.length) }));
      assert.equal((await hsm.random(8)).length, 8);
      assert.equal(server.accepted, 2);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('a server that breaks the framing (bad version) fails what is in flight with ERR_FRAME_VERSION', async () => {
    const server = await FakeServer.start({ pki });
    server.setHandler('hash', () => {
      server.writeRaw(Buffer.from([0, 0, 0, 8, 9, 2, 0, 0x11, 0, 0, 0, 1]));
      return NO_REPLY;
    });
    const hsm = await connect({ license: licence(server.address), pin: PIN, poolSize: 1 });
    try {
      await assert.rejects(
        hsm.hash({ algorithm: 'sha256', data: Buffer.alloc(1) }),
        (e) => e instanceof CofferProtocolError && e.code === 'ERR_FRAME_VERSION',
      );
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('cannot connect anywhere: ERR_CONNECT naming the addresses', async () => {
    const server = await FakeServer.start({ pki });
    const port = server.port;
    await server.close();
    await assert.rejects(
      connect({ license: licence({ host: '127.0.0.1', port }), pin: PIN, poolSize: 1 }),
      (e) =>
        e instanceof CofferConnectionError && e.code === 'ERR_CONNECT' && e.message.includes(String(port)),
    );
  });
});
