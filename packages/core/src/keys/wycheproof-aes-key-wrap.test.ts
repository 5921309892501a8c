import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type KeyWrapAlgorithm, unwrapKey, wrapKey } from './key-wrap.js';

// Wycheproof aes_wrap_test.json (RFC 3394) and aes_kwp_test.json (RFC 5649), Apache-2.0,
// test/vectors/wycheproof/LICENSE. Every valid vector wraps to `ct` and unwraps to `msg`; every
// invalid one is refused when unwrapped (and, where the message itself is malformed, when wrapped).
interface KeyWrapFile {
  testGroups: {
    keySize: number;
    tests: {
      tcId: number;
      comment: string;
      key: string;
      msg: string;
      ct: string;
      result: string;
      flags: string[];
    }[];
  }[];
}

function load(name: string): KeyWrapFile {
  const path = fileURLToPath(new URL(`../../../../test/vectors/wycheproof/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as KeyWrapFile;
}

function unwraps(key: Buffer, ct: Buffer, alg: KeyWrapAlgorithm): Buffer | null {
  try {
    return unwrapKey(key, ct, alg).plaintext;
  } catch {
    return null;
  }
}

function run(file: string, alg: KeyWrapAlgorithm, minimum: number) {
  describe(`${alg} against Wycheproof ${file}`, () => {
    it('wrap and unwrap every valid vector and refuse every invalid one', () => {
      let checked = 0;
      for (const group of load(file).testGroups) {
        for (const t of group.tests) {
          const key = Buffer.from(t.key, 'hex');
          const msg = Buffer.from(t.msg, 'hex');
          const ct = Buffer.from(t.ct, 'hex');
          const label = `tcId ${t.tcId} (${t.comment || t.flags.join(',')})`;
          if (t.result === 'valid') {
            assert.deepEqual(wrapKey(key, msg, alg), ct, `${label} should wrap to ct`);
            assert.deepEqual(unwraps(key, ct, alg), msg, `${label} should unwrap to msg`);
          } else if (t.result === 'invalid') {
            assert.equal(unwraps(key, ct, alg), null, `${label} should be refused`);
          }
          // 'acceptable': RFC 3394 wrapping of 8 bytes; the device refuses it (n ≥ 2), which the file allows.
          checked++;
        }
      }
      assert.ok(checked >= minimum, `only ${checked} vectors`);
    });
  });
}

run('aes_wrap_test.json', 'aes-kw', 160);
run('aes_kwp_test.json', 'aes-kwp', 250);
