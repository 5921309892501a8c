import assert from 'node:assert/strict';
import {
  createCipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AdminClient } from '@coffer/cli';
import { KEY_TYPES, openKeyMaterial } from '@coffer/core';
import { runKeyExpirySweep } from '@coffer/server';
import { type ServingDevice, startServingDevice } from './management-support.js';
import { refusal } from './support.js';

/*
 * The Safe Manager (manual §4.4.2) over real HTTPS against running devices: every key type
 * generated inside the device, query and paging, discard / restore / invalidate / delete, bind /
 * unbind, expiry turning keys invalid for good, import of plain and wrapped key files, backup on
 * one device restored on a second of the same key domain and refused on a third, every refusal with
 * its code, and the audit chain intact after all of it.
 */

interface KeyView {
  index: number;
  type: string;
  keyClass: 'symmetric' | 'asymmetric';
  creator: string;
  status: 'normal' | 'discard' | 'invalid';
  invalidReason: 'expired' | 'manual' | null;
  validityDays: number;
  description: string;
  createdAt: string;
  expiresAt: string;
  usage: string[];
  checkValue: string | null;
  publicKey: string | null;
}
interface KeyDetail extends KeyView {
  operators: { operator: string; boundAt: string; boundBy: string }[];
}
interface KeyPage {
  keys: KeyView[];
  page: { page: number; size: number; from: number; to: number; total: number };
}
interface Job<R = unknown> {
  id: string;
  status: 'running' | 'done' | 'failed';
  done: number;
  total: number;
  result: R;
  error: { code: string; message: string } | null;
  hasFile: boolean;
}
interface Report {
  committed: boolean;
  total: number;
  written: number;
  skipped: number;
  refused: number;
  entries: {
    position: number;
    where: string;
    index: number | null;
    outcome: string;
    code?: string;
    message: string;
  }[];
}

// The same three MK components on two devices make one key domain (DESIGN §3).
const MK_PARTS = [randomBytes(16), randomBytes(16), randomBytes(16)].map((b) =>
  b.toString('hex').toUpperCase(),
);
const DAY = 86_400_000;

function aesKcv(secret: Buffer): string {
  const c = createCipheriv(`aes-${secret.length * 8}-ecb`, secret, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.alloc(16)), c.final()])
    .subarray(0, 3)
    .toString('hex')
    .toUpperCase();
}

async function waitJob<R>(client: AdminClient, started: { jobId: string }): Promise<Job<R>> {
  for (;;) {
    const job = await client.get<Job<R>>(`/api/jobs/${started.jobId}`);
    if (job.status !== 'running') return job;
    await sleep(25);
  }
}

async function runJob<R>(client: AdminClient, path: string, body: unknown): Promise<Job<R>> {
  return waitJob<R>(client, await client.post<{ jobId: string }>(path, body));
}

const b64 = (data: string | Buffer) => Buffer.from(data).toString('base64');

describe('Safe Manager over HTTPS', () => {
  let dev: ServingDevice;
  let c1: AdminClient;
  let b1: AdminClient;

  before(async () => {
    dev = await startServingDevice({ mkParts: MK_PARTS });
    c1 = await dev.admin('C1');
    b1 = await dev.admin('B1');
    for (const name of ['app1', 'app2']) await b1.post('/api/operators', { name, description: '' });
  });
  after(async () => {
    await dev?.close();
  });

  async function lastAudit() {
    return (await dev.daemon.device.store.listAudit({ order: 'desc', limit: 1 }))[0]!;
  }
  async function keyCount(): Promise<number> {
    return (await c1.get<KeyPage>('/api/keys', { size: 1 })).page.total;
  }

  test('generates every catalogue type inside the device, with its check value or public key, without blocking others', async () => {
    const slow = ['RSA-3072', 'RSA-4096'];
    // The two slow RSA keys in parallel (both cores), while the others are made one by one.
    let slowDone = false;
    const slowKeys = Promise.all(
      slow.map((type) => c1.post<KeyView>('/api/keys', { type, description: type })),
    ).then((keys) => {
      slowDone = true;
      return keys;
    });
    // While RSA-4096 is generated (seconds here), a small request is answered at once: the loop is free.
    const started = Date.now();
    await c1.get('/api/keys/types');
    const quick = Date.now() - started;
    assert.ok(slowDone || quick < 500, `a small request took ${quick} ms during key generation`);
    const made: KeyView[] = [];
    for (const t of KEY_TYPES.filter((k) => !slow.includes(k.name))) {
      made.push(await c1.post<KeyView>('/api/keys', { type: t.name, description: t.name }));
    }
    made.push(...(await slowKeys));
    assert.equal(made.length, KEY_TYPES.length);
    for (const key of made) {
      const t = KEY_TYPES.find((k) => k.name === key.type)!;
      assert.equal(key.keyClass, t.keyClass, key.type);
      assert.equal(key.creator, 'adminC1');
      assert.equal(key.status, 'normal');
      assert.equal(key.validityDays, 3650);
      assert.deepEqual(
        key.usage,
        [...t.defaultUsage].sort((a, b) => order(a) - order(b)),
      );
      if (t.keyClass === 'symmetric') {
        assert.match(key.checkValue!, /^[0-9A-F]{6}$/);
        assert.equal(key.publicKey, null);
      } else {
        assert.equal(key.checkValue, null);
        createPublicKey(key.publicKey!);
      }
    }
    // The stored material is what the check value and public key say, checked outside the device.
    const keyring = dev.daemon.device.keyring();
    for (const key of made) {
      const record = (await dev.daemon.device.store.getKey(key.index))!;
      const material = openKeyMaterial(keyring, record);
      if (key.type.startsWith('AES')) assert.equal(aesKcv(material), key.checkValue);
      if (key.type === 'RSA-4096' || key.type === 'Ed25519' || key.type === 'EC-P384') {
        const priv = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
        const alg = key.type === 'Ed25519' ? null : 'sha384';
        const sig = sign(alg, Buffer.from('x'), priv);
        assert.equal(verify(alg, Buffer.from('x'), createPublicKey(key.publicKey!), sig), true, key.type);
      }
    }
    const entry = (await dev.daemon.device.store.listAudit({ order: 'desc', limit: 40 })).find(
      (e) => e.content === `Add key;Key index number:${made[0]!.index}`,
    );
    assert.equal(entry?.account, 'adminC1');
    assert.equal(entry?.businessType, 'add');
  });

  test('takes a chosen index and refuses an index in use with ERR_CONFLICT', async () => {
    const key = await c1.post<KeyView>('/api/keys', {
      type: 'AES-128',
      index: 500,
      validityDays: 30,
      usage: ['encrypt'],
    });
    assert.equal(key.index, 500);
    assert.deepEqual(key.usage, ['encrypt']);
    assert.equal(Date.parse(key.expiresAt) - Date.parse(key.createdAt), 30 * DAY);
    await refusal(c1.post('/api/keys', { type: 'SM4', index: 500 }), 'ERR_CONFLICT');
    assert.equal((await c1.post<KeyView>('/api/keys', { type: 'SM4' })).index, 501);
    const refused = await lastAudit();
    assert.equal(refused.content, 'Add key;Key index number:501');
  });

  test('refuses bad input with a code and a sentence, changing nothing', async () => {
    const before = await keyCount();
    const cases: [unknown, string, RegExp][] = [
      [{ type: 'AES-512' }, 'ERR_KEY_TYPE', /not a key type.*AES-256/],
      [{ type: 'AES-256', usage: ['sign'] }, 'ERR_KEY_USAGE', /cannot be used to sign/],
      [{ type: 'AES-256', usage: ['fly'] }, 'ERR_KEY_USAGE', /not a usage flag/],
      [{ type: 'AES-256', index: 0 }, 'ERR_KEY_INDEX', /whole number/],
      [{ type: 'AES-256', validityDays: 0 }, 'ERR_BAD_REQUEST', /1 to 36500 days/],
      [{ type: 'AES-256', validityDays: 36501 }, 'ERR_BAD_REQUEST', /1 to 36500 days/],
      [{ type: 'AES-256', description: 'x'.repeat(257) }, 'ERR_BAD_REQUEST', /256 characters/],
      [{ type: 'AES-256', colour: 'red' }, 'ERR_BAD_REQUEST', /colour/],
      [{ type: 'AES-256', index: '7' }, 'ERR_BAD_REQUEST', /index/],
    ];
    for (const [body, code, message] of cases) {
      const e = await refusal(c1.post('/api/keys', body), code);
      assert.match(e.message, message, JSON.stringify(body));
    }
    const big = await c1.raw('POST', '/api/keys', { type: 'AES-256', description: 'x'.repeat(300 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.body.toString()).error.code, 'ERR_BAD_REQUEST');
    await refusal(c1.get('/api/keys/999999'), 'ERR_NOT_FOUND');
    await refusal(c1.get('/api/keys/abc'), 'ERR_BAD_REQUEST');
    assert.equal(await keyCount(), before);
    const audit = await lastAudit();
    assert.equal(audit.result, 'failure');
  });

  test('queries by class, status and creation time, a page at a time, with the total', async () => {
    const all = await c1.get<KeyPage>('/api/keys', { size: 1000 });
    const sym = await c1.get<KeyPage>('/api/keys', { class: 'symmetric', size: 3, page: 2 });
    const symTotal = all.keys.filter((k) => k.keyClass === 'symmetric').length;
    assert.equal(sym.page.total, symTotal);
    assert.deepEqual([sym.page.from, sym.page.to, sym.keys.length], [4, 6, 3]);
    assert.ok(sym.keys.every((k) => k.keyClass === 'symmetric'));
    // Newest first, as the manual's tables.
    assert.deepEqual(
      all.keys.map((k) => k.index),
      [...all.keys.map((k) => k.index)].sort((a, b) => b - a),
    );
    const asym = await c1.get<KeyPage>('/api/keys', { class: 'asymmetric', size: 1000 });
    assert.equal(asym.page.total + symTotal, all.page.total);
    const future = await c1.get<KeyPage>('/api/keys', { from: '2999-01-01' });
    assert.equal(future.page.total, 0);
    const today = dev.daemon.device.clock.now().toISOString().slice(0, 10);
    assert.equal((await c1.get<KeyPage>('/api/keys', { from: today, to: today })).page.total, all.page.total);
    await refusal(c1.get('/api/keys', { from: 'yesterday' }), 'ERR_TIME_FORMAT');
    await refusal(c1.get('/api/keys', { class: 'both' }), 'ERR_BAD_REQUEST');
  });

  test('discards and restores, invalidates on purpose, and deletes only invalid keys', async () => {
    const key = await c1.post<KeyView>('/api/keys', { type: 'AES-256' });
    const n = key.index;
    assert.equal((await c1.post<KeyView>(`/api/keys/${n}/discard`)).status, 'discard');
    assert.equal((await lastAudit()).content, `Set key status;Key index number:${n}`);
    assert.match((await lastAudit()).details, /normal → discard/);
    await refusal(c1.post(`/api/keys/${n}/discard`), 'ERR_KEY_STATUS');
    const e = await refusal(c1.delete(`/api/keys/${n}`), 'ERR_KEY_STATUS');
    assert.match(e.message, /only an invalid key can be deleted/);
    assert.equal((await c1.post<KeyView>(`/api/keys/${n}/restore`)).status, 'normal');
    await refusal(c1.post(`/api/keys/${n}/restore`), 'ERR_KEY_STATUS');
    await c1.post(`/api/keys/${n}/discard`);
    const invalid = await c1.post<KeyView>(`/api/keys/${n}/invalidate`);
    assert.deepEqual([invalid.status, invalid.invalidReason], ['invalid', 'manual']);
    for (const op of ['restore', 'discard', 'invalidate'])
      await refusal(c1.post(`/api/keys/${n}/${op}`), 'ERR_KEY_STATUS');
    assert.deepEqual(await c1.delete(`/api/keys/${n}`), { ok: true, bindingsRemoved: 0 });
    assert.equal((await lastAudit()).content, `Delete key;Key index number:${n}`);
    await refusal(c1.get(`/api/keys/${n}`), 'ERR_NOT_FOUND');
    await refusal(c1.delete(`/api/keys/${n}`), 'ERR_NOT_FOUND');
  });

  test('binds and unbinds operators, who must exist', async () => {
    const { names } = await c1.get<{ names: string[] }>('/api/operator-names');
    assert.deepEqual(names, ['app1', 'app2']);
    const key = await c1.post<KeyView>('/api/keys', { type: 'EC-P256' });
    const bound = await c1.post<KeyDetail>(`/api/keys/${key.index}/bind`, { operators: ['app1', 'app2'] });
    assert.deepEqual(
      bound.operators.map((o) => [o.operator, o.boundBy]),
      [
        ['app1', 'adminC1'],
        ['app2', 'adminC1'],
      ],
    );
    assert.equal((await lastAudit()).content, `Bind key with operator;Key index number:${key.index}`);
    await refusal(c1.post(`/api/keys/${key.index}/bind`, { operators: ['app1'] }), 'ERR_CONFLICT');
    await refusal(c1.post(`/api/keys/${key.index}/bind`, { operators: ['ghost'] }), 'ERR_NOT_FOUND');
    await refusal(c1.post(`/api/keys/${key.index}/bind`, { operators: [] }), 'ERR_BAD_REQUEST');
    const after = await c1.post<KeyDetail>(`/api/keys/${key.index}/unbind`, { operators: ['app2'] });
    assert.deepEqual(
      after.operators.map((o) => o.operator),
      ['app1'],
    );
    await refusal(c1.post(`/api/keys/${key.index}/unbind`, { operators: ['app2'] }), 'ERR_NOT_FOUND');
    const detail = await c1.get<KeyDetail>(`/api/keys/${key.index}`);
    assert.deepEqual(
      detail.operators.map((o) => o.operator),
      ['app1'],
    );
    // The System Manager sees the binding in the operator's detail.
    const op = await b1.get<{ keys: { index: number }[] }>('/api/operators/app1');
    assert.ok(op.keys.some((k) => k.index === key.index));
  });

  test('refuses the System and Audit Managers every key function with ERR_FORBIDDEN', async () => {
    await refusal(b1.get('/api/keys'), 'ERR_FORBIDDEN');
    await refusal(b1.post('/api/keys', { type: 'AES-256' }), 'ERR_FORBIDDEN');
    await refusal(b1.get('/api/operator-names'), 'ERR_FORBIDDEN');
    const d1 = await dev.admin('D1');
    await refusal(d1.post('/api/keys/1/discard'), 'ERR_FORBIDDEN');
    await refusal(d1.post('/api/keys/backup', { indexes: [1] }), 'ERR_FORBIDDEN');
  });

  test('adds a batch of keys as a job that reports progress', async () => {
    const started = await c1.post<{ jobId: string; total: number }>('/api/keys/batch', {
      type: 'EC-P256',
      count: 25,
    });
    assert.equal(started.total, 25);
    const seen = new Set<number>();
    let job: Job<{ indexes: number[] }>;
    for (;;) {
      job = await c1.get<Job<{ indexes: number[] }>>(`/api/jobs/${started.jobId}`);
      seen.add(job.done);
      if (job.status !== 'running') break;
      await sleep(5);
    }
    assert.equal(job.status, 'done');
    assert.equal(job.done, 25);
    assert.equal(job.result.indexes.length, 25);
    // Another manager cannot see the job.
    await refusal((await dev.admin('B1')).get(`/api/jobs/${started.jobId}`), 'ERR_NOT_FOUND');
    await refusal(
      c1.post('/api/keys/batch', { type: 'AES-256', count: 2, usage: ['sign'] }),
      'ERR_KEY_USAGE',
    );
  });

  test('imports PEM, PKCS#8, JWK, hex and wrapped key files, reporting each key', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ed = generateKeyPairSync('ed25519');
    const sm2 = generateKeyPairSync('ec', { namedCurve: 'SM2' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const spki = (k: typeof rsa.publicKey) => k.export({ format: 'pem', type: 'spki' }).toString();

    // A PEM bundle: PKCS#8, PKCS#1, SEC 1 and an SM2 key.
    const bundle = [
      rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }),
      ec.privateKey.export({ format: 'pem', type: 'sec1' }),
      sm2.privateKey.export({ format: 'pem', type: 'pkcs8' }),
    ].join('\n');
    const pemJob = await runJob<Report>(c1, '/api/keys/import', {
      content: b64(bundle),
      fileName: 'keys.pem',
      description: 'migrated',
    });
    assert.equal(pemJob.status, 'done', JSON.stringify(pemJob.error));
    assert.equal(pemJob.result.written, 3);
    const [rsaKey, ecKey] = await Promise.all(
      pemJob.result.entries.slice(0, 2).map((e) => c1.get<KeyDetail>(`/api/keys/${e.index}`)),
    );
    assert.equal(rsaKey!.type, 'RSA-2048');
    assert.equal(rsaKey!.publicKey, spki(rsa.publicKey));
    assert.equal(rsaKey!.description, 'migrated');
    assert.equal(ecKey!.publicKey, spki(ec.publicKey));
    assert.match((await lastAudit()).content, /^Import key;Key index number:\d+$/);

    // PKCS#8 DER as base64 text, at a chosen index, with usage.
    const der = p384.privateKey.export({ format: 'der', type: 'pkcs8' });
    const derJob = await runJob<Report>(c1, '/api/keys/import', {
      content: b64(der.toString('base64')),
      index: 700,
      usage: ['sign', 'verify', 'derive'],
    });
    assert.equal(derJob.result.entries[0]!.index, 700);
    const k700 = await c1.get<KeyDetail>('/api/keys/700');
    assert.deepEqual([k700.type, k700.usage], ['EC-P384', ['sign', 'verify', 'derive']]);

    // A JWK Set: RSA, Ed25519 and an oct key with alg.
    const secret = randomBytes(32);
    const jwks = {
      keys: [
        ed.privateKey.export({ format: 'jwk' }),
        { kty: 'oct', k: secret.toString('base64url'), alg: 'A256GCM' },
      ],
    };
    const jwkJob = await runJob<Report>(c1, '/api/keys/import', { content: b64(JSON.stringify(jwks)) });
    assert.equal(jwkJob.status, 'done', JSON.stringify(jwkJob.result));
    const aes = await c1.get<KeyDetail>(`/api/keys/${jwkJob.result.entries[1]!.index}`);
    assert.deepEqual([aes.type, aes.checkValue], ['AES-256', aesKcv(secret)]);

    // Hex lines with a declared type: here a key-encryption key allowed to unwrap.
    const kek = randomBytes(32);
    const hexJob = await runJob<Report>(c1, '/api/keys/import', {
      content: b64(`${kek.toString('hex')}\n`),
      type: 'AES-256',
      usage: ['wrap', 'unwrap'],
    });
    const kekIndex = hexJob.result.entries[0]!.index!;
    assert.equal((await c1.get<KeyDetail>(`/api/keys/${kekIndex}`)).checkValue, aesKcv(kek));

    // Keys wrapped under it: an AES key (RFC 3394) and a PKCS#8 Ed25519 key (RFC 5649).
    const inner = randomBytes(16);
    const kw = createCipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    const wrapped = Buffer.concat([kw.update(inner), kw.final()]);
    const edDer = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' });
    const kwp = createCipheriv('id-aes256-wrap-pad', kek, Buffer.from('A65959A6', 'hex'));
    const wrappedEd = Buffer.concat([kwp.update(edDer), kwp.final()]);
    const list = {
      format: 'coffer-key-import',
      version: 1,
      keys: [
        { wrapped: wrapped.toString('base64'), kek: kekIndex, type: 'AES-128', description: 'wrapped' },
        { wrapped: wrappedEd.toString('base64'), kek: kekIndex, alg: 'aes-kwp' },
      ],
    };
    const wrapJob = await runJob<Report>(c1, '/api/keys/import', { content: b64(JSON.stringify(list)) });
    assert.equal(wrapJob.status, 'done', JSON.stringify(wrapJob.result));
    const unwrapped = await c1.get<KeyDetail>(`/api/keys/${wrapJob.result.entries[0]!.index}`);
    assert.deepEqual([unwrapped.type, unwrapped.checkValue], ['AES-128', aesKcv(inner)]);
    assert.equal((await c1.get<KeyDetail>(`/api/keys/${wrapJob.result.entries[1]!.index}`)).type, 'Ed25519');

    // The same as a hex file with --kek.
    const hexWrapped = await runJob<Report>(c1, '/api/keys/import', {
      content: b64(wrapped.toString('hex')),
      kek: kekIndex,
      type: 'AES-128',
    });
    assert.equal(hexWrapped.result.written, 1);
  });

  test('refuses a whole import file when any entry is bad, and says which', async () => {
    const before = await keyCount();
    const list = [
      { type: 'AES-256', hex: randomBytes(32).toString('hex') },
      { type: 'AES-256', hex: randomBytes(16).toString('hex') },
      { type: 'AES-256', hex: randomBytes(32).toString('hex'), index: 500 },
      {
        pem: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
          format: 'pem',
          type: 'spki',
        }),
      },
      { type: 'HMAC-SHA256', hex: randomBytes(32).toString('hex'), usage: ['encrypt'] },
    ];
    const job = await runJob<Report>(c1, '/api/keys/import', { content: b64(JSON.stringify(list)) });
    assert.equal(job.status, 'failed');
    assert.equal(job.error?.code, 'ERR_KEY_MATERIAL');
    assert.equal(job.result.committed, false);
    assert.deepEqual(
      job.result.entries.map((e) => [e.position, e.outcome, e.code ?? null]),
      [
        [1, 'ready', null],
        [2, 'refused', 'ERR_KEY_MATERIAL'],
        [3, 'refused', 'ERR_CONFLICT'],
        [4, 'refused', 'ERR_IMPORT_FORMAT'],
        [5, 'refused', 'ERR_KEY_USAGE'],
      ],
    );
    assert.equal(await keyCount(), before);
    assert.equal((await lastAudit()).result, 'failure');

    // Unreadable files are refused at once.
    await refusal(c1.post('/api/keys/import', { content: b64('hello there') }), 'ERR_IMPORT_FORMAT');
    await refusal(
      c1.post('/api/keys/import', { content: b64(randomBytes(16).toString('hex')) }),
      'ERR_KEY_TYPE',
    );
    // A wrapped key under a KEK that may not unwrap, or that does not exist.
    const noUnwrap = await c1.post<KeyView>('/api/keys', { type: 'AES-256', usage: ['encrypt'] });
    const w = await runJob<Report>(c1, '/api/keys/import', {
      content: b64(randomBytes(24).toString('hex')),
      kek: noUnwrap.index,
      type: 'AES-128',
    });
    assert.equal(w.result.entries[0]!.code, 'ERR_KEY_USAGE');
    const ghost = await runJob<Report>(c1, '/api/keys/import', {
      content: b64(randomBytes(24).toString('hex')),
      kek: 99999,
      type: 'AES-128',
    });
    assert.equal(ghost.result.entries[0]!.code, 'ERR_NOT_FOUND');
    // More than the file limit.
    const huge = await c1.raw('POST', '/api/keys/import', { content: 'A'.repeat(17 * 1024 * 1024) });
    assert.equal(huge.status, 413);
    assert.equal(await keyCount(), before + 1);
  });

  test('reports a tampered key record with ERR_INTEGRITY, never obeying it', async () => {
    const key = await c1.post<KeyView>('/api/keys', { type: 'AES-256' });
    await c1.post(`/api/keys/${key.index}/discard`);
    const record = (await dev.daemon.device.store.getKey(key.index))!;
    await dev.daemon.device.store.updateKey({ ...record, status: 'normal' });
    await refusal(c1.get(`/api/keys/${key.index}`), 'ERR_INTEGRITY');
    await refusal(c1.post(`/api/keys/${key.index}/restore`), 'ERR_INTEGRITY');
    await dev.daemon.device.store.updateKey(record);
  });

  test('backs up keys on one device and restores them on a second device of the same key domain, never on a third', async () => {
    const sources = await Promise.all(
      ['AES-256', 'RSA-2048', 'SM2', 'HMAC-SM3'].map((type) =>
        c1.post<KeyView>('/api/keys', { type, description: `backup ${type}` }),
      ),
    );
    await c1.post(`/api/keys/${sources[1]!.index}/bind`, { operators: ['app1'] });
    await c1.post(`/api/keys/${sources[3]!.index}/discard`);
    const indexes = sources.map((k) => k.index);
    const job = await runJob<{ count: number; fileName: string }>(c1, '/api/keys/backup', { indexes });
    assert.equal(job.status, 'done', JSON.stringify(job.error));
    assert.equal(job.result.count, 4);
    assert.deepEqual([job.done, job.total], [4, 4]);
    const download = await c1.download('GET', `/api/jobs/${job.id}/file`);
    assert.match(
      String(download.headers['content-disposition']),
      /attachment; filename="coffer-keys-.*\.backup\.json"/,
    );
    const file = JSON.parse(download.body.toString('utf8'));
    assert.equal(file.format, 'coffer-key-backup');
    assert.ok(!download.body.toString().includes('backup AES-256'), 'metadata and material are encrypted');
    const audit = await lastAudit();
    assert.deepEqual([audit.businessType, audit.content], ['download', 'Back up keys;']);

    // A backup of the whole current query (the asymmetric page).
    const byQuery = await runJob<{ count: number }>(c1, '/api/keys/backup', {
      query: { class: 'asymmetric' },
    });
    assert.equal(
      byQuery.result.count,
      (await c1.get<KeyPage>('/api/keys', { class: 'asymmetric' })).page.total,
    );
    await refusal(c1.post('/api/keys/backup', { indexes: [999_999] }), 'ERR_NOT_FOUND');
    await refusal(c1.post('/api/keys/backup', {}), 'ERR_BAD_REQUEST');

    const second = await startServingDevice({ mkParts: MK_PARTS });
    const third = await startServingDevice();
    try {
      assert.equal((await second.daemon.device.deviceInfo()).kcv, (await dev.daemon.device.deviceInfo()).kcv);
      const c1b = await second.admin('C1');
      const restored = await runJob<Report>(c1b, '/api/keys/restore', { content: b64(download.body) });
      assert.equal(restored.status, 'done', JSON.stringify(restored.result));
      assert.equal(restored.result.written, 4);
      for (const source of sources) {
        const copy = await c1b.get<KeyDetail>(`/api/keys/${source.index}`);
        assert.deepEqual(
          [copy.type, copy.checkValue, copy.publicKey, copy.description, copy.createdAt, copy.creator],
          [source.type, source.checkValue, source.publicKey, source.description, source.createdAt, 'adminC1'],
        );
      }
      assert.equal((await c1b.get<KeyDetail>(`/api/keys/${sources[3]!.index}`)).status, 'discard');
      // app1 does not exist on the second device, so the binding is reported, not made.
      const entryOf = (r: Report, index: number) => r.entries.find((e) => e.where === `key ${index}`)!;
      assert.match(entryOf(restored.result, sources[1]!.index).message, /Not bound to app1/);
      const entry = (await second.daemon.device.store.listAudit({ order: 'desc', limit: 1 }))[0]!;
      assert.match(entry.content, /^Restore key;Key index number:\d+$/);

      // Restoring again skips the keys already there; a clash with another key is refused or renumbered.
      const again = await runJob<Report>(c1b, '/api/keys/restore', { content: b64(download.body) });
      assert.deepEqual([again.status, again.result.skipped, again.result.written], ['done', 4, 0]);
      const local = await runJob<Report>(c1, '/api/keys/restore', { content: b64(download.body) });
      assert.equal(local.result.skipped, 4);
      await c1b.post(`/api/keys/${sources[0]!.index}/invalidate`);
      await c1b.delete(`/api/keys/${sources[0]!.index}`);
      await c1b.post('/api/keys', { type: 'AES-256', index: sources[0]!.index });
      const clash = await runJob<Report>(c1b, '/api/keys/restore', { content: b64(download.body) });
      assert.equal(clash.status, 'failed');
      assert.equal(entryOf(clash.result, sources[0]!.index).code, 'ERR_CONFLICT');
      const renumbered = await runJob<Report>(c1b, '/api/keys/restore', {
        content: b64(download.body),
        renumber: true,
      });
      assert.equal(renumbered.status, 'done');
      assert.equal(entryOf(renumbered.result, sources[0]!.index).outcome, 'renumbered');
      assert.notEqual(entryOf(renumbered.result, sources[0]!.index).index, sources[0]!.index);

      // A device of another key domain refuses the file with a clear message.
      const c1c = await third.admin('C1');
      const e = await refusal(
        c1c.post('/api/keys/restore', { content: b64(download.body) }),
        'ERR_BACKUP_DOMAIN',
      );
      assert.match(
        e.message,
        /This backup was made on a device of another key domain \(check value [0-9a-f]{16}…/,
      );
      assert.equal((await c1c.get<KeyPage>('/api/keys')).page.total, 0);
      // An altered file is refused.
      const altered = { ...file, createdBy: 'adminC9' };
      await refusal(
        c1b.post('/api/keys/restore', { content: b64(JSON.stringify(altered)) }),
        'ERR_BACKUP_FORMAT',
      );
      await refusal(c1b.post('/api/keys/restore', { content: b64('not json') }), 'ERR_BACKUP_FORMAT');
      assert.equal((await second.daemon.device.verifyAudit()).ok, true);
    } finally {
      await second.close();
      await third.close();
    }
  });

  test('turns expired keys invalid for good, while the device runs', async () => {
    const device = dev.daemon.device;
    const normal = await c1.post<KeyView>('/api/keys', { type: 'AES-256', validityDays: 1 });
    const discarded = await c1.post<KeyView>('/api/keys', { type: 'Ed25519', validityDays: 2 });
    const lasting = await c1.post<KeyView>('/api/keys', { type: 'AES-256', validityDays: 10 });
    await c1.post(`/api/keys/${discarded.index}/discard`);
    const offset = device.clock.offsetMs;
    device.clock.setOffset(offset + 3 * DAY);
    try {
      // Reads say invalid (expired) even before the sweep has run…
      const read = await c1.get<KeyDetail>(`/api/keys/${normal.index}`);
      assert.deepEqual([read.status, read.invalidReason], ['invalid', 'expired']);
      await refusal(c1.post(`/api/keys/${discarded.index}/restore`), 'ERR_KEY_STATUS');
      // …and the sweep writes it, with an audit entry of the device.
      const expired = await runKeyExpirySweep(device);
      assert.ok(expired.includes(normal.index) && expired.includes(discarded.index));
      assert.ok(!expired.includes(lasting.index));
      const entries = await device.store.listAudit({ order: 'desc', limit: 20 });
      const entry = entries.find((e) => e.content === `Set key status;Key index number:${normal.index}`)!;
      assert.deepEqual([entry.source, entry.account, entry.businessType], ['device', 'device', 'update']);
      assert.match(entry.details, /expired/);
      assert.deepEqual(await runKeyExpirySweep(device), []);
    } finally {
      device.clock.setOffset(offset);
    }
    // Back at the old time the keys stay invalid: expiry is for good.
    const back = await c1.get<KeyDetail>(`/api/keys/${normal.index}`);
    assert.deepEqual([back.status, back.invalidReason], ['invalid', 'expired']);
    await refusal(c1.post(`/api/keys/${normal.index}/restore`), 'ERR_KEY_STATUS');
    assert.equal((await c1.get<KeyDetail>(`/api/keys/${lasting.index}`)).status, 'normal');
    const invalid = await c1.get<KeyPage>('/api/keys', { status: 'invalid', size: 1000 });
    assert.ok(invalid.keys.some((k) => k.index === discarded.index));
    assert.deepEqual(await c1.delete(`/api/keys/${normal.index}`), { ok: true, bindingsRemoved: 0 });
  });

  test('leaves an intact audit chain after all of it', async () => {
    assert.equal((await dev.daemon.device.verifyAudit()).ok, true);
  });
});

const USAGE_ORDER = ['encrypt', 'decrypt', 'sign', 'verify', 'mac', 'wrap', 'unwrap', 'derive'];
function order(u: string): number {
  return USAGE_ORDER.indexOf(u);
}
