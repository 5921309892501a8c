import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { CeremonyTokens } from './ceremony-tokens.js';
import { DeviceClock } from './clock.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CofferError);
    return error.code;
  }
  return 'none';
}

describe('ceremony tokens', () => {
  it('carry a ceremony to its next step, and only that ceremony', () => {
    let now = 0;
    const tokens = new CeremonyTokens(() => now);
    const t = tokens.issue(
      { kind: 'auth2boot', account: 'adminA1', slot: 'A1', cardId: 'c', share: Buffer.from([1, 2, 3]) },
      1000,
    );
    assert.equal(tokens.peek(t, 'auth2boot').slot, 'A1');
    assert.equal(
      code(() => tokens.peek(t, 'reinit')),
      'ERR_CEREMONY_UNKNOWN',
    );
    assert.equal(
      code(() => tokens.peek('forged', 'auth2boot')),
      'ERR_CEREMONY_UNKNOWN',
    );
    now = 1000;
    assert.equal(
      code(() => tokens.peek(t, 'auth2boot')),
      'ERR_CEREMONY_EXPIRED',
    );
    assert.equal(
      code(() => tokens.peek(t, 'auth2boot')),
      'ERR_CEREMONY_UNKNOWN',
    );
  });

  it('wipe the share they hold when they end', () => {
    const share = Buffer.from([9, 9, 9]);
    const tokens = new CeremonyTokens(() => 0);
    const t = tokens.issue({ kind: 'auth2boot', account: 'a', slot: 'A1', cardId: 'c', share }, 1000);
    tokens.end(t);
    assert.deepEqual([...share], [0, 0, 0]);
  });
});

describe('the device clock', () => {
  it('adds the System Time offset to the host clock and never changes the host clock', () => {
    let host = 1_000_000;
    const clock = new DeviceClock(() => host);
    clock.setTime(new Date(5_000_000));
    assert.equal(clock.now().getTime(), 5_000_000);
    host += 10;
    assert.equal(clock.now().getTime(), 5_000_010);
    assert.equal(clock.offsetMs, 4_000_000);
    assert.equal(clock.offsetFor(new Date(1_000_010)), 0);
  });
});
