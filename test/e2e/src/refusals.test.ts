import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PanelClient } from '@coffer/cli';
import type { Daemon } from '@coffer/server';
import { type Initialised, initialiseDevice, refusal, startTestDevice, tempDir } from './support.js';

const card = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

async function raw(api: PanelClient, path: string, body: string, contentType = 'application/json') {
  const r = await fetch(new URL(path, api.baseUrl), {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return {
    status: r.status,
    body: (await r.json()) as { error: { code: string; message: string; details: Record<string, unknown> } },
  };
}

describe('the front panel refuses what the manual forbids, each with its own reason', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let daemon: Daemon;
  let api: PanelClient;
  let other: Daemon;
  let otherApi: PanelClient;
  let init: Initialised;
  let foreign: Initialised;

  before(async () => {
    tmp = await tempDir();
    ({ daemon, api } = await startTestDevice(join(tmp.dir, 'one')));
    ({ daemon: other, api: otherApi } = await startTestDevice(join(tmp.dir, 'two')));
  });
  after(async () => {
    await daemon?.close();
    await other?.close();
    await tmp.cleanup();
  });

  describe('during initialisation', () => {
    it('a step out of order is refused with ERR_CEREMONY_ORDER naming the next step', async () => {
      const e = await refusal(
        api.post('/api/init/device-manager/card', { slot: 'A1', pin: 'ABCD1234', pinConfirm: 'ABCD1234' }),
        'ERR_CEREMONY_ORDER',
      );
      assert.equal(e.details['next'], 'time');
    });

    it('a time that is not a date is refused with ERR_TIME_FORMAT', async () => {
      await refusal(api.post('/api/init/time', { time: 'tomorrow' }), 'ERR_TIME_FORMAT');
    });

    it('card PINs that break the keypad rules are refused with the exact reason', async () => {
      await api.post('/api/init/time', { time: new Date().toISOString() });
      const cases: [string, string, RegExp][] = [
        ['ABC123', 'ABC123', /8 characters/],
        ['ABCDEFAB', 'ABCDEFAB', /digit/],
        ['12345678', '12345678', /letter/],
        ['ABCD123G', 'ABCD123G', /'G'/],
      ];
      for (const [pin, confirm, why] of cases) {
        const e = await refusal(
          api.post('/api/init/device-manager/card', { slot: 'A1', pin, pinConfirm: confirm }),
          'ERR_PIN_RULE',
        );
        assert.match(e.message, why);
        assert.equal(e.details['field'], 'pin');
      }
      const m = await refusal(
        api.post('/api/init/device-manager/card', { slot: 'A1', pin: 'ABCD1234', pinConfirm: 'ABCD1235' }),
        'ERR_PIN_MISMATCH',
      );
      assert.equal(m.details['field'], 'confirm');
    });

    it('an MK part that is not 32 hex digits, or does not match its confirmation, is refused', async () => {
      await api.post('/api/init/device-manager/card', {
        slot: 'A1',
        pin: 'ABCD1234',
        pinConfirm: 'ABCD1234',
      });
      const good = '00112233445566778899AABBCCDDEEFF';
      await refusal(
        api.post('/api/init/device-manager/mk-part', {
          slot: 'A1',
          mkPart: good.slice(1),
          mkPartConfirm: good.slice(1),
          mkPartPin: 'ABCD1234',
          mkPartPinConfirm: 'ABCD1234',
        }),
        'ERR_MK_PART_FORMAT',
      );
      await refusal(
        api.post('/api/init/device-manager/mk-part', {
          slot: 'A1',
          mkPart: good,
          mkPartConfirm: good.replace('0', '1'),
          mkPartPin: 'ABCD1234',
          mkPartPinConfirm: 'ABCD1234',
        }),
        'ERR_MK_PART_MISMATCH',
      );
      await api.post('/api/init/cancel');
    });
  });

  describe('once initialised', () => {
    before(async () => {
      init = await initialiseDevice(api, join(tmp.dir, 'one'));
      foreign = await initialiseDevice(otherApi, join(tmp.dir, 'two'));
    });

    it('a service request while locked is refused with ERR_STATE_LOCKED', async () => {
      const b = init.card('B1');
      const e = await refusal(
        api.post('/api/service/start/auth', { card: card(b.file), pin: b.pin }),
        'ERR_STATE_LOCKED',
      );
      assert.equal(e.details['state'], 'LOCKED');
    });

    it('Auth2Boot with the same card twice is refused with ERR_CARD_SAME', async () => {
      const a1 = init.card('A1');
      const first = await api.post<{ token: string }>('/api/auth2boot/first', {
        card: card(a1.file),
        pin: a1.pin,
      });
      await refusal(
        api.post('/api/auth2boot/second', { token: first.token, card: card(a1.file), pin: a1.pin }),
        'ERR_CARD_SAME',
      );
    });

    it('a card of another device is refused with ERR_CARD_FOREIGN', async () => {
      const a1 = foreign.card('A1');
      await refusal(
        api.post('/api/auth2boot/first', { card: card(a1.file), pin: a1.pin }),
        'ERR_CARD_FOREIGN',
      );
    });

    it('a manager card where a Device Manager card is wanted is refused with ERR_CARD_ROLE, costing no PIN attempt', async () => {
      const c1 = init.card('C1');
      const e = await refusal(
        api.post('/api/auth2boot/first', { card: card(c1.file), pin: 'WRONG123' }),
        'ERR_CARD_ROLE',
      );
      assert.match(e.message, /Safe Manager/);
    });

    it('an edited card file is refused: a swapped public key as ERR_CARD_FORGED, a broken one as ERR_CARD_FORMAT', async () => {
      const a1 = card(init.card('A1').file);
      const a2 = card(init.card('A2').file);
      await refusal(
        api.post('/api/auth2boot/first', {
          card: { ...a1, publicKey: a2.publicKey },
          pin: init.card('A1').pin,
        }),
        'ERR_CARD_FORGED',
      );
      await refusal(
        api.post('/api/auth2boot/first', { card: { ...a1, sealed: 'nothing' }, pin: init.card('A1').pin }),
        'ERR_CARD_FORMAT',
      );
    });

    it('wrong PINs count down the attempts left, and the fifth in a row blocks the card', async () => {
      const a3 = init.card('A3');
      for (let left = 4; left >= 1; left--) {
        const e = await refusal(
          api.post('/api/auth2boot/first', { card: card(a3.file), pin: 'ABCD0000' }),
          'ERR_PIN_WRONG',
        );
        assert.equal(e.details['attemptsLeft'], left);
      }
      await refusal(
        api.post('/api/auth2boot/first', { card: card(a3.file), pin: 'ABCD0000' }),
        'ERR_CARD_BLOCKED',
      );
      // Blocked even with the right PIN, until it is remade.
      await refusal(
        api.post('/api/auth2boot/first', { card: card(a3.file), pin: a3.pin }),
        'ERR_CARD_BLOCKED',
      );
    });

    it('a right PIN resets the count of wrong ones', async () => {
      const a2 = init.card('A2');
      await refusal(
        api.post('/api/auth2boot/first', { card: card(a2.file), pin: 'ABCD0000' }),
        'ERR_PIN_WRONG',
      );
      const ok = await api.post<{ token: string }>('/api/auth2boot/first', {
        card: card(a2.file),
        pin: a2.pin,
      });
      await api.post('/api/ceremony/cancel', { token: ok.token });
      const e = await refusal(
        api.post('/api/auth2boot/first', { card: card(a2.file), pin: 'ABCD0000' }),
        'ERR_PIN_WRONG',
      );
      assert.equal(e.details['attemptsLeft'], 4);
    });

    it('ReInit with a wrong MK-Part-PIN is refused with ERR_MK_PART_PIN_WRONG and wipes nothing', async () => {
      const a1 = init.card('A1');
      await refusal(
        api.post('/api/reinit/first', { card: card(a1.file), pin: a1.pin, mkPartPin: 'FFFF0000' }),
        'ERR_MK_PART_PIN_WRONG',
      );
      const s = await api.get<{ state: string }>('/api/status');
      assert.equal(s.state, 'LOCKED');
    });

    it('a second step with a token of another ceremony is refused with ERR_CEREMONY_UNKNOWN', async () => {
      const a1 = init.card('A1');
      const a2 = init.card('A2');
      const first = await api.post<{ token: string }>('/api/auth2boot/first', {
        card: card(a1.file),
        pin: a1.pin,
      });
      await refusal(
        api.post('/api/reinit/second', {
          token: first.token,
          card: card(a2.file),
          pin: a2.pin,
          mkPartPin: a2.mkPartPin,
        }),
        'ERR_CEREMONY_UNKNOWN',
      );
      await api.post('/api/auth2boot/second', { token: first.token, card: card(a2.file), pin: a2.pin });
    });

    it('the System Manager card cannot be remade (manual §3.3)', async () => {
      const e = await refusal(
        api.post('/api/remake/system-manager', { pin: 'ABCD1234', pinConfirm: 'ABCD1234' }),
        'ERR_REMAKE_SYSTEM_MANAGER',
      );
      assert.equal(e.message, 'System Manager authentication card cannot be remade.');
    });

    it('a remade blocked card works again and the blocked one stays refused', async () => {
      const a3 = init.card('A3');
      const v = await api.post<{ token: string; slot: string }>('/api/remake/device-manager/verify', {
        mkPartPin: a3.mkPartPin,
        slot: 'A3',
      });
      const made = await api.post<{ card: unknown }>('/api/remake/device-manager/card', {
        token: v.token,
        pin: 'ABCD1234',
        pinConfirm: 'ABCD1234',
      });
      await refusal(
        api.post('/api/modify-pin', {
          card: card(a3.file),
          oldPin: a3.pin,
          newPin: 'ABCD5678',
          newPinConfirm: 'ABCD5678',
        }),
        'ERR_CARD_REPLACED',
      );
      const changed = await api.post<{ card: unknown }>('/api/modify-pin', {
        card: made.card,
        oldPin: 'ABCD1234',
        newPin: 'ABCD5678',
        newPinConfirm: 'ABCD5678',
      });
      assert.ok(changed.card);
    });

    it('network settings are checked field by field', async () => {
      const b = init.card('B1');
      const start = async (mNet0: object, aNet1: object) => {
        const { token } = await api.post<{ token: string }>('/api/service/start/auth', {
          card: card(b.file),
          pin: b.pin,
        });
        return api.post('/api/service/start', { token, mNet0, aNet1 });
      };
      const good = { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: null };
      const cases: [object, object, string][] = [
        [{ ...good, ip: '300.1.1.1' }, good, 'mNet0.ip'],
        [{ ...good, ip: '192.0.2.77' }, good, 'mNet0.ip'],
        [good, { ...good, mask: '255.0.255.0' }, 'aNet1.mask'],
        [good, { ...good, gateway: '10.0.0.1' }, 'aNet1.gateway'],
        [{ ...good, port: 1812 }, { ...good, port: 1812 }, 'aNet1.port'],
      ];
      for (const [m, a, field] of cases) {
        const e = await refusal(start(m, a), 'ERR_NETWORK_SETTINGS');
        assert.equal(e.details['field'], field);
      }
      const s = await api.get<{ state: string }>('/api/status');
      assert.equal(s.state, 'READY');
    });

    it('the tool whitelist refuses a malformed IP, a duplicate, and deleting what is not listed', async () => {
      const b = init.card('B1');
      const { token } = await api.post<{ token: string }>('/api/settings/auth', {
        card: card(b.file),
        pin: b.pin,
      });
      await refusal(api.post('/api/settings/tool-whitelist', { ip: '1.2.3' }, token), 'ERR_IP_FORMAT');
      await api.post('/api/settings/tool-whitelist', { ip: '192.0.2.10' }, token);
      await refusal(api.post('/api/settings/tool-whitelist', { ip: '192.0.2.10' }, token), 'ERR_CONFLICT');
      await refusal(
        api.post('/api/settings/tool-whitelist/delete', { ips: ['192.0.2.10', '192.0.2.11'] }, token),
        'ERR_NOT_FOUND',
      );
      const list = await api.get<{ entries: { ip: string }[] }>('/api/settings/tool-whitelist', token);
      assert.deepEqual(
        list.entries.map((e) => e.ip),
        ['192.0.2.10'],
      );
      await refusal(api.get('/api/settings/tool-whitelist', 'not-a-token'), 'ERR_CEREMONY_UNKNOWN');
    });
  });

  describe('malformed requests', () => {
    it('bad JSON, unknown fields, wrong types, oversize bodies and unknown routes each get a 4xx with a code', async () => {
      const bad = await raw(api, '/api/init/time', '{"time":');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'ERR_BAD_REQUEST');
      const unknown = await raw(
        api,
        '/api/modify-pin',
        JSON.stringify({ card: {}, oldPin: 'A', newPin: 'B', newPinConfirm: 'B', extra: 1 }),
      );
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error.details['field'], 'extra');
      const types = await raw(api, '/api/settings/tool-whitelist', JSON.stringify({ ip: 7 }));
      assert.equal(types.status, 400);
      const big = await raw(api, '/api/init/time', JSON.stringify({ time: 'x'.repeat(100_000) }));
      assert.equal(big.status, 413);
      assert.equal(big.body.error.code, 'ERR_BAD_REQUEST');
      const form = await raw(api, '/api/init/time', 'time=now', 'application/x-www-form-urlencoded');
      assert.equal(form.status, 415);
      const none = await fetch(new URL('/api/nothing', api.baseUrl));
      assert.equal(none.status, 404);
      assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'ERR_NOT_FOUND');
    });

    it('a request whose Host is not loopback is refused (no DNS rebinding into the panel)', async () => {
      const { request } = await import('node:http');
      const url = new URL('/api/status', api.baseUrl);
      const status = await new Promise<number>((done, fail) => {
        const req = request(
          { host: url.hostname, port: url.port, path: url.pathname, headers: { host: 'evil.example' } },
          (res) => {
            res.resume();
            done(res.statusCode ?? 0);
          },
        );
        req.on('error', fail);
        req.end();
      });
      assert.equal(status, 403);
    });

    it('no refusal above put a PIN into the audit log or the running log', async () => {
      const v = await api.get<{ ok: boolean }>('/api/audit/verify');
      assert.equal(v.ok, true);
      const all = await daemon.device.store.listAudit({ limit: 10_000 });
      const text = JSON.stringify(all) + readFileSync(join(tmp.dir, 'one', 'logs', 'running.log'), 'utf8');
      for (const c of init.cards) {
        assert.equal(text.includes(c.pin), false, `PIN of ${c.slot} leaked`);
        if (c.mkPartPin) assert.equal(text.includes(c.mkPartPin), false, `MK-Part-PIN of ${c.slot} leaked`);
      }
      for (const m of init.mkParts) assert.equal(text.includes(m.mkPart), false);
      assert.equal(text.includes('ABCD0000'), false);
    });
  });
});
