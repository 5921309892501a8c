import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChallengeStore, SessionStore } from './sessions.js';

const who = {
  account: 'adminD1',
  role: 'audit-manager' as const,
  cardId: 'card-d1',
  slot: 'D1',
  clientIp: '127.0.0.1',
};

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'none';
}

describe('SessionStore', () => {
  it('a session used within the idle time stays open, and each use starts the idle time again', () => {
    let now = 0;
    const sessions = new SessionStore(1000, () => now);
    const { token } = sessions.open(who);
    now = 900;
    assert.equal(sessions.use(token, '127.0.0.1').account, 'adminD1');
    now = 1800;
    assert.equal(sessions.use(token, '127.0.0.1').account, 'adminD1');
  });

  it('a session idle for longer than the idle time is refused with ERR_SESSION_EXPIRED, then is unknown', () => {
    let now = 0;
    const sessions = new SessionStore(1000, () => now);
    const { token } = sessions.open(who);
    now = 1001;
    assert.equal(
      code(() => sessions.use(token, '127.0.0.1')),
      'ERR_SESSION_EXPIRED',
    );
    assert.equal(
      code(() => sessions.use(token, '127.0.0.1')),
      'ERR_SESSION_REQUIRED',
    );
  });

  it('a session swept while idle still answers ERR_SESSION_EXPIRED once', () => {
    let now = 0;
    const sessions = new SessionStore(1000, () => now);
    const { token } = sessions.open(who);
    now = 5000;
    sessions.open(who); // sweeps
    assert.equal(
      code(() => sessions.use(token, '127.0.0.1')),
      'ERR_SESSION_EXPIRED',
    );
  });

  it('no token, an unknown token, a token used from another address and a logged-out token are ERR_SESSION_REQUIRED', () => {
    const sessions = new SessionStore();
    const { token } = sessions.open(who);
    assert.equal(
      code(() => sessions.use(null, '127.0.0.1')),
      'ERR_SESSION_REQUIRED',
    );
    assert.equal(
      code(() => sessions.use('x'.repeat(43), '127.0.0.1')),
      'ERR_SESSION_REQUIRED',
    );
    assert.equal(
      code(() => sessions.use(token, '127.0.0.2')),
      'ERR_SESSION_REQUIRED',
    );
    assert.equal(sessions.end(token), true);
    assert.equal(
      code(() => sessions.use(token, '127.0.0.1')),
      'ERR_SESSION_REQUIRED',
    );
  });

  it('tokens are 256-bit random values, different each time', () => {
    const sessions = new SessionStore();
    const a = sessions.open(who).token;
    const b = sessions.open(who).token;
    assert.equal(Buffer.from(a, 'base64url').length, 32);
    assert.notEqual(a, b);
  });
});

describe('ChallengeStore', () => {
  it('a challenge answers once for its card; a second use is refused with ERR_CHALLENGE', () => {
    const challenges = new ChallengeStore();
    const { challenge } = challenges.issue('card-1');
    assert.equal(challenge.length, 32);
    assert.deepEqual(challenges.take(challenge.toString('base64'), 'card-1'), challenge);
    assert.equal(
      code(() => challenges.take(challenge.toString('base64'), 'card-1')),
      'ERR_CHALLENGE',
    );
  });

  it('a challenge for another card is refused with ERR_CHALLENGE and is used up', () => {
    const challenges = new ChallengeStore();
    const { challenge } = challenges.issue('card-1');
    assert.equal(
      code(() => challenges.take(challenge.toString('base64'), 'card-2')),
      'ERR_CHALLENGE',
    );
    assert.equal(
      code(() => challenges.take(challenge.toString('base64'), 'card-1')),
      'ERR_CHALLENGE',
    );
  });

  it('a challenge older than its time to live is refused with ERR_CHALLENGE', () => {
    let now = 0;
    const challenges = new ChallengeStore(() => now, 60_000);
    const { challenge, expiresAt } = challenges.issue('card-1');
    assert.equal(expiresAt, 60_000);
    now = 60_001;
    assert.equal(
      code(() => challenges.take(challenge.toString('base64'), 'card-1')),
      'ERR_CHALLENGE',
    );
  });

  it('a challenge the device never issued is refused with ERR_CHALLENGE', () => {
    const challenges = new ChallengeStore();
    assert.equal(
      code(() => challenges.take(Buffer.alloc(32, 7).toString('base64'), 'card-1')),
      'ERR_CHALLENGE',
    );
  });
});
