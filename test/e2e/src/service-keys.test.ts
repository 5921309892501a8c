import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENCRYPT, KEY_INFO, LIST_KEYS, PUBLIC_KEY, SIGN, VERIFY } from '@coffer/protocol';
import {
  type KeyView,
  type Licence,
  type ServiceClient,
  type ServiceDevice,
  type ServiceError,
  startServiceDevice,
} from './service-support.js';

/*
 * Which keys a request may use (DESIGN §5): bound to the operator, status normal, not expired on the
 * device's clock, usage allowing the operation — each refusal with its own code, and nothing about
 * keys of other operators. Changes by the Safe Manager take effect on live connections within a
 * second. Refusals of key access are operator-log entries, rate-limited.
 */

let d: ServiceDevice;
let lic: Licence;
let c: ServiceClient;
let ed: KeyView;
let signOnly: KeyView;
let theirs: KeyView;
const data = Buffer.from('data');

before(async () => {
  d = await startServiceDevice();
  lic = await d.licence('mine');
  await d.licence('other');
  [ed, signOnly, theirs] = await Promise.all([
    d.addKey('Ed25519', ['mine']),
    d.addKey('EC-P256', ['mine'], { usage: ['sign'] }),
    d.addKey('SM2', ['other']),
  ]);
  c = await d.connect(lic);
});
after(async () => {
  await d?.close();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return (error as ServiceError).code;
  }
}

/** Polls until `probe` gives `code`; fails after `ms`. Returns the time it took. */
async function becomes(probe: () => Promise<unknown>, code: string, ms = 1000): Promise<number> {
  const start = performance.now();
  for (;;) {
    const got = await codeOf(probe());
    if (got === code) return performance.now() - start;
    if (performance.now() - start > ms) assert.fail(`still ${got} after ${ms} ms, expected ${code}`);
    await sleep(20);
  }
}

const sign = (key: number) => c.request(SIGN, { key, algorithm: 'ed25519', data });

describe('key access', () => {
  test('a key that does not exist: ERR_KEY_NOT_FOUND', async () => {
    assert.equal(await codeOf(sign(999_999)), 'ERR_KEY_NOT_FOUND');
    assert.equal(await codeOf(c.request(KEY_INFO, { key: 999_999 })), 'ERR_KEY_NOT_FOUND');
  });

  test('a key of another operator: ERR_KEY_NOT_BOUND for every operation, and nothing about it', async () => {
    const probes = [
      c.request(SIGN, { key: theirs.index, algorithm: 'sm2-sm3', data }),
      c.request(SIGN, { key: theirs.index, algorithm: 'ed25519', data }),
      c.request(VERIFY, { key: theirs.index, algorithm: 'sm2-sm3', data, signature: Buffer.alloc(64) }),
      c.request(KEY_INFO, { key: theirs.index }),
      c.request(PUBLIC_KEY, { key: theirs.index }),
      c.request(ENCRYPT, { key: theirs.index, mode: 'gcm', data }),
    ];
    for (const p of probes) {
      try {
        await p;
        assert.fail('a key of another operator was used');
      } catch (error) {
        const e = error as ServiceError;
        assert.equal(e.code, 'ERR_KEY_NOT_BOUND');
        assert.equal(e.message, `ERR_KEY_NOT_BOUND: Key ${theirs.index} is not bound to this operator.`);
      }
    }
    const listed = await c.request(LIST_KEYS, {});
    assert.deepEqual(
      listed.keys.map((k) => k.index),
      [ed.index, signOnly.index].sort((x, y) => x - y),
    );
  });

  test('usage flags: ERR_KEY_USAGE_NOT_ALLOWED for what the key may not do', async () => {
    const ok = await c.request(SIGN, { key: signOnly.index, algorithm: 'ecdsa-sha256', data });
    const verify = c.request(VERIFY, {
      key: signOnly.index,
      algorithm: 'ecdsa-sha256',
      data,
      signature: ok.signature,
    });
    assert.equal(await codeOf(verify), 'ERR_KEY_USAGE_NOT_ALLOWED');
  });

  test('discarded, restored, unbound and bound again: the connection sees each change within a second', async () => {
    const n = ed.index;
    assert.equal(await codeOf(sign(n)), 'ok');
    await d.c1.post(`/api/keys/${n}/discard`);
    await becomes(() => sign(n), 'ERR_KEY_DISCARDED');
    // key-info still answers for a bound key, with its status.
    assert.equal((await c.request(KEY_INFO, { key: n })).status, 'discard');
    assert.equal(await codeOf(c.request(PUBLIC_KEY, { key: n })), 'ERR_KEY_DISCARDED');
    await d.c1.post(`/api/keys/${n}/restore`);
    await becomes(() => sign(n), 'ok');
    await d.c1.post(`/api/keys/${n}/unbind`, { operators: ['mine'] });
    await becomes(() => sign(n), 'ERR_KEY_NOT_BOUND');
    await d.bind(n, ['mine']);
    await becomes(() => sign(n), 'ok');
  });

  test('invalidated, then deleted: ERR_KEY_INVALID, then ERR_KEY_NOT_FOUND', async () => {
    const key = await d.addKey('Ed25519', ['mine']);
    assert.equal(await codeOf(sign(key.index)), 'ok');
    await d.c1.post(`/api/keys/${key.index}/invalidate`);
    await becomes(() => sign(key.index), 'ERR_KEY_INVALID');
    await d.c1.delete(`/api/keys/${key.index}`);
    await becomes(() => sign(key.index), 'ERR_KEY_NOT_FOUND');
  });

  test('a key past its validity on the device clock is invalid (expired) at once, before any sweep', async () => {
    const key = await d.addKey('Ed25519', ['mine'], { validityDays: 1 });
    assert.equal(await codeOf(sign(key.index)), 'ok');
    const token = await d.dev.settingsToken();
    const later = new Date(Date.now() + 2 * 86_400_000).toISOString();
    await d.dev.api.post('/api/settings/time', { time: later }, token);
    try {
      try {
        await sign(key.index);
        assert.fail('an expired key signed');
      } catch (error) {
        assert.equal((error as ServiceError).code, 'ERR_KEY_INVALID');
        assert.match((error as ServiceError).message, /\(expired\)/);
      }
      assert.equal(await codeOf(sign(ed.index)), 'ok');
    } finally {
      await d.dev.api.post(
        '/api/settings/time',
        { time: new Date().toISOString() },
        await d.dev.settingsToken(),
      );
    }
  });

  test('key refusals are operator-log entries, one per kind in ten seconds, the rest counted at disconnect', async () => {
    const probe = await d.connect(lic);
    const refusals = await Promise.all(
      Array.from({ length: 50 }, () =>
        codeOf(probe.request(SIGN, { key: theirs.index, algorithm: 'ed25519', data: randomBytes(4) })),
      ),
    );
    assert.ok(refusals.every((r) => r === 'ERR_KEY_NOT_BOUND'));
    await sleep(100);
    const log = await d.dev.daemon.device.store.listAudit({
      sources: ['integrated'],
      order: 'desc',
      limit: 200,
    });
    const entries = log.filter(
      (e) => e.businessType === 'use' && e.content === `sign;Key index number:${theirs.index}`,
    );
    assert.ok(entries.length >= 1 && entries.length <= 2, `${entries.length} entries`);
    assert.equal(entries[0]!.account, 'mine');
    assert.equal(entries[0]!.result, 'failure');
    assert.match(entries[0]!.details, /^ERR_KEY_NOT_BOUND: /);
    probe.close();
    await probe.closed;
    await sleep(100);
    const gone = (
      await d.dev.daemon.device.store.listAudit({ sources: ['integrated'], order: 'desc', limit: 5 })
    ).find((e) => e.businessType === 'disconnect');
    assert.match(gone!.details, /requests 50; refused 50; 49 key refusals not logged separately/);
  });
});
