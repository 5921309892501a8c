import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCofferError } from '../errors.js';
import { type AsymmetricEncryption, decryptAsymmetric } from './asym-encrypt.js';

// Wycheproof rsa_pkcs1_2048, rsa_oaep_2048_sha1_mgf1sha1, rsa_oaep_2048_sha256_mgf1sha256
// (Apache-2.0, test/vectors/wycheproof/LICENSE).
interface DecryptFile {
  testGroups: {
    privateKeyPkcs8: string;
    tests: { tcId: number; comment: string; msg: string; ct: string; label?: string; result: string }[];
  }[];
}
function load(name: string): DecryptFile {
  const path = fileURLToPath(new URL(`../../../../test/vectors/wycheproof/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as DecryptFile;
}

function run(name: string, scheme: AsymmetricEncryption): number {
  let checked = 0;
  for (const group of load(name).testGroups) {
    const key = createPrivateKey({
      key: Buffer.from(group.privateKeyPkcs8, 'hex'),
      format: 'der',
      type: 'pkcs8',
    });
    for (const t of group.tests) {
      const label = `${name} tcId ${t.tcId} (${t.comment})`;
      const options = t.label ? { label: Buffer.from(t.label, 'hex') } : {};
      const decrypt = () => decryptAsymmetric(scheme, key, Buffer.from(t.ct, 'hex'), options);
      if (t.result === 'valid') {
        assert.equal(decrypt().toString('hex'), t.msg, label);
      } else if (t.result === 'invalid') {
        assert.throws(
          decrypt,
          (e) => isCofferError(e) && ['ERR_CIPHERTEXT', 'ERR_CRYPTO_INPUT'].includes(e.code),
          label,
        );
      }
      checked++;
    }
  }
  return checked;
}

describe('RSA decryption against Wycheproof', () => {
  it('rsa_pkcs1_2048_test.json: valid ciphertexts open, every bad padding is the one refusal', () => {
    assert.equal(run('rsa_pkcs1_2048_test.json', 'rsa-pkcs1'), 67);
  });
  it('rsa_oaep_2048_sha1_mgf1sha1_test.json, with labels', () => {
    assert.equal(run('rsa_oaep_2048_sha1_mgf1sha1_test.json', 'rsa-oaep-sha1'), 36);
  });
  it('rsa_oaep_2048_sha256_mgf1sha256_test.json, with labels', () => {
    assert.equal(run('rsa_oaep_2048_sha256_mgf1sha256_test.json', 'rsa-oaep-sha256'), 37);
  });
});
