import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCofferError } from '../errors.js';
import { computeMac, type MacAlgorithm, verifyMacTag } from './mac.js';

// Wycheproof aes_cmac, hmac_sha256/384/512, hmac_sm3 (Apache-2.0, test/vectors/wycheproof/LICENSE).
interface MacFile {
  testGroups: {
    keySize: number;
    tagSize: number;
    tests: { tcId: number; comment: string; key: string; msg: string; tag: string; result: string }[];
  }[];
}
function load(name: string): MacFile {
  const path = fileURLToPath(new URL(`../../../../test/vectors/wycheproof/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as MacFile;
}

function run(algorithm: MacAlgorithm, file: MacFile): number {
  let checked = 0;
  for (const group of file.testGroups) {
    for (const t of group.tests) {
      const key = Buffer.from(t.key, 'hex');
      const msg = Buffer.from(t.msg, 'hex');
      const tag = Buffer.from(t.tag, 'hex');
      const label = `tcId ${t.tcId} (${t.comment})`;
      if (t.result === 'valid') {
        assert.equal(computeMac(algorithm, key, msg, tag.length).toString('hex'), t.tag, label);
        assert.equal(verifyMacTag(algorithm, key, msg, tag).valid, true, label);
      } else {
        let valid: boolean;
        try {
          valid = verifyMacTag(algorithm, key, msg, tag).valid;
        } catch (error) {
          // An AES key of a size AES does not have is refused before any MAC is computed.
          assert.ok(isCofferError(error) && error.code === 'ERR_CRYPTO_INPUT', label);
          valid = false;
        }
        assert.equal(valid, false, label);
      }
      checked++;
    }
  }
  return checked;
}

describe('MACs against Wycheproof', () => {
  it('aes_cmac_test.json: valid tags are computed and accepted, invalid ones refused', () => {
    assert.equal(run('aes-cmac', load('aes_cmac_test.json')), 311);
  });
  it('hmac_sha256_test.json: full and truncated tags', () => {
    assert.equal(run('hmac-sha256', load('hmac_sha256_test.json')), 174);
  });
  it('hmac_sha384_test.json: full and truncated tags', () => {
    assert.equal(run('hmac-sha384', load('hmac_sha384_test.json')), 174);
  });
  it('hmac_sha512_test.json: full and truncated tags', () => {
    assert.equal(run('hmac-sha512', load('hmac_sha512_test.json')), 174);
  });
  it('hmac_sm3_test.json: full and truncated tags', () => {
    assert.equal(run('hmac-sm3', load('hmac_sm3_test.json')), 174);
  });
});
