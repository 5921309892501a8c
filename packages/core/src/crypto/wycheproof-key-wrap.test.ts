import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCofferError } from '../errors.js';
import { unwrapKeyMaterial, type WrapAlgorithm, wrapKeyMaterial } from './key-transport.js';

// Wycheproof aes_wrap (RFC 3394) and aes_kwp (RFC 5649) (Apache-2.0, test/vectors/wycheproof/LICENSE).
interface WrapFile {
  testGroups: {
    keySize: number;
    tests: { tcId: number; comment: string; key: string; msg: string; ct: string; result: string }[];
  }[];
}
function load(name: string): WrapFile {
  const path = fileURLToPath(new URL(`../../../../test/vectors/wycheproof/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as WrapFile;
}

function run(name: string, algorithm: WrapAlgorithm): number {
  let checked = 0;
  for (const group of load(name).testGroups) {
    for (const t of group.tests) {
      const key = Buffer.from(t.key, 'hex');
      const label = `${name} tcId ${t.tcId} (${t.comment})`;
      const unwrap = () => unwrapKeyMaterial(algorithm, key, Buffer.from(t.ct, 'hex'));
      if (t.result === 'valid') {
        assert.equal(wrapKeyMaterial(algorithm, key, Buffer.from(t.msg, 'hex')).toString('hex'), t.ct, label);
        assert.equal(unwrap().toString('hex'), t.msg, label);
      } else if (t.result === 'invalid') {
        assert.throws(
          unwrap,
          (e) => isCofferError(e) && ['ERR_CIPHERTEXT', 'ERR_CRYPTO_INPUT'].includes(e.code),
          label,
        );
      } else {
        // "acceptable": wrapping a key shorter than RFC 3394 allows; the device refuses to make one.
        assert.throws(() => wrapKeyMaterial(algorithm, key, Buffer.from(t.msg, 'hex')), label);
      }
      checked++;
    }
  }
  return checked;
}

describe('AES key wrap against Wycheproof', () => {
  it('aes_wrap_test.json (RFC 3394): valid cases wrap and unwrap as listed, corrupted ones are refused', () => {
    assert.equal(run('aes_wrap_test.json', 'aes-kw'), 165);
  });
  it('aes_kwp_test.json (RFC 5649): valid cases wrap and unwrap as listed, corrupted ones are refused', () => {
    assert.equal(run('aes_kwp_test.json', 'aes-kwp'), 254);
  });
});
