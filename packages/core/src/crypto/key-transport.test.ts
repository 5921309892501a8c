import assert from 'node:assert/strict';
import { createPrivateKey, createSecretKey, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import { exportPublicKeyPem, importPublicKey } from './asymmetric-keys.js';
import {
  generateDataKey,
  unwrapKeyMaterial,
  WRAP_ALGORITHMS,
  type WrapAlgorithm,
  wrapKeyMaterial,
} from './key-transport.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const sm2 = createPrivateKey({
  key: generateKeyPairSync('ec', { namedCurve: 'SM2' }).privateKey.export({ type: 'pkcs8', format: 'der' }),
  format: 'der',
  type: 'pkcs8',
});
const aes = createSecretKey(Buffer.alloc(32, 9));
const kekFor = (a: WrapAlgorithm) => (a.startsWith('aes') ? aes : a === 'sm2' ? sm2 : rsa);
const refusedWith = (code: string) => (e: unknown) => isCofferError(e) && e.code === code;

describe('generateDataKey / wrapKeyMaterial / unwrapKeyMaterial', () => {
  for (const algorithm of WRAP_ALGORITHMS) {
    it(`${algorithm}: a generated data key unwraps to its plaintext, and a fresh one differs`, () => {
      const { plaintext, wrapped } = generateDataKey(algorithm, kekFor(algorithm), 32);
      assert.equal(plaintext.length, 32);
      assert.deepEqual(unwrapKeyMaterial(algorithm, kekFor(algorithm), wrapped), plaintext);
      assert.notDeepEqual(generateDataKey(algorithm, kekFor(algorithm), 32).plaintext, plaintext);
    });
  }

  it('rsa-oaep-sha256 wrapping under the public key opens with Node’s privateDecrypt', () => {
    const wrapped = wrapKeyMaterial(
      'rsa-oaep-sha256',
      importPublicKey(exportPublicKeyPem(rsa)),
      Buffer.alloc(16, 1),
    );
    assert.deepEqual(privateDecrypt({ key: rsa, oaepHash: 'sha256' }, wrapped), Buffer.alloc(16, 1));
  });

  it('aes-kw refuses material that is not whole 8-byte blocks of at least 16; aes-kwp takes it', () => {
    for (const n of [8, 17, 20]) {
      assert.throws(() => wrapKeyMaterial('aes-kw', aes, Buffer.alloc(n)), refusedWith('ERR_CRYPTO_INPUT'));
      assert.equal(
        unwrapKeyMaterial('aes-kwp', aes, wrapKeyMaterial('aes-kwp', aes, Buffer.alloc(n, 3))).length,
        n,
      );
    }
  });

  it('a wrapped key under another KEK, or changed, is refused with ERR_CIPHERTEXT', () => {
    const wrapped = wrapKeyMaterial('aes-kwp', aes, Buffer.alloc(24, 1));
    assert.throws(
      () => unwrapKeyMaterial('aes-kwp', createSecretKey(Buffer.alloc(32, 8)), wrapped),
      refusedWith('ERR_CIPHERTEXT'),
    );
    assert.throws(() => unwrapKeyMaterial('aes-kw', aes, wrapped), refusedWith('ERR_CIPHERTEXT'));
  });

  it('refuses a KEK of the wrong kind and bad lengths', () => {
    assert.throws(
      () => wrapKeyMaterial('rsa-oaep-sha1', aes, Buffer.alloc(16)),
      refusedWith('ERR_ALGORITHM'),
    );
    assert.throws(
      () => wrapKeyMaterial('aes-kw', Buffer.alloc(20), Buffer.alloc(16)),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(() => generateDataKey('aes-kwp', aes, 0), refusedWith('ERR_CRYPTO_INPUT'));
    assert.throws(() => unwrapKeyMaterial('aes-kw', aes, Buffer.alloc(20)), refusedWith('ERR_CRYPTO_INPUT'));
  });
});
