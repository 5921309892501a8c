import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import {
  type BlockCipher,
  type CipherMode,
  decryptSymmetric,
  encryptSymmetric,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
} from './cipher.js';

const refusedWith = (code: string) => (e: unknown) => isCofferError(e) && e.code === code;
const aes128 = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
const block1 = Buffer.from('6bc1bee22e409f96e93d7e117393172a', 'hex');

function opensslEnc(cipher: string, key: Buffer, iv: Buffer | undefined, data: Buffer): string {
  const args = ['enc', `-${cipher}`, '-K', key.toString('hex'), ...(iv ? ['-iv', iv.toString('hex')] : [])];
  const r = spawnSync('openssl', args, { input: data });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString('hex');
}

describe('encryptSymmetric / decryptSymmetric', () => {
  it('AES-128 ECB and CTR give the NIST SP 800-38A F.1.1 and F.5.1 first blocks', () => {
    const ecb = encryptSymmetric({ cipher: 'aes', mode: 'ecb', key: aes128, data: block1, padding: 'none' });
    assert.equal(ecb.ciphertext.toString('hex'), '3ad77bb40d7a3660a89ecaf32466ef97');
    assert.equal(ecb.iv, undefined);
    const iv = Buffer.from('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 'hex');
    const ctr = encryptSymmetric({ cipher: 'aes', mode: 'ctr', key: aes128, iv, data: block1 });
    assert.equal(ctr.ciphertext.toString('hex'), '874d6191b620e3261bef6864990db6ce');
  });

  for (const [cipher, mode, key, name] of [
    ['sm4', 'cbc', Buffer.alloc(16, 7), 'sm4-cbc'],
    ['sm4', 'ctr', Buffer.alloc(16, 7), 'sm4-ctr'],
    ['3des', 'cbc', Buffer.from('0123456789abcdeffedcba987654321089abcdef01234567', 'hex'), 'des-ede3-cbc'],
    ['3des', 'cbc', Buffer.from('0123456789abcdeffedcba9876543210', 'hex'), 'des-ede-cbc'],
  ] as const) {
    it(`${cipher.toUpperCase()}-${mode.toUpperCase()} (${key.length}-byte key) matches openssl enc -${name}`, () => {
      const data = Buffer.from('The quick brown fox jumps over the lazy dog');
      const out = encryptSymmetric({ cipher, mode, key, data });
      assert.equal(out.ciphertext.toString('hex'), opensslEnc(name, key, out.iv, data));
      assert.deepEqual(decryptSymmetric({ cipher, mode, key, iv: out.iv, data: out.ciphertext }), data);
    });
  }

  it('3DES-ECB matches openssl enc -des-ede3-ecb', () => {
    const key = Buffer.from('0123456789abcdeffedcba987654321089abcdef01234567', 'hex');
    const data = Buffer.from('sixteen byte msg');
    const out = encryptSymmetric({ cipher: '3des', mode: 'ecb', key, data });
    assert.equal(out.ciphertext.toString('hex'), opensslEnc('des-ede3-ecb', key, undefined, data));
  });

  const cases: [BlockCipher, CipherMode, number][] = [
    ['aes', 'gcm', 16],
    ['aes', 'gcm', 24],
    ['aes', 'gcm', 32],
    ['aes', 'cbc', 32],
    ['aes', 'ctr', 24],
    ['aes', 'ecb', 16],
    ['sm4', 'cbc', 16],
    ['sm4', 'ctr', 16],
    ['sm4', 'ecb', 16],
    ['3des', 'cbc', 24],
    ['3des', 'ecb', 16],
  ];
  for (const [cipher, mode, keyBytes] of cases) {
    it(`${cipher}-${mode} with a ${keyBytes}-byte key generates an IV when none is given and round-trips empty and odd-length data`, () => {
      const key = createSecretKey(Buffer.alloc(keyBytes, 1));
      for (const data of [Buffer.alloc(0), Buffer.from('seventeen bytes!!')]) {
        const out = encryptSymmetric({
          cipher,
          mode,
          key,
          data,
          aad: mode === 'gcm' ? Buffer.from('context') : undefined,
        });
        if (mode === 'ecb') assert.equal(out.iv, undefined);
        else assert.equal(out.iv!.length, mode === 'gcm' ? GCM_IV_BYTES : cipher === '3des' ? 8 : 16);
        if (mode === 'gcm') assert.equal(out.tag!.length, GCM_TAG_BYTES);
        const back = decryptSymmetric({
          cipher,
          mode,
          key,
          iv: out.iv,
          tag: out.tag,
          data: out.ciphertext,
          aad: mode === 'gcm' ? Buffer.from('context') : undefined,
        });
        assert.deepEqual(back, data);
      }
    });
  }

  it('two encryptions without an IV use different IVs', () => {
    const a = encryptSymmetric({ cipher: 'aes', mode: 'gcm', key: aes128, data: block1 });
    const b = encryptSymmetric({ cipher: 'aes', mode: 'gcm', key: aes128, data: block1 });
    assert.notDeepEqual(a.iv, b.iv);
  });

  it('a GCM ciphertext with a changed tag, AAD or byte is refused with ERR_CIPHERTEXT', () => {
    const out = encryptSymmetric({
      cipher: 'aes',
      mode: 'gcm',
      key: aes128,
      data: block1,
      aad: Buffer.from('a'),
    });
    const base = {
      cipher: 'aes' as const,
      mode: 'gcm' as const,
      key: aes128,
      iv: out.iv,
      tag: out.tag,
      data: out.ciphertext,
      aad: Buffer.from('a'),
    };
    assert.throws(() => decryptSymmetric({ ...base, aad: Buffer.from('b') }), refusedWith('ERR_CIPHERTEXT'));
    assert.throws(() => decryptSymmetric({ ...base, tag: Buffer.alloc(16) }), refusedWith('ERR_CIPHERTEXT'));
    const flipped = Buffer.from(out.ciphertext);
    flipped[0]! ^= 1;
    assert.throws(() => decryptSymmetric({ ...base, data: flipped }), refusedWith('ERR_CIPHERTEXT'));
  });

  it('refuses wrong shapes with ERR_CRYPTO_INPUT: key and IV lengths, ECB with an IV, unpadded partial blocks, a missing tag, AAD outside GCM', () => {
    assert.throws(
      () => encryptSymmetric({ cipher: 'aes', mode: 'cbc', key: Buffer.alloc(20), data: block1 }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(
      () => encryptSymmetric({ cipher: 'aes', mode: 'gcm', key: aes128, iv: Buffer.alloc(16), data: block1 }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(
      () => encryptSymmetric({ cipher: 'aes', mode: 'ecb', key: aes128, iv: Buffer.alloc(16), data: block1 }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(
      () =>
        encryptSymmetric({
          cipher: 'aes',
          mode: 'cbc',
          key: aes128,
          data: Buffer.alloc(15),
          padding: 'none',
        }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(
      () => encryptSymmetric({ cipher: 'aes', mode: 'ctr', key: aes128, data: block1, padding: 'pkcs7' }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(
      () => encryptSymmetric({ cipher: 'aes', mode: 'cbc', key: aes128, data: block1, aad: Buffer.alloc(1) }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(
      () => decryptSymmetric({ cipher: 'aes', mode: 'gcm', key: aes128, iv: Buffer.alloc(12), data: block1 }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(
      () => decryptSymmetric({ cipher: 'aes', mode: 'cbc', key: aes128, data: block1 }),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
  });

  it('refuses modes a cipher does not have with ERR_ALGORITHM (3DES-CTR, 3DES-GCM)', () => {
    const key = Buffer.alloc(24, 1);
    assert.throws(
      () => encryptSymmetric({ cipher: '3des', mode: 'ctr', key, data: block1 }),
      refusedWith('ERR_ALGORITHM'),
    );
    assert.throws(
      () => encryptSymmetric({ cipher: '3des', mode: 'gcm', key, data: block1 }),
      refusedWith('ERR_ALGORITHM'),
    );
    assert.throws(
      () => encryptSymmetric({ cipher: 'des' as BlockCipher, mode: 'cbc', key, data: block1 }),
      refusedWith('ERR_ALGORITHM'),
    );
  });
});
