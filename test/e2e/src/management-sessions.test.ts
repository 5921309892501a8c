import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCardFile, signChallenge, unsealCard } from '@coffer/core';
import { type ServingDevice, startServingDevice } from './management-support.js';
import { refusal } from './support.js';

const IDLE_MS = 600;

describe('management sessions: login handshake, idle expiry, logout, throttling, bad input', () => {
  let dev: ServingDevice;
  before(async () => {
    dev = await startServingDevice({
      extra: { management: { sessionIdleMs: IDLE_MS, throttle: { baseDelayMs: 300, maxDelayMs: 1000 } } },
    });
  });
  after(async () => {
    await dev?.close();
  });

  const card = (slot: string) => JSON.parse(readFileSync(dev.init.card(slot).file, 'utf8'));
  const signer = async (slot: string) => {
    const file = parseCardFile(card(slot));
    const { privateKey } = await unsealCard(file, dev.init.card(slot).pin, { minIterations: 1000 });
    return {
      cardId: file.cardId,
      sign: (challenge: string) =>
        signChallenge(privateKey, Buffer.from(challenge, 'base64')).toString('base64'),
    };
  };

  it('a session idle for longer than the idle time is refused with ERR_SESSION_EXPIRED', async () => {
    const c = await dev.admin('D1');
    await sleep(IDLE_MS / 2);
    await c.get('/api/session'); // activity keeps it open
    await sleep(IDLE_MS / 2);
    await c.get('/api/session');
    await sleep(IDLE_MS + 100);
    await refusal(c.get('/api/session'), 'ERR_SESSION_EXPIRED');
    await refusal(c.get('/api/session'), 'ERR_SESSION_REQUIRED');
  });

  it('logout ends the session at once', async () => {
    const c = await dev.admin('B1');
    const token = c.token;
    await c.logout();
    c.token = token;
    await refusal(c.get('/api/session'), 'ERR_SESSION_REQUIRED');
  });

  it('a challenge answers once: replaying a used challenge and signature is refused with ERR_CHALLENGE', async () => {
    const c = dev.client();
    const s = await signer('C1');
    const { challenge } = await c.post<{ challenge: string }>('/api/login/challenge', { cardId: s.cardId });
    assert.equal(Buffer.from(challenge, 'base64').length, 32);
    const body = { cardId: s.cardId, challenge, signature: s.sign(challenge) };
    const first = await c.post<{ token: string; role: string }>('/api/login', body);
    assert.equal(first.role, 'safe-manager');
    await refusal(c.post('/api/login', body), 'ERR_CHALLENGE');
  });

  it('a challenge issued for one card does not log in another; a signature by another card is refused', async () => {
    const c = dev.client();
    const safe = await signer('C1');
    const audit = await signer('D1');
    const one = await c.post<{ challenge: string }>('/api/login/challenge', { cardId: safe.cardId });
    await refusal(
      c.post('/api/login', {
        cardId: audit.cardId,
        challenge: one.challenge,
        signature: audit.sign(one.challenge),
      }),
      'ERR_CHALLENGE',
    );
    const two = await c.post<{ challenge: string }>('/api/login/challenge', { cardId: safe.cardId });
    await refusal(
      c.post('/api/login', {
        cardId: safe.cardId,
        challenge: two.challenge,
        signature: audit.sign(two.challenge),
      }),
      'ERR_CHALLENGE',
    );
  });

  it('repeated failed logins for a card are slowed down with ERR_LOGIN_THROTTLED and audited; after the wait it logs in', async () => {
    const c = dev.client();
    const s = await signer('B1');
    const bad = async () => {
      const { challenge } = await c.post<{ challenge: string }>('/api/login/challenge', { cardId: s.cardId });
      return c.post('/api/login', {
        cardId: s.cardId,
        challenge,
        signature: Buffer.alloc(64, 1).toString('base64'),
      });
    };
    for (let i = 0; i < 4; i++) await refusal(bad(), 'ERR_CHALLENGE');
    const { challenge } = await c.post<{ challenge: string }>('/api/login/challenge', { cardId: s.cardId });
    const e = await refusal(
      c.post('/api/login', { cardId: s.cardId, challenge, signature: s.sign(challenge) }),
      'ERR_LOGIN_THROTTLED',
    );
    assert.ok(Number(e.details['retryAfterMs']) > 0 && Number(e.details['retryAfterMs']) <= 300);
    await sleep(Number(e.details['retryAfterMs']) + 50);
    const again = await c.post<{ challenge: string }>('/api/login/challenge', { cardId: s.cardId });
    const ok = await c.post<{ role: string }>('/api/login', {
      cardId: s.cardId,
      challenge: again.challenge,
      signature: s.sign(again.challenge),
    });
    assert.equal(ok.role, 'system-manager');
    const auditor = await dev.admin('D1');
    const page = await auditor.get<{ entries: { businessType: string; result: string; details: string }[] }>(
      '/api/logs/manager',
      { size: 50 },
    );
    assert.ok(
      page.entries.some(
        (x) =>
          x.businessType === 'login' && x.result === 'failure' && x.details.startsWith('ERR_LOGIN_THROTTLED'),
      ),
    );
    assert.ok(
      page.entries.some(
        (x) => x.businessType === 'login' && x.result === 'failure' && x.details.startsWith('ERR_CHALLENGE'),
      ),
    );
  });

  it('bad input gets a 4xx with a stable code and changes nothing', async () => {
    const c = await dev.admin('D1');
    const before = await c.get<{ level: string; retentionDays: number }>('/api/running-log/settings');
    const cases: [string, string | Buffer, number, string][] = [
      ['/api/login/challenge', Buffer.from('{"cardId":'), 400, 'ERR_BAD_REQUEST'],
      ['/api/login/challenge', Buffer.from('{"cardId":"a","extra":1}'), 400, 'ERR_BAD_REQUEST'],
      ['/api/login/challenge', Buffer.from('{"cardId":5}'), 400, 'ERR_BAD_REQUEST'],
      [
        '/api/login',
        Buffer.from(JSON.stringify({ cardId: 'a', challenge: 'AAAA', signature: 'x'.repeat(300_000) })),
        413,
        'ERR_BAD_REQUEST',
      ],
    ];
    for (const [path, body, status, code] of cases) {
      const r = await c.raw('POST', path, body, { 'content-type': 'application/json' });
      assert.equal(r.status, status, `${path} ${String(body).slice(0, 40)}`);
      assert.equal(JSON.parse(r.body.toString()).error.code, code);
    }
    for (const body of [
      { retentionDays: 0 },
      { retentionDays: 366 },
      { retentionDays: '30' },
      { level: 'loud' },
      { sizeMb: 3 },
      {},
    ]) {
      const r = await c.raw('PUT', '/api/running-log/settings', Buffer.from(JSON.stringify(body)), {
        'content-type': 'application/json',
      });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(JSON.parse(r.body.toString()).error.code, 'ERR_BAD_REQUEST');
    }
    const r = await c.raw('GET', '/api/logs/manager?from=yesterday-at-noon');
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body.toString()).error.code, 'ERR_TIME_FORMAT');
    assert.deepEqual(await c.get('/api/running-log/settings'), before);
  });

  it('stopping the service ends every session; the token does not work on the restarted service', async () => {
    const c = await dev.admin('D1');
    const b1 = dev.init.card('B1');
    await dev.api.post('/api/service/stop', { card: card('B1'), pin: b1.pin });
    assert.equal(dev.daemon.management?.url, null);
    const start = await dev.api.post<{ token: string }>('/api/service/start/auth', {
      card: card('B1'),
      pin: b1.pin,
    });
    await dev.api.post('/api/service/start', {
      token: start.token,
      mNet0: { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: null },
      aNet1: { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: null },
    });
    const { AdminClient } = await import('@coffer/cli');
    const again = new AdminClient(dev.daemon.management!.url!, { caPem: dev.caPem, minCardIterations: 1000 });
    again.token = c.token;
    try {
      await refusal(again.get('/api/session'), 'ERR_SESSION_REQUIRED');
    } finally {
      again.close();
    }
  });
});
