import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decryptSymmetric, encryptSymmetric } from './cipher.js';

// GB/T 32907-2016 (SM4) Appendix A, example 1: key = plaintext = 0123456789abcdeffedcba9876543210.
// (Example 2, the same block encrypted 1,000,000 times, takes about a second even on a bare OpenSSL
// context and proves nothing more about this wrapper, so it is not run.)
const key = Buffer.from('0123456789abcdeffedcba9876543210', 'hex');

describe('SM4 against GB/T 32907-2016 Appendix A', () => {
  it('example 1: one block encrypts to 681edf34…536e4246 and decrypts back', () => {
    const { ciphertext } = encryptSymmetric({ cipher: 'sm4', mode: 'ecb', key, data: key, padding: 'none' });
    assert.equal(ciphertext.toString('hex'), '681edf34d206965e86b3e94f536e4246');
    assert.deepEqual(
      decryptSymmetric({ cipher: 'sm4', mode: 'ecb', key, data: ciphertext, padding: 'none' }),
      key,
    );
  });
});
