import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PanelClient } from '@coffer/cli';
import type { DeviceStatus } from '@coffer/core';
import type { Daemon } from '@coffer/server';
import { type Initialised, initialiseDevice, refusal, startTestDevice, tempDir } from './support.js';

const card = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const NET = {
  mNet0: { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: null },
  aNet1: { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: '127.0.0.1' },
};

async function boot(
  api: PanelClient,
  a: { file: string; pin: string },
  b: { file: string; pin: string },
): Promise<DeviceStatus> {
  const first = await api.post<{ token: string }>('/api/auth2boot/first', { card: card(a.file), pin: a.pin });
  return api.post<DeviceStatus>('/api/auth2boot/second', {
    token: first.token,
    card: card(b.file),
    pin: b.pin,
  });
}

async function restart(api: PanelClient, b: { file: string; pin: string }): Promise<DeviceStatus> {
  const { token } = await api.post<{ token: string }>('/api/settings/auth', {
    card: card(b.file),
    pin: b.pin,
  });
  return api.post<DeviceStatus>('/api/power/restart', {}, token);
}

describe('the device lifecycle, through the front-panel API over HTTP', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let daemon: Daemon;
  let api: PanelClient;
  let init: Initialised;

  before(async () => {
    tmp = await tempDir();
    ({ daemon, api } = await startTestDevice(join(tmp.dir, 'data')));
  });
  after(async () => {
    await daemon?.close();
    await tmp.cleanup();
  });

  it('a new device passes its self-tests and waits for initialisation with the blue light on', async () => {
    const s = await api.get<DeviceStatus>('/api/status');
    assert.equal(s.state, 'UNINITIALISED');
    assert.deepEqual(s.indicators, { power: true, error: false, waiting: true, working: false });
    assert.equal(s.init?.next, 'time');
  });

  it('initialisation makes A1–A3, B1, C1 and D1 and restarts the device locked', async () => {
    init = await initialiseDevice(api, tmp.dir);
    assert.deepEqual(init.cards.map((c) => c.slot).sort(), ['A1', 'A2', 'A3', 'B1', 'C1', 'D1']);
    const s = await api.get<DeviceStatus>('/api/status');
    assert.equal(s.state, 'LOCKED');
    assert.equal(s.indicators.waiting, false);
    // The A cards carry their share after the Write step; B, C and D carry none.
    for (const c of init.cards) assert.equal(card(c.file).slot, c.slot);
  });

  for (const [x, y] of [
    ['A1', 'A2'],
    ['A1', 'A3'],
    ['A2', 'A3'],
    ['A3', 'A1'],
  ] as const) {
    it(`Auth2Boot with ${x} and ${y} boots the device to READY, and a restart locks it again`, async () => {
      const s = await boot(api, init.card(x), init.card(y));
      assert.equal(s.state, 'READY');
      const info = await api.get<{ kcv: string }>('/api/device-info');
      assert.match(info.kcv, /^[0-9a-f]{64}$/);
      const r = await restart(api, init.card('B1'));
      assert.equal(r.state, 'LOCKED');
    });
  }

  it('Start Service with a B card and network settings turns the green light on; Stop Service turns it off', async () => {
    await boot(api, init.card('A1'), init.card('A2'));
    const b1 = init.card('B1');
    const { token } = await api.post<{ token: string }>('/api/service/start/auth', {
      card: card(b1.file),
      pin: b1.pin,
    });
    const s = await api.post<DeviceStatus>('/api/service/start', { token, ...NET });
    assert.equal(s.state, 'SERVING');
    assert.equal(s.indicators.working, true);
    assert.equal(s.network?.aNet1.gateway, '127.0.0.1');
    const info = await api.get<{ network: { mNet0: { mac: string; ip: string } } }>('/api/device-info');
    assert.equal(info.network.mNet0.ip, '127.0.0.1');
    assert.match(info.network.mNet0.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const stopped = await api.post<DeviceStatus>('/api/service/stop', { card: card(b1.file), pin: b1.pin });
    assert.equal(stopped.state, 'READY');
    assert.equal(stopped.indicators.working, false);
  });

  it('remaking A2 gives a new card that boots; the old A2 card is refused as replaced', async () => {
    const a2 = init.card('A2');
    const oldA2 = card(a2.file);
    const v = await api.post<{ token: string; slot: string }>('/api/remake/device-manager/verify', {
      mkPartPin: a2.mkPartPin,
    });
    assert.equal(v.slot, 'A2');
    const made = await api.post<{ slot: string; fileName: string; card: unknown }>(
      '/api/remake/device-manager/card',
      {
        token: v.token,
        pin: 'ABCD1234',
        pinConfirm: 'ABCD1234',
      },
    );
    assert.equal(made.slot, 'A2');
    assert.equal(made.fileName, 'coffer-A2.card');
    await restart(api, init.card('B1'));
    const first = await api.post<{ token: string }>('/api/auth2boot/first', {
      card: card(init.card('A1').file),
      pin: init.card('A1').pin,
    });
    await refusal(
      api.post('/api/auth2boot/second', { token: first.token, card: oldA2, pin: a2.pin }),
      'ERR_CARD_REPLACED',
    );
    const s = await api.post<DeviceStatus>('/api/auth2boot/second', {
      token: first.token,
      card: made.card,
      pin: 'ABCD1234',
    });
    assert.equal(s.state, 'READY');
  });

  it('modifying a PIN re-keys the card: the new file works with the new PIN, the old file is refused', async () => {
    const c1 = init.card('C1');
    const old = card(c1.file);
    const changed = await api.post<{ card: unknown }>('/api/modify-pin', {
      card: old,
      oldPin: c1.pin,
      newPin: '1234ABCD',
      newPinConfirm: '1234ABCD',
    });
    await refusal(
      api.post('/api/modify-pin', {
        card: old,
        oldPin: c1.pin,
        newPin: '5678ABCD',
        newPinConfirm: '5678ABCD',
      }),
      'ERR_CARD_REPLACED',
    );
    const again = await api.post<{ card: unknown }>('/api/modify-pin', {
      card: changed.card,
      oldPin: '1234ABCD',
      newPin: '5678ABCD',
      newPinConfirm: '5678ABCD',
    });
    assert.ok(again.card);
  });

  it('ReInit with two Device Managers wipes the key domain and returns to Time Setting', async () => {
    const db = join(tmp.dir, 'data', 'coffer.sqlite');
    await restart(api, init.card('B1'));
    const kcvBefore = (await api.get<{ kcv: string }>('/api/device-info')).kcv;
    const a1 = init.card('A1');
    const a3 = init.card('A3');
    const first = await api.post<{ token: string }>('/api/reinit/first', {
      card: card(a1.file),
      pin: a1.pin,
      mkPartPin: a1.mkPartPin,
    });
    const s = await api.post<DeviceStatus>('/api/reinit/second', {
      token: first.token,
      card: card(a3.file),
      pin: a3.pin,
      mkPartPin: a3.mkPartPin,
    });
    assert.equal(s.state, 'UNINITIALISED');
    assert.equal(s.init?.next, 'time');
    // Nothing of the old key domain survives on disk: not its check value, not a card's public key.
    const publicKey = Buffer.from(card(a1.file).publicKey, 'base64');
    for (const name of readdirSync(join(tmp.dir, 'data')).filter((n) => n.startsWith('coffer.sqlite'))) {
      const bytes = readFileSync(join(tmp.dir, 'data', name));
      assert.equal(bytes.includes(Buffer.from(kcvBefore)), false, `${name} still holds the old check value`);
      assert.equal(bytes.includes(publicKey), false, `${name} still holds an old card key`);
    }
    assert.ok(db);
    // The old cards are no longer known to the device.
    await refusal(
      api.post('/api/init/device-manager/write', { card: card(a1.file), pin: a1.pin }),
      'ERR_CEREMONY_ORDER',
    );
  });

  it('the audit chain is intact after the whole lifecycle', async () => {
    const v = await api.get<{ ok: boolean; count: number }>('/api/audit/verify');
    assert.equal(v.ok, true);
    assert.ok(v.count > 40);
  });
});
