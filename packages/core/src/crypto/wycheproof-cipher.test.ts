import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCofferError } from '../errors.js';
import { type BlockCipher, decryptSymmetric, encryptSymmetric, isCipherModeAvailable } from './cipher.js';

// Wycheproof aes_gcm, sm4_gcm, aes_cbc_pkcs5 (Apache-2.0, test/vectors/wycheproof/LICENSE).
interface CipherTest {
  tcId: number;
  comment: string;
  key: string;
  iv: string;
  aad?: string;
  msg: string;
  ct: string;
  tag?: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface CipherFile {
  testGroups: { ivSize: number; tests: CipherTest[] }[];
}
function load(name: string): CipherFile {
  const path = fileURLToPath(new URL(`../../../../test/vectors/wycheproof/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as CipherFile;
}
const hex = (s: string | undefined) => Buffer.from(s ?? '', 'hex');

function refusedWith(fn: () => unknown, ...codes: string[]): boolean {
  try {
    fn();
    return false;
  } catch (error) {
    return isCofferError(error) && codes.includes(error.code);
  }
}

function runGcm(cipher: BlockCipher, file: CipherFile): number {
  let checked = 0;
  for (const group of file.testGroups) {
    for (const t of group.tests) {
      const key = hex(t.key);
      const request = { cipher, mode: 'gcm' as const, key, iv: hex(t.iv), aad: hex(t.aad) };
      const label = `tcId ${t.tcId} (${t.comment})`;
      if (group.ivSize !== 96) {
        // The device offers 96-bit GCM IVs only (SP 800-38D §8.2.1): every other size is refused up front.
        assert.ok(
          refusedWith(() => encryptSymmetric({ ...request, data: hex(t.msg) }), 'ERR_CRYPTO_INPUT'),
          label,
        );
        assert.ok(
          refusedWith(
            () => decryptSymmetric({ ...request, data: hex(t.ct), tag: hex(t.tag) }),
            'ERR_CRYPTO_INPUT',
          ),
          label,
        );
      } else if (t.result === 'valid') {
        const out = encryptSymmetric({ ...request, data: hex(t.msg) });
        assert.equal(out.ciphertext.toString('hex'), t.ct, label);
        assert.equal(out.tag!.toString('hex'), t.tag, label);
        assert.equal(
          decryptSymmetric({ ...request, data: hex(t.ct), tag: hex(t.tag) }).toString('hex'),
          t.msg,
          label,
        );
      } else {
        assert.ok(
          refusedWith(
            () => decryptSymmetric({ ...request, data: hex(t.ct), tag: hex(t.tag) }),
            'ERR_CIPHERTEXT',
            'ERR_CRYPTO_INPUT',
          ),
          label,
        );
      }
      checked++;
    }
  }
  return checked;
}

describe('symmetric ciphers against Wycheproof', () => {
  it('aes_gcm_test.json: every 96-bit-IV case encrypts and opens as listed, every other IV size is refused', () => {
    assert.equal(runGcm('aes', load('aes_gcm_test.json')), 316);
  });

  it('aes_cbc_pkcs5_test.json: valid cases encrypt and decrypt as listed, invalid paddings are refused', () => {
    let checked = 0;
    for (const group of load('aes_cbc_pkcs5_test.json').testGroups) {
      for (const t of group.tests) {
        const request = { cipher: 'aes' as const, mode: 'cbc' as const, key: hex(t.key), iv: hex(t.iv) };
        const label = `tcId ${t.tcId} (${t.comment})`;
        if (t.result === 'valid') {
          assert.equal(
            encryptSymmetric({ ...request, data: hex(t.msg) }).ciphertext.toString('hex'),
            t.ct,
            label,
          );
          assert.equal(decryptSymmetric({ ...request, data: hex(t.ct) }).toString('hex'), t.msg, label);
        } else {
          assert.ok(
            refusedWith(
              () => decryptSymmetric({ ...request, data: hex(t.ct) }),
              'ERR_CIPHERTEXT',
              'ERR_CRYPTO_INPUT',
            ),
            label,
          );
        }
        checked++;
      }
    }
    assert.equal(checked, 216);
  });

  it('sm4_gcm_test.json: runs in full where the platform offers SM4-GCM, and is refused with ERR_ALGORITHM where it does not', () => {
    const file = load('sm4_gcm_test.json');
    if (isCipherModeAvailable('sm4', 'gcm')) {
      assert.equal(runGcm('sm4', file), 104);
      return;
    }
    const t = file.testGroups[0]!.tests[0]!;
    assert.ok(
      refusedWith(
        () =>
          encryptSymmetric({ cipher: 'sm4', mode: 'gcm', key: hex(t.key), iv: hex(t.iv), data: hex(t.msg) }),
        'ERR_ALGORITHM',
      ),
    );
  });
});
