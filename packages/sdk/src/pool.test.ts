import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createTcpServer } from 'node:net';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeError } from '@coffer/protocol';
import { connect } from './client.js';
import { CofferConnectionError, CofferServiceError, CofferTimeoutError } from './errors.js';
import { FakeServer, NO_REPLY } from './testing/fake-server.js';
import { makeTestLicence, makeTestPki, type TestPki } from './testing/test-pki.js';

const PIN = '12AB34CD';

/** A TCP port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('the connection pool', () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  const licence = (server: { address: { host: string; port: number } }, maxConnections = 8) =>
    makeTestLicence(pki, PIN, { service: server.address, maxConnections });

  it('pipelines: many requests are in flight on one connection at once', async () => {
    const server = await FakeServer.start({ pki });
    server.setHandler('random', async (r: { length: number }) => {
      await sleep(20);
      return { data: randomBytes(r.length) };
    });
    const hsm = await connect({ license: licence(server), pin: PIN, poolSize: 1 });
    try {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => hsm.random(1 + (i % 64))));
      for (const [i, r] of results.entries()) assert.equal(r.length, 1 + (i % 64));
      assert.equal(server.accepted, 1);
      assert.ok(server.maxOutstanding >= 100, `only ${server.maxOutstanding} in flight at once`);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('matches replies that come in any order to their requests by request id', async () => {
    const server = await FakeServer.start({ pki });
    // The first requests are answered last.
    server.setHandler('ping', async (r: { data?: Buffer }) => {
      await sleep(100 - r.data![0]! * 4);
      return { data: r.data };
    });
    const hsm = await connect({ license: licence(server), pin: PIN, poolSize: 1 });
    try {
      const order: number[] = [];
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          hsm.ping(Buffer.from([i])).then((d) => {
            order.push(i);
            return d;
          }),
        ),
      );
      for (const [i, d] of replies.entries()) assert.deepEqual(d, Buffer.from([i]));
      assert.notDeepEqual(
        order,
        [...order].sort((a, b) => a - b),
        'the replies did come out of order',
      );
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('times out a request that gets no answer (ERR_TIMEOUT), and the connection goes on', async () => {
    const server = await FakeServer.start({ pki });
    server.setHandler('hash', () => NO_REPLY);
    const hsm = await connect({ license: licence(server), pin: PIN, poolSize: 1, timeoutMs: 2000 });
    try {
      const started = Date.now();
      await assert.rejects(
        hsm.hash({ algorithm: 'sha256', data: Buffer.alloc(1) }, { timeoutMs: 200 }),
        (e) => e instanceof CofferTimeoutError && e.code === 'ERR_TIMEOUT',
      );
      const took = Date.now() - started;
      assert.ok(took >= 200 && took < 1000, `timed out after ${took} ms`);
      assert.equal((await hsm.random(3)).length, 3);
      assert.equal(server.accepted, 1);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('reconnects after the server drops the connection, resending what was in flight', async () => {
    const server = await FakeServer.start({ pki });
    let drop = true;
    server.setHandler('random', (r: { length: number }, ctx) => {
      if (drop) {
        drop = false;
        ctx.socket.destroy();
        return NO_REPLY;
      }
      return { data: randomBytes(r.length) };
    });
    const hsm = await connect({ license: licence(server), pin: PIN, poolSize: 1 });
    try {
      assert.equal((await hsm.random(5)).length, 5, 'answered on the new connection');
      assert.equal(server.accepted, 2);
      server.dropAll();
      await sleep(50);
      assert.equal((await hsm.random(7)).length, 7, 'and again after every connection was cut');
      assert.equal(server.accepted, 3);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('backs off and comes back when the device returns', async () => {
    const server = await FakeServer.start({ pki });
    const port = server.port;
    const hsm = await connect({
      license: licence(server),
      pin: PIN,
      poolSize: 1,
      backoffInitialMs: 50,
      backoffMaxMs: 200,
    });
    try {
      await server.close();
      await sleep(50);
      await assert.rejects(hsm.random(1), (e) => e instanceof CofferConnectionError);
      const again = await FakeServer.start({ pki, port });
      try {
        await sleep(600);
        assert.equal((await hsm.random(2)).length, 2);
      } finally {
        await hsm.close();
        await again.close();
      }
    } finally {
      await hsm.close();
    }
  });

  it('fails over to the next device address when the first cannot be reached', async () => {
    const server = await FakeServer.start({ pki });
    const dead = { host: '127.0.0.1', port: await deadPort() };
    const hsm = await connect({ license: licence(server), pin: PIN, addresses: [dead, server.address] });
    try {
      assert.equal((await hsm.random(4)).length, 4);
      assert.ok(hsm.connections.every((c) => c.address === `127.0.0.1:${server.port}`));
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('fails over to the second device when the first goes away, with requests in flight', async () => {
    const first = await FakeServer.start({ pki });
    const second = await FakeServer.start({ pki });
    first.setHandler('random', async (r: { length: number }) => {
      await sleep(200);
      return { data: randomBytes(r.length) };
    });
    const hsm = await connect({
      license: licence(first),
      pin: PIN,
      poolSize: 2,
      addresses: [first.address, second.address],
    });
    try {
      await sleep(50);
      assert.equal(first.accepted, 2);
      const inFlight = Promise.all(Array.from({ length: 10 }, () => hsm.random(16)));
      await sleep(50);
      await first.close();
      const results = await inFlight;
      assert.ok(results.every((r) => r.length === 16));
      assert.ok(second.accepted >= 1);
      assert.ok(
        second.received.filter((r) => r.command === 'random').length >= 10,
        'resent to the second device',
      );
    } finally {
      await hsm.close();
      await second.close();
    }
  });

  it('sends a protocol ping on a connection that has been idle', async () => {
    const server = await FakeServer.start({ pki });
    const hsm = await connect({ license: licence(server), pin: PIN, poolSize: 1, keepAliveMs: 100 });
    try {
      await sleep(450);
      const pings = server.received.filter((r) => r.command === 'ping').length;
      assert.ok(pings >= 2, `${pings} pings`);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('drops a connection whose pings go unanswered, and reconnects', async () => {
    const server = await FakeServer.start({ pki });
    let silent = true;
    server.setHandler('ping', (r: { data?: Buffer }) => (silent ? NO_REPLY : r));
    const hsm = await connect({
      license: licence(server),
      pin: PIN,
      poolSize: 1,
      keepAliveMs: 100,
      timeoutMs: 200,
    });
    try {
      await sleep(600);
      silent = false;
      assert.ok(server.accepted >= 2, `accepted ${server.accepted}`);
      assert.equal((await hsm.random(1)).length, 1);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('opens poolSize connections and spreads requests over them', async () => {
    const server = await FakeServer.start({ pki });
    server.setHandler('random', async (r: { length: number }) => {
      await sleep(10);
      return { data: randomBytes(r.length) };
    });
    const hsm = await connect({ license: licence(server), pin: PIN, poolSize: 4 });
    try {
      await sleep(100);
      assert.equal(server.connections, 4);
      await Promise.all(Array.from({ length: 100 }, () => hsm.random(1)));
      assert.equal(hsm.connections.length, 4);
    } finally {
      await hsm.close();
      await server.close();
    }
  });

  it('fails requests with the device’s code when it cuts the connection (request id 0), not resending them', async () => {
    const server = await FakeServer.start({ pki });
    server.setHandler('random', (_r: unknown, ctx) => {
      ctx.socket.end(
        encodeError(0, 0, { code: 'ERR_IP_NOT_ALLOWED', message: 'This IP is no longer whitelisted.' }),
      );
      return NO_REPLY;
    });
    const hsm = await connect({ license: licence(server), pin: PIN, poolSize: 1 });
    try {
      await assert.rejects(hsm.random(1), (e) => {
        assert.ok(e instanceof CofferServiceError);
        assert.equal(e.code, 'ERR_IP_NOT_ALLOWED');
        assert.equal(e.connectionLevel, true);
        return true;
      });
      assert.equal(server.received.filter((r) => r.command === 'random').length, 1);
    } finally {
      await hsm.close();
      await server.close();
    }
  });
});
