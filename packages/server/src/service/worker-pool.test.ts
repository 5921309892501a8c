import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CofferError } from '@coffer/core';
import type { CryptoRequest } from './operations.js';
import { type PoolKey, WorkerPool } from './worker-pool.js';

/*
 * The crypto worker pool: operations run in worker threads with keys sent once as PKCS#8 (or the
 * raw secret), refusals come back as CofferErrors with their codes, a slow job does not hold up
 * quick ones given to the other worker, and closing fails what is outstanding.
 */

let pool: WorkerPool;
let exports = 0;

function pairKey(
  id: string,
  type: 'rsa' | 'ed25519',
  bits = 2048,
): PoolKey & { publicKey: ReturnType<typeof generateKeyPairSync>['publicKey'] } {
  const pair =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: bits }) : generateKeyPairSync('ed25519');
  const der = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    id,
    type: type === 'rsa' ? `RSA-${bits}` : 'Ed25519',
    family: type,
    publicKey: pair.publicKey,
    exportMaterial() {
      exports += 1;
      return { kind: 'pkcs8', bytes: new Uint8Array(der) };
    },
  };
}

before(async () => {
  pool = new WorkerPool({ size: 2 });
  await pool.ready();
});
after(async () => {
  await pool.close();
});

describe('WorkerPool', () => {
  it('signs in a worker; the key travels once per worker', async () => {
    const key = pairKey('ed:1', 'ed25519');
    const data = randomBytes(32);
    const request: CryptoRequest = { command: 'sign', request: { key: 1, algorithm: 'ed25519', data } };
    const before = exports;
    const results = await Promise.all(Array.from({ length: 40 }, () => pool.run(request, key)));
    for (const r of results) assert.ok(verify(null, data, key.publicKey, r['signature'] as Buffer));
    assert.ok(Buffer.isBuffer(results[0]!['signature']));
    assert.ok(exports - before <= 2, `${exports - before} exports for 2 workers`);
  });

  it('a symmetric operation with a raw secret, and refusals with the engine’s codes', async () => {
    const secret = randomBytes(32);
    const key: PoolKey = {
      id: 'aes:1',
      type: 'AES-256',
      family: 'aes',
      exportMaterial: () => ({ kind: 'secret', bytes: new Uint8Array(secret) }),
    };
    const out = await pool.run(
      { command: 'encrypt', request: { key: 2, mode: 'gcm', data: Buffer.from('x') } },
      key,
    );
    assert.equal((out['iv'] as Buffer).length, 12);
    await assert.rejects(
      pool.run(
        {
          command: 'decrypt',
          request: {
            key: 2,
            mode: 'gcm',
            iv: out['iv'] as Buffer,
            tag: Buffer.alloc(16),
            data: out['ciphertext'] as Buffer,
          },
        },
        key,
      ),
      (e: unknown) => e instanceof CofferError && e.code === 'ERR_CIPHERTEXT',
    );
  });

  it('a forgotten key is sent again when next used', async () => {
    const key = pairKey('ed:2', 'ed25519');
    const request: CryptoRequest = {
      command: 'sign',
      request: { key: 3, algorithm: 'ed25519', data: Buffer.from('a') },
    };
    await pool.run(request, key);
    const before = exports;
    pool.forget(key.id);
    await pool.run(request, key);
    assert.equal(exports - before, 1);
  });

  it('a slow RSA-4096 signature in one worker does not hold up quick signatures in the other', async () => {
    const slow = pairKey('rsa:4096', 'rsa', 4096);
    const quick = pairKey('ed:3', 'ed25519');
    const signQuick: CryptoRequest = {
      command: 'sign',
      request: { key: 5, algorithm: 'ed25519', data: Buffer.from('q') },
    };
    await pool.run(signQuick, quick);
    await pool.run(
      { command: 'sign', request: { key: 4, algorithm: 'rsa-pss-sha256', data: Buffer.from('warm') } },
      slow,
    );
    // The RSA job goes to one worker; the quick ones all go to the other (by estimated cost), so
    // they do not wait behind it. Checked on the scheduling, not on timing (machines are busy).
    const rsa = pool.run(
      { command: 'sign', request: { key: 4, algorithm: 'rsa-pss-sha512', data: Buffer.from('s') } },
      slow,
    );
    const eds = Array.from({ length: 20 }, () => pool.run(signQuick, quick));
    assert.deepEqual(
      [...pool.load].sort((a, b) => a - b),
      [1, 20],
    );
    await Promise.all([rsa, ...eds]);
    assert.deepEqual(pool.load, [0, 0]);
  });

  it('closing fails the jobs outstanding with ERR_SERVICE_STOPPED and refuses new ones', async () => {
    const other = new WorkerPool({ size: 1 });
    await other.ready();
    const key = pairKey('rsa:2', 'rsa');
    const pending = other
      .run(
        { command: 'sign', request: { key: 6, algorithm: 'rsa-pkcs1-sha256', data: Buffer.from('x') } },
        key,
      )
      .then(
        () => 'answered',
        (e: CofferError) => e.code,
      );
    await other.close();
    assert.equal(await pending, 'ERR_SERVICE_STOPPED');
    await assert.rejects(
      other.run({ command: 'random', request: { length: 4 } }, null),
      (e: unknown) => e instanceof CofferError && e.code === 'ERR_SERVICE_STOPPED',
    );
  });
});
