import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AuditLog,
  addKey,
  addOperator,
  bindKey,
  changeKeyStatus,
  deriveKeyring,
  type KeyActor,
  type KeyDeps,
  type Keyring,
  type Store,
} from '@coffer/core';
import { openSqliteStore } from '../store/sqlite-store.js';
import { KeyAccess, type KeyNeed } from './key-access.js';

/*
 * The key-access table of key-access.ts over the real SQLite store and records made by the Safe
 * Manager's functions: each refusal in its order, nothing about another operator's key beyond
 * ERR_KEY_NOT_BOUND, the cache re-read after its time or an invalidation, material opened once.
 */

let root: string;
let store: Store;
let keyring: Keyring;
let deps: KeyDeps;
let now = new Date();
const actor = (log: AuditLog): KeyActor => ({
  account: 'adminC1',
  audit: (tx, e) =>
    log
      .append({ source: 'management', account: 'adminC1', clientIp: '-', result: 'success', ...e }, tx)
      .then(() => undefined),
});
let who: KeyActor;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-key-access-'));
  store = await openSqliteStore(join(root, 'store.sqlite'));
  keyring = deriveKeyring(randomBytes(16));
  deps = { store, keyring, now: () => now };
  const log = new AuditLog(store, () => now);
  who = actor(log);
  for (const name of ['app1', 'app2']) {
    await addOperator(
      { store, keyring, now: () => now },
      { name, description: '', creator: 'adminB1' },
      (tx) =>
        log
          .append(
            {
              source: 'management',
              account: 'adminB1',
              clientIp: '-',
              businessType: 'add',
              result: 'success',
              content: name,
            },
            tx,
          )
          .then(() => undefined),
    );
  }
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

function access(opts: { ttlMs?: number; forget?: (id: string) => void } = {}) {
  return new KeyAccess({ store: () => store, keyring: () => keyring, now: () => now, ...opts });
}

const SIGN: KeyNeed = { usage: ['sign'], status: 'usable' };

async function code(p: () => unknown): Promise<string> {
  try {
    await p();
    return 'ok';
  } catch (error) {
    return (error as { code: string }).code;
  }
}

describe('KeyAccess', () => {
  it('refuses in the order of the table: not found, not bound, discarded, invalid, usage', async () => {
    const keys = access({ ttlMs: 0 });
    const k = await addKey(deps, who, { type: 'Ed25519', usage: ['sign'] });
    assert.equal(await code(() => keys.resolve('app1', 999_999, SIGN)), 'ERR_KEY_NOT_FOUND');
    assert.equal(await code(() => keys.resolve('app1', k.index, SIGN)), 'ERR_KEY_NOT_BOUND');
    await bindKey(deps, who, k.index, ['app1']);
    assert.equal(await code(() => keys.resolve('app1', k.index, SIGN)), 'ok');
    assert.equal(
      await code(() => keys.resolve('app1', k.index, { usage: ['verify'], status: 'usable' })),
      'ERR_KEY_USAGE_NOT_ALLOWED',
    );
    await changeKeyStatus(deps, who, k.index, 'discard');
    assert.equal(await code(() => keys.resolve('app1', k.index, SIGN)), 'ERR_KEY_DISCARDED');
    // Another operator learns only that the key is not bound to it, whatever its status.
    assert.equal(await code(() => keys.resolve('app2', k.index, SIGN)), 'ERR_KEY_NOT_BOUND');
    // key-info of one's own key answers whatever the status.
    assert.equal(await code(() => keys.resolve('app1', k.index, { usage: [], status: 'any' })), 'ok');
    await changeKeyStatus(deps, who, k.index, 'invalidate');
    assert.equal(await code(() => keys.resolve('app1', k.index, SIGN)), 'ERR_KEY_INVALID');
    assert.equal(await code(() => keys.resolve('app2', k.index, SIGN)), 'ERR_KEY_NOT_BOUND');
  });

  it('judges expiry on the device clock, before any sweep has written it', async () => {
    const keys = access();
    const k = await addKey(deps, who, { type: 'AES-128', validityDays: 1 });
    await bindKey(deps, who, k.index, ['app1']);
    const need: KeyNeed = { usage: ['encrypt'], status: 'usable' };
    assert.equal(await code(() => keys.resolve('app1', k.index, need)), 'ok');
    const saved = now;
    now = new Date(saved.getTime() + 2 * 86_400_000);
    try {
      assert.equal(await code(() => keys.resolve('app1', k.index, need)), 'ERR_KEY_INVALID');
    } finally {
      now = saved;
    }
  });

  it('answers from the cache until its time is up or it is invalidated; a refusal is checked again', async () => {
    const forgotten: string[] = [];
    const keys = access({ ttlMs: 60_000, forget: (id) => forgotten.push(id) });
    const k = await addKey(deps, who, { type: 'HMAC-SHA256' });
    await bindKey(deps, who, k.index, ['app1']);
    const need: KeyNeed = { usage: ['mac'], status: 'usable' };
    const first = await keys.resolve('app1', k.index, need);
    // Fresh: synchronous, the same opened material.
    const again = keys.resolve('app1', k.index, need);
    assert.ok(!(again instanceof Promise));
    assert.equal(again.operation, first.operation);
    await changeKeyStatus(deps, who, k.index, 'discard');
    // Within the time the cache still allows it (the management service tells the listener at once in practice).
    assert.equal(await code(() => keys.resolve('app1', k.index, need)), 'ok');
    keys.invalidate([k.index]);
    assert.equal(await code(() => keys.resolve('app1', k.index, need)), 'ERR_KEY_DISCARDED');
    assert.deepEqual(forgotten, []);
    await changeKeyStatus(deps, who, k.index, 'restore');
    // A cached refusal older than a moment is checked against the store again.
    await new Promise((r) => setTimeout(r, 60));
    const restored = await keys.resolve('app1', k.index, need);
    // Only the status changed: the material was not opened again, and workers keep their copies.
    assert.equal(restored.operation, first.operation);
    assert.deepEqual(forgotten, []);
  });

  it('lists the keys bound to an operator by index, and describes them as key-info', async () => {
    const keys = access();
    const a = await addKey(deps, who, { type: 'SM4' });
    const b = await addKey(deps, who, { type: 'EC-P256' });
    await bindKey(deps, who, b.index, ['app2']);
    await bindKey(deps, who, a.index, ['app2']);
    const listed = await keys.boundKeys('app2');
    assert.deepEqual(
      listed.map((k) => k.index),
      [a.index, b.index],
    );
    const info = keys.infoOf(listed[1]!);
    assert.equal(info.type, 'EC-P256');
    assert.equal(info.publicKey, b.publicKey);
    assert.equal(info.checkValue, undefined);
    assert.equal(keys.infoOf(listed[0]!).checkValue, a.checkValue);
  });
});
