import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import {
  computeMac,
  MAC_ALGORITHMS,
  type MacAlgorithm,
  MIN_MAC_BYTES,
  macLength,
  verifyMacTag,
} from './mac.js';

const KEYS: Record<MacAlgorithm, Buffer> = {
  'hmac-sha256': Buffer.alloc(32, 1),
  'hmac-sha384': Buffer.alloc(48, 2),
  'hmac-sha512': Buffer.alloc(64, 3),
  'hmac-sm3': Buffer.alloc(32, 4),
  'aes-cmac': Buffer.alloc(32, 5),
  'sm4-cmac': Buffer.from('0123456789abcdeffedcba9876543210', 'hex'),
  '3des-cmac': Buffer.from('0123456789abcdeffedcba987654321089abcdef01234567', 'hex'),
};

function opensslCmac(cipher: string, key: Buffer, data: Buffer): string {
  const r = spawnSync(
    'openssl',
    ['mac', '-cipher', cipher, '-macopt', `hexkey:${key.toString('hex')}`, 'CMAC'],
    { input: data },
  );
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString().trim().toLowerCase();
}

describe('computeMac / verifyMacTag', () => {
  for (const [algorithm, cipher] of [
    ['sm4-cmac', 'SM4-CBC'],
    ['3des-cmac', 'DES-EDE3-CBC'],
  ] as const) {
    it(`${algorithm} matches openssl mac CMAC over empty, one-block and partial-block messages`, () => {
      for (const data of [Buffer.alloc(0), Buffer.alloc(16, 0x61), Buffer.from('abc')]) {
        assert.equal(
          computeMac(algorithm, KEYS[algorithm], data).toString('hex'),
          opensslCmac(cipher, KEYS[algorithm], data),
        );
      }
    });
  }

  for (const algorithm of MAC_ALGORITHMS) {
    it(`${algorithm}: a full and a truncated MAC verify, a changed one or one shorter than ${MIN_MAC_BYTES} bytes does not`, () => {
      const key = createSecretKey(KEYS[algorithm]);
      const data = Buffer.from('message');
      const mac = computeMac(algorithm, key, data);
      assert.equal(mac.length, macLength(algorithm));
      assert.equal(verifyMacTag(algorithm, key, data, mac).valid, true);
      assert.equal(
        verifyMacTag(algorithm, key, data, computeMac(algorithm, key, data, MIN_MAC_BYTES)).valid,
        true,
      );
      assert.equal(verifyMacTag(algorithm, key, data, mac.subarray(0, MIN_MAC_BYTES - 1)).valid, false);
      assert.equal(verifyMacTag(algorithm, key, Buffer.from('messagf'), mac).valid, false);
      assert.equal(verifyMacTag(algorithm, key, data, Buffer.concat([mac, Buffer.alloc(1)])).valid, false);
    });
  }

  it('refuses a truncation shorter than the minimum and a key of the wrong length with ERR_CRYPTO_INPUT', () => {
    const refused = (e: unknown) => isCofferError(e) && e.code === 'ERR_CRYPTO_INPUT';
    assert.throws(() => computeMac('hmac-sha256', KEYS['hmac-sha256'], Buffer.alloc(1), 4), refused);
    assert.throws(() => computeMac('aes-cmac', Buffer.alloc(15), Buffer.alloc(1)), refused);
    assert.throws(() => computeMac('sm4-cmac', Buffer.alloc(32), Buffer.alloc(1)), refused);
  });
});
