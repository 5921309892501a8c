import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BATCH, ENCRYPT, ERROR_BODY, encodeFrame, encodeRequest, PING, RANDOM, SIGN } from '@coffer/protocol';
import fc from 'fast-check';
import {
  closedWith,
  type KeyView,
  type Licence,
  type ServiceClient,
  type ServiceDevice,
  startServiceDevice,
} from './service-support.js';

/*
 * The binary protocol against a running device: bad frames (truncated, oversize, unknown command,
 * wrong field types, wrong version or direction, random bytes) are answered with an error frame or
 * a closed connection and never bring the service down; many requests in flight on one connection
 * are answered in any order, and a slow RSA-4096 signature does not hold up the small requests
 * sent after it.
 */

let d: ServiceDevice;
let lic: Licence;
let aes: number;
let rsa4096: KeyView;

before(async () => {
  d = await startServiceDevice();
  lic = await d.licence('frames', { maxConnections: 200 });
  [aes] = await d.importKeys([{ hex: randomBytes(32).toString('hex'), type: 'AES-256' }], ['frames']);
  rsa4096 = await d.addKey('RSA-4096', ['frames']);
});
after(async () => {
  await d?.close();
});

function frameError(frame: { body: Buffer } | null): string | undefined {
  return frame ? ERROR_BODY.decode(frame.body).code : undefined;
}

/** The service still answers a fresh connection. */
async function stillServing(): Promise<void> {
  const c = await d.connect(lic);
  assert.deepEqual(await c.request(PING, { data: Buffer.from('ok') }), { data: Buffer.from('ok') });
  c.close();
}

describe('bad frames', () => {
  test('an unknown command is ERR_UNKNOWN_COMMAND for that request; the connection goes on', async () => {
    const c = await d.connect(lic);
    c.send(encodeFrame({ type: 'request', command: 0x7777, requestId: 77, body: Buffer.alloc(0) }));
    const reply = await c.nextFrame();
    assert.equal(reply?.type, 'error');
    assert.equal(reply?.requestId, 77);
    assert.equal(reply?.command, 0x7777);
    assert.equal(frameError(reply), 'ERR_UNKNOWN_COMMAND');
    assert.deepEqual(await c.request(PING, {}), {});
    c.close();
  });

  test('wrong field types and malformed bodies: ERR_FIELD / ERR_BODY_MALFORMED for that request only', async () => {
    const c = await d.connect(lic);
    const field = (tag: number, value: Buffer) => {
      const h = Buffer.alloc(5);
      h[0] = tag;
      h.writeUInt32BE(value.length, 1);
      return Buffer.concat([h, value]);
    };
    const cases: [number, Buffer, string][] = [
      [RANDOM.code, field(1, Buffer.from([0, 16])), 'ERR_FIELD'], // u32 sent as 2 bytes
      [RANDOM.code, field(1, Buffer.from([0, 1, 0, 1])), 'ERR_FIELD'], // 65537: out of range
      [RANDOM.code, Buffer.alloc(0), 'ERR_FIELD'], // required field missing
      [RANDOM.code, Buffer.from([1, 0, 0]), 'ERR_BODY_MALFORMED'], // field header cut short
      [RANDOM.code, Buffer.from([1, 0, 0, 0, 9, 1]), 'ERR_BODY_MALFORMED'], // value runs past the end
      [
        RANDOM.code,
        Buffer.concat([field(1, Buffer.from([0, 0, 0, 4])), field(9, Buffer.alloc(1))]),
        'ERR_BODY_MALFORMED',
      ],
      [
        SIGN.code,
        Buffer.concat([
          field(1, Buffer.from([0, 0, 0, 1])),
          field(2, Buffer.from('md5')),
          field(3, Buffer.alloc(1)),
        ]),
        'ERR_FIELD',
      ],
      [
        SIGN.code,
        Buffer.concat([
          field(1, Buffer.from([0, 0, 0, 0])),
          field(2, Buffer.from('ed25519')),
          field(3, Buffer.alloc(1)),
        ]),
        'ERR_FIELD',
      ],
      [
        SIGN.code,
        Buffer.concat([
          field(1, Buffer.from([0, 0, 0, 1])),
          field(2, Buffer.from('ed25519')),
          field(3, Buffer.alloc(1)),
          field(4, Buffer.from([2])),
        ]),
        'ERR_FIELD',
      ],
      [
        SIGN.code,
        Buffer.concat([
          field(2, Buffer.from('ed25519')),
          field(1, Buffer.from([0, 0, 0, 1])),
          field(3, Buffer.alloc(1)),
        ]),
        'ERR_BODY_MALFORMED',
      ],
    ];
    let id = 100;
    for (const [command, body, code] of cases) {
      c.send(encodeFrame({ type: 'request', command, requestId: ++id, body }));
      const reply = await c.nextFrame();
      assert.equal(reply?.requestId, id);
      assert.equal(frameError(reply), code, `case ${id}`);
    }
    assert.deepEqual(await c.request(PING, {}), {});
    c.close();
  });

  test('frames that put the stream out of step: an error frame for request 0, then the connection closes', async () => {
    const header = (length: number, version: number, type: number) => {
      const h = Buffer.alloc(12);
      h.writeUInt32BE(length, 0);
      h[4] = version;
      h[5] = type;
      h.writeUInt16BE(PING.code, 6);
      h.writeUInt32BE(5, 8);
      return h;
    };
    const cases: [Buffer, string][] = [
      [header(2 * 1024 * 1024, 1, 1), 'ERR_FRAME_TOO_LARGE'],
      [header(4, 1, 1), 'ERR_FRAME_MALFORMED'],
      [header(8, 2, 1), 'ERR_FRAME_VERSION'],
      [header(8, 1, 2), 'ERR_FRAME_TYPE'], // a response sent to the server
      [header(8, 1, 9), 'ERR_FRAME_TYPE'],
    ];
    for (const [bytes, code] of cases) {
      const c = await d.connect(lic);
      c.send(bytes);
      assert.equal(await closedWith(c), code);
      const last = c.received.at(-1)!;
      assert.deepEqual([last.type, last.command, last.requestId], ['error', 0, 0]);
    }
    await stillServing();
  });

  test('a frame in pieces is answered once whole; one cut short by the client’s close is dropped quietly', async () => {
    const c = await d.connect(lic);
    const frame = encodeRequest(PING, 9, { data: Buffer.from('in pieces') });
    for (let i = 0; i < frame.length; i += 3) {
      c.send(frame.subarray(i, i + 3));
      await new Promise((r) => setImmediate(r));
    }
    const reply = await c.nextFrame();
    assert.equal(reply?.requestId, 9);
    const half = await d.connect(lic);
    half.send(frame.subarray(0, 10));
    half.socket.end();
    await half.closed;
    c.close();
    await stillServing();
  });

  test('random frames and random bytes never crash the service (property test)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 300 }),
          fc
            .record({
              command: fc.constantFrom(
                ...[0x0001, 0x0010, 0x0011, 0x0020, 0x0030, 0x0040, 0x0041, 0x00f0, 0x1234],
              ),
              body: fc.uint8Array({ maxLength: 200 }),
            })
            .map(({ command, body }) =>
              encodeFrame({ type: 'request', command, requestId: 1, body: Buffer.from(body) }),
            ),
        ),
        async (bytes) => {
          const c = await d.connect(lic);
          c.send(Buffer.from(bytes));
          c.send(encodeRequest(PING, 2, {}));
          // Either the ping is answered (the junk was a frame that got its own answer) or the connection closes.
          for (;;) {
            const frame = await c.nextFrame(3000);
            if (frame === null || frame.requestId === 2) break;
          }
          c.close();
        },
      ),
      { numRuns: 60 },
    );
    await stillServing();
  });

  test('an answer larger than the frame limit is ERR_FRAME_TOO_LARGE for that request; the connection goes on', async () => {
    const c = await d.connect(lic);
    const items = Array.from({ length: 20 }, () => RANDOM.request.encode({ length: 65_536 }));
    await assert.rejects(c.request(BATCH, { command: RANDOM.code, items }), { code: 'ERR_FRAME_TOO_LARGE' });
    assert.deepEqual(await c.request(PING, {}), {});
    c.close();
  });
});

describe('many requests in flight', () => {
  test('a slow RSA-4096 signature does not hold up the AES-GCM requests sent after it on the same connection', async (t) => {
    const c: ServiceClient = await d.connect(lic);
    // Warm up: the key opened and in a worker.
    await c.request(SIGN, { key: rsa4096.index, algorithm: 'rsa-pss-sha256', data: Buffer.from('warm') });
    await c.request(ENCRYPT, { key: aes, mode: 'gcm', data: Buffer.alloc(64) });
    // One write: the signature request first, then 300 small requests, all arriving together.
    const data = Buffer.from('slow');
    const frames = [encodeRequest(SIGN, 1, { key: rsa4096.index, algorithm: 'rsa-pkcs1-sha512', data })];
    for (let id = 2; id <= 301; id++)
      frames.push(encodeRequest(ENCRYPT, id, { key: aes, mode: 'gcm', data: randomBytes(64) }));
    const started = performance.now();
    c.send(Buffer.concat(frames));
    const order: number[] = [];
    let fastMs = 0;
    let firstMs = 0;
    let slowMs = 0;
    let signature: Buffer | undefined;
    while (order.length < 301) {
      const f = await c.nextFrame();
      assert.ok(f, 'the connection closed');
      assert.equal(f.type, 'response');
      order.push(f.requestId);
      if (f.requestId === 1) {
        slowMs = performance.now() - started;
        signature = SIGN.response.decode(f.body).signature;
      } else {
        fastMs = performance.now() - started;
        firstMs ||= fastMs;
      }
    }
    assert.ok(verify('sha512', data, createPublicKey(rsa4096.publicKey!), signature!));
    const signAt = order.indexOf(1);
    assert.equal(
      signAt,
      300,
      `the RSA-4096 answer came ${signAt + 1}th of 301 (AES all done after ${fastMs.toFixed(1)} ms, RSA after ${slowMs.toFixed(1)} ms)`,
    );
    assert.ok(fastMs < slowMs);
    t.diagnostic(
      `300 AES-GCM answers from ${firstMs.toFixed(1)} to ${fastMs.toFixed(1)} ms; the RSA-4096 signature after ${slowMs.toFixed(1)} ms`,
    );
    c.close();
  });

  test('a thousand pipelined requests in one write are all answered, each with its own id', async () => {
    const c = await d.connect(lic);
    const frames = Buffer.concat(
      Array.from({ length: 1000 }, (_, i) => encodeRequest(PING, i + 1, { data: Buffer.from(String(i)) })),
    );
    c.send(frames);
    const seen = new Set<number>();
    while (seen.size < 1000) {
      const f = await c.nextFrame();
      assert.ok(f, 'the connection closed');
      assert.equal(f.type, 'response');
      assert.equal(PING.response.decode(f.body).data?.toString(), String(f.requestId - 1));
      seen.add(f.requestId);
    }
    c.close();
  });
});
