import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdminClient } from '@coffer/cli';
import { makeDeviceCa } from '@coffer/server';
import { type ServingDevice, startServingDevice } from './management-support.js';
import { refusal } from './support.js';

interface LogPage {
  entries: {
    seq: number;
    source: string;
    account: string;
    clientIp: string;
    businessType: string;
    result: string;
    content: string;
  }[];
}

describe('management access over HTTPS: roles, the tool white list, pinning', () => {
  let dev: ServingDevice;
  before(async () => {
    dev = await startServingDevice();
  });
  after(async () => {
    await dev?.close();
  });

  it('each manager logs in with its own card and the session carries its role and account', async () => {
    for (const [slot, role] of [
      ['B1', 'system-manager'],
      ['C1', 'safe-manager'],
      ['D1', 'audit-manager'],
    ] as const) {
      const c = await dev.admin(slot);
      const who = await c.get<{ account: string; role: string; slot: string; idleTimeoutMs: number }>(
        '/api/session',
      );
      assert.deepEqual([who.account, who.role, who.slot], [`admin${slot}`, role, slot]);
      assert.equal(who.idleTimeoutMs, 600_000, 'ten minutes idle by default');
      const info = await c.get<{ deviceId: string; kcv: string }>('/api/device-info');
      assert.equal(info.deviceId, dev.daemon.device.deviceId, `${slot} sees device information`);
      assert.match(info.kcv, /^[0-9a-f]{64}$/);
    }
  });

  it('a Device Manager card cannot log in to the management service (ERR_CARD_ROLE)', async () => {
    const c = dev.client();
    const { readFileSync } = await import('node:fs');
    await refusal(
      c.login(JSON.parse(readFileSync(dev.init.card('A1').file, 'utf8')), dev.init.card('A1').pin),
      'ERR_CARD_ROLE',
    );
  });

  it('another role’s function is refused with 403 ERR_FORBIDDEN naming the role that has it', async () => {
    const system = await dev.admin('B1');
    const safe = await dev.admin('C1');
    for (const [client, path] of [
      [system, '/api/logs/manager'],
      [system, '/api/network'],
      [safe, '/api/logs/operator'],
      [safe, '/api/running-log/settings'],
    ] as const) {
      const e = await refusal(client.get(path), 'ERR_FORBIDDEN');
      assert.match(e.message, /Audit Manager/);
    }
    const raw = await system.raw('GET', '/api/logs/verify');
    assert.equal(raw.status, 403);
    const audit = await dev.admin('D1');
    const page = await audit.get<LogPage>('/api/logs/manager', { size: 50 });
    const refused = page.entries.find((e) => e.businessType === 'access' && e.account === 'adminB1');
    assert.ok(refused, 'the refusal is in the manager log');
    assert.equal(refused.result, 'failure');
    assert.match(refused.content, /logs\.(manager|verify)|network/);
  });

  it('logins are audited with the account and client IP', async () => {
    const audit = await dev.admin('D1');
    const page = await audit.get<LogPage>('/api/logs/manager', { size: 100 });
    const login = page.entries.find((e) => e.businessType === 'login' && e.account === 'adminC1');
    assert.ok(login);
    assert.equal(login.source, 'management');
    assert.equal(login.clientIp, '127.0.0.1');
    assert.equal(login.result, 'success');
  });

  it('a client whose address is not on the tool white list is cut off at connection time, and that is audited', async () => {
    // The device whitelists 127.0.0.1 only; connecting from 127.0.0.2 (also loopback) is refused.
    const outsider = dev.client({ localAddress: '127.0.0.2' });
    await refusal(outsider.post('/api/login/challenge', { cardId: 'x' }), 'ERR_NOT_WHITELISTED');
    const audit = await dev.admin('D1');
    const page = await audit.get<LogPage>('/api/logs/manager', { size: 100 });
    const entry = page.entries.find((e) => e.businessType === 'connect');
    assert.ok(entry, 'the refusal is audited');
    assert.equal(entry.result, 'failure');
    assert.equal(entry.clientIp, '127.0.0.2');
    assert.equal(entry.content, 'Refused connection from 127.0.0.2: not on the tool white list');
  });

  it('an address removed from the tool white list loses its open connection at the next request', async () => {
    const token = await dev.settingsToken();
    await dev.api.post('/api/settings/tool-whitelist', { ip: '127.0.0.3' }, token);
    const c = await dev.admin('D1', { localAddress: '127.0.0.3' });
    await c.get('/api/session');
    await dev.api.post('/api/settings/tool-whitelist/delete', { ips: ['127.0.0.3'] }, token);
    await refusal(c.get('/api/session'), 'ERR_NOT_WHITELISTED');
    await refusal(c.get('/api/session'), 'ERR_NOT_WHITELISTED'); // a new connection: cut at once
    const audit = await dev.admin('D1');
    const page = await audit.get<LogPage>('/api/logs/manager', { size: 100 });
    assert.ok(
      page.entries.some((e) => e.content === 'Refused request from 127.0.0.3: not on the tool white list'),
    );
  });

  it('a client pinning another CA refuses the device’s certificate', async () => {
    const other = await makeDeviceCa(new Date(), 'someone-else');
    const c = new AdminClient(dev.url, { caPem: other.certPem });
    try {
      const e = await refusal(c.post('/api/login/challenge', { cardId: 'x' }), 'ERR_INTERNAL');
      assert.match(e.message, /pinned device CA|certificate/i);
    } finally {
      c.close();
    }
  });

  it('the device CA is served publicly and is the one the CLI pins (written to DIR/ca.pem)', async () => {
    const { readFileSync } = await import('node:fs');
    const reply = await dev.client().get<{ certPem: string }>('/api/ca');
    assert.equal(reply.certPem, dev.caPem);
    assert.equal(readFileSync(dev.daemon.caFile, 'utf8'), dev.caPem);
  });

  it('the OpenAPI document is served without a session', async () => {
    const doc = await dev.client().get<{ openapi: string; paths: Record<string, unknown> }>('/openapi.json');
    assert.equal(doc.openapi, '3.0.3');
    assert.ok(doc.paths['/api/logs/manager']);
  });
});
