import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkPinVerifier, makePinVerifier } from './pin-verifier.js';

describe('MK-part PIN verifiers', () => {
  it('are scrypt$32768$8$1$salt$hash with a 16-byte salt and a 32-byte hash', async () => {
    const v = await makePinVerifier('1234ABCD');
    const [alg, N, r, p, salt, hash] = v.split('$');
    assert.deepEqual([alg, N, r, p], ['scrypt', '32768', '8', '1']);
    assert.equal(Buffer.from(salt!, 'base64').length, 16);
    assert.equal(Buffer.from(hash!, 'base64').length, 32);
    const want = scryptSync('1234ABCD', Buffer.from(salt!, 'base64'), 32, {
      N: 32768,
      r: 8,
      p: 1,
      maxmem: 64 << 20,
    });
    assert.equal(hash, want.toString('base64'));
  });

  it('accept the PIN they were made from', async () => {
    assert.equal(await checkPinVerifier('1234ABCD', await makePinVerifier('1234ABCD')), true);
  });

  it('refuse another PIN, including the same PIN in another case', async () => {
    const v = await makePinVerifier('1234ABCD');
    assert.equal(await checkPinVerifier('1234ABCE', v), false);
    assert.equal(await checkPinVerifier('1234abcd', v), false);
    assert.equal(await checkPinVerifier('', v), false);
  });

  it('differ for the same PIN (random salt)', async () => {
    assert.notEqual(await makePinVerifier('1234ABCD'), await makePinVerifier('1234ABCD'));
  });

  it('say false, without throwing, for malformed verifiers', async () => {
    const v = await makePinVerifier('1234ABCD');
    const parts = v.split('$');
    const bad = [
      '',
      'scrypt',
      v.replace('scrypt', 'bcrypt'),
      `${v}$extra`,
      [...parts.slice(0, 4), '!!!', parts[5]].join('$'),
      [...parts.slice(0, 5), parts[5]!.slice(4)].join('$'),
      [parts[0], '1000', ...parts.slice(2)].join('$'), // N not a power of two
      [parts[0], '0', ...parts.slice(2)].join('$'),
      [parts[0], '-32768', ...parts.slice(2)].join('$'),
      null as unknown as string,
    ];
    for (const b of bad) assert.equal(await checkPinVerifier('1234ABCD', b), false, String(b));
  });

  it('refuse, without running it, a verifier whose cost an edited store has raised out of bounds', async () => {
    const v = await makePinVerifier('1234ABCD');
    const parts = v.split('$');
    const huge = [parts[0], String(2 ** 30), ...parts.slice(2)].join('$');
    const heavy = [parts[0], String(2 ** 20), '16', ...parts.slice(3)].join('$');
    const started = Date.now();
    assert.equal(await checkPinVerifier('1234ABCD', huge), false);
    assert.equal(await checkPinVerifier('1234ABCD', heavy), false); // 2 GiB of memory
    assert.ok(Date.now() - started < 1000);
  });

  it('accept a verifier with other in-bounds parameters (the cost can change later)', async () => {
    const salt = Buffer.alloc(16, 7);
    const hash = scryptSync('1234ABCD', salt, 32, { N: 1024, r: 8, p: 1 });
    const v = ['scrypt', 1024, 8, 1, salt.toString('base64'), hash.toString('base64')].join('$');
    assert.equal(await checkPinVerifier('1234ABCD', v), true);
  });
});
