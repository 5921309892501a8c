import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginThrottle } from './login-throttle.js';

const policy = { freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 8000, forgetAfterMs: 60_000 };

describe('LoginThrottle', () => {
  it('three failures cost nothing; then the wait doubles with each failure up to the cap', () => {
    const t = new LoginThrottle(policy, () => 0);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => t.delayAfter(n)),
      [0, 0, 0, 1000, 2000, 4000, 8000, 8000],
    );
  });

  it('after the fourth failure a card must wait a second from that failure', () => {
    let now = 0;
    const t = new LoginThrottle(policy, () => now);
    for (let i = 0; i < 4; i++) t.fail(['card:a', 'ip:1']);
    assert.equal(t.retryAfterMs(['card:a']), 1000);
    assert.equal(t.retryAfterMs(['card:b', 'ip:1']), 1000, 'the same IP with another card waits too');
    assert.equal(t.retryAfterMs(['card:b', 'ip:2']), 0);
    now = 600;
    assert.equal(t.retryAfterMs(['card:a']), 400);
    now = 1000;
    assert.equal(t.retryAfterMs(['card:a']), 0);
  });

  it('a success clears the card and the IP', () => {
    const t = new LoginThrottle(policy, () => 0);
    for (let i = 0; i < 5; i++) t.fail(['card:a', 'ip:1']);
    t.succeed(['card:a', 'ip:1']);
    assert.equal(t.retryAfterMs(['card:a', 'ip:1']), 0);
  });

  it('failures long past are forgotten', () => {
    let now = 0;
    const t = new LoginThrottle(policy, () => now);
    for (let i = 0; i < 8; i++) t.fail(['card:a']);
    now = 60_001;
    assert.equal(t.retryAfterMs(['card:a']), 0);
    t.fail(['card:a']);
    assert.equal(t.retryAfterMs(['card:a']), 0, 'counting starts again');
  });
});
