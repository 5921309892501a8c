import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CofferError } from '../errors.js';
import {
  aes256GcmTest,
  ecdsaP256PairwiseTest,
  ecdsaP256VerifyTest,
  hkdfSha256Test,
  hmacSha256Test,
  KAT_VECTORS,
  knownAnswerTests,
  pbkdf2Sha256Test,
  type SelfTest,
  scryptTest,
  sha256Test,
  shamirTest,
} from './known-answer-tests.js';

const failedKat = (err: unknown): boolean =>
  err instanceof CofferError &&
  err.code === 'ERR_INTERNAL' &&
  /^Known-answer test .+ failed: /.test(err.message);

/** Flips the lowest bit of the last hex digit: the smallest change a broken primitive could make. */
function alter(hex: string): string {
  const last = Number.parseInt(hex.at(-1)!, 16) ^ 1;
  return hex.slice(0, -1) + last.toString(16);
}

describe('known-answer tests', () => {
  const tests = knownAnswerTests();

  for (const t of tests) {
    it(`pass: ${t.name}`, async () => {
      await t.run();
    });
  }

  it('cover every algorithm the device uses', () => {
    const names = tests.map((t) => t.name).join('\n');
    for (const alg of [
      'SHA-256',
      'HMAC-SHA256',
      'HKDF-SHA256',
      'AES-256-GCM',
      'PBKDF2',
      'scrypt',
      'ECDSA P-256 verify',
      'pairwise',
      'Shamir',
    ]) {
      assert.ok(names.includes(alg), alg);
    }
  });

  const v = KAT_VECTORS;
  const altered: [string, SelfTest][] = [
    ['SHA-256 with another digest', sha256Test({ ...v.sha256, digest: alter(v.sha256.digest) })],
    ['SHA-256 with another message', sha256Test({ ...v.sha256, message: '616264' })],
    ['HMAC-SHA256 with another MAC', hmacSha256Test({ ...v.hmacSha256, mac: alter(v.hmacSha256.mac) })],
    ['HMAC-SHA256 with another key', hmacSha256Test({ ...v.hmacSha256, key: alter(v.hmacSha256.key) })],
    ['HKDF-SHA256 with another output', hkdfSha256Test({ ...v.hkdfSha256, okm: alter(v.hkdfSha256.okm) })],
    ['HKDF-SHA256 with another info', hkdfSha256Test({ ...v.hkdfSha256, info: alter(v.hkdfSha256.info) })],
    [
      'AES-256-GCM with another ciphertext',
      aes256GcmTest({ ...v.aes256Gcm, ciphertext: alter(v.aes256Gcm.ciphertext) }),
    ],
    ['AES-256-GCM with another tag', aes256GcmTest({ ...v.aes256Gcm, tag: alter(v.aes256Gcm.tag) })],
    ['AES-256-GCM with another AAD', aes256GcmTest({ ...v.aes256Gcm, aad: alter(v.aes256Gcm.aad) })],
    [
      'AES-256-GCM with another plaintext',
      aes256GcmTest({ ...v.aes256Gcm, plaintext: alter(v.aes256Gcm.plaintext) }),
    ],
    [
      'PBKDF2 with another output',
      pbkdf2Sha256Test({ ...v.pbkdf2Sha256, derived: alter(v.pbkdf2Sha256.derived) }),
    ],
    ['PBKDF2 with another count', pbkdf2Sha256Test({ ...v.pbkdf2Sha256, iterations: 2 })],
    ['scrypt with another output', scryptTest({ ...v.scrypt, derived: alter(v.scrypt.derived) })],
    ['scrypt with another N', scryptTest({ ...v.scrypt, N: 32 })],
    [
      'ECDSA with another signature',
      ecdsaP256VerifyTest({ ...v.ecdsaP256, signature: alter(v.ecdsaP256.signature) }),
    ],
    [
      'ECDSA with another message',
      ecdsaP256VerifyTest({ ...v.ecdsaP256, message: alter(v.ecdsaP256.message) }),
    ],
    [
      'ECDSA with a malformed key',
      ecdsaP256VerifyTest({ ...v.ecdsaP256, publicKey: v.ecdsaP256.publicKey.slice(2) }),
    ],
    ['Shamir with another secret', shamirTest({ ...v.shamir, secret: alter(v.shamir.secret) })],
    [
      'Shamir with an altered share',
      shamirTest({
        ...v.shamir,
        shares: [v.shamir.shares[0], alter(v.shamir.shares[1]), v.shamir.shares[2]],
      }),
    ],
  ];

  for (const [what, t] of altered) {
    it(`fail with ERR_INTERNAL when given ${what}`, async () => {
      await assert.rejects(t.run(), failedKat);
    });
  }

  it('name the algorithm and vector in the failure', async () => {
    await assert.rejects(
      sha256Test({ ...v.sha256, digest: alter(v.sha256.digest) }).run(),
      (err: unknown) => {
        assert.ok(err instanceof CofferError);
        assert.equal(
          err.message,
          'Known-answer test SHA-256 (FIPS 180-2 Appendix B.1) failed: the digest differs.',
        );
        return true;
      },
    );
  });

  it('include a pairwise test that passes on a working implementation', async () => {
    await ecdsaP256PairwiseTest().run();
  });

  // The ECDSA values were copied by hand; check them against the Wycheproof file where it is at hand.
  const wycheproof = fileURLToPath(
    new URL('../../../../test/vectors/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json', import.meta.url),
  );
  it('hard-code the ECDSA vector exactly as Wycheproof tcId 1 has it', () => {
    const file = JSON.parse(readFileSync(wycheproof, 'utf8'));
    const group = file.testGroups[0];
    const tc = group.tests.find((t: { tcId: number }) => t.tcId === 1);
    assert.equal(tc.result, 'valid');
    assert.equal(v.ecdsaP256.publicKey, group.publicKeyDer);
    assert.equal(v.ecdsaP256.message, tc.msg);
    assert.equal(v.ecdsaP256.signature, tc.sig);
  });
});
