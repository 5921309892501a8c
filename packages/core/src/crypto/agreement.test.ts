import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, hkdfSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import { deriveSharedSecret } from './agreement.js';
import { exportPublicKeyPem, importPublicKey } from './asymmetric-keys.js';

const refusedWith = (code: string) => (e: unknown) => isCofferError(e) && e.code === code;

describe('deriveSharedSecret', () => {
  for (const [curve, bytes] of [
    ['P-256', 32],
    ['P-384', 48],
  ] as const) {
    it(`${curve}: both sides derive the same x-coordinate, and HKDF over it matches Node's hkdfSync`, () => {
      const a = generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
      const b = generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
      const ab = deriveSharedSecret(a, importPublicKey(exportPublicKeyPem(b)));
      assert.equal(ab.length, bytes);
      assert.deepEqual(deriveSharedSecret(b, createPublicKey(a)), ab);
      const salt = Buffer.from('salt');
      const info = Buffer.from('coffer test');
      const derived = deriveSharedSecret(a, createPublicKey(b), {
        kdf: 'hkdf-sha256',
        salt,
        info,
        length: 16,
      });
      assert.deepEqual(derived, Buffer.from(hkdfSync('sha256', ab, salt, info, 16)));
    });
  }

  it('refuses a peer on another curve with ERR_CRYPTO_INPUT and a non-EC key with ERR_ALGORITHM', () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const other = createPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    assert.throws(() => deriveSharedSecret(a, other), refusedWith('ERR_CRYPTO_INPUT'));
    assert.throws(
      () => deriveSharedSecret(generateKeyPairSync('ed25519').privateKey, other),
      refusedWith('ERR_ALGORITHM'),
    );
    assert.throws(
      () => deriveSharedSecret(a, createPublicKey(a), { salt: Buffer.alloc(1) }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
  });
});
