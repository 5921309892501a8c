import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importPublicKey } from './asymmetric-keys.js';
import { type SignatureAlgorithm, type SignOptions, verifySignature } from './sign.js';

// Wycheproof ECDSA (DER and P1363), Ed25519, RSA PKCS#1 v1.5 and PSS signature files
// (Apache-2.0, test/vectors/wycheproof/LICENSE). Each case runs over the data and, for RSA, again
// over the digest (padding built and checked in rsa-padding.ts); both must agree with the listed
// result. ECDSA over a digest runs in wycheproof-ecdsa-digest.test.ts (noble is slower than OpenSSL).
interface SignatureFile {
  testGroups: {
    publicKeyDer: string;
    tests: { tcId: number; comment: string; msg: string; sig: string; result: string }[];
  }[];
}
function load(name: string): SignatureFile {
  const path = fileURLToPath(new URL(`../../../../test/vectors/wycheproof/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as SignatureFile;
}

function run(
  name: string,
  algorithm: SignatureAlgorithm,
  options: SignOptions,
  hash?: 'sha256' | 'sha384',
): number {
  let checked = 0;
  for (const group of load(name).testGroups) {
    const key = importPublicKey(Buffer.from(group.publicKeyDer, 'hex'));
    for (const t of group.tests) {
      const msg = Buffer.from(t.msg, 'hex');
      const sig = Buffer.from(t.sig, 'hex');
      const label = `${name} tcId ${t.tcId} (${t.comment})`;
      const overData = verifySignature(algorithm, key, msg, sig, options).valid;
      const overDigest = hash
        ? verifySignature(algorithm, key, createHash(hash).update(msg).digest(), sig, {
            ...options,
            prehashed: true,
          }).valid
        : overData;
      if (t.result === 'valid') {
        assert.equal(overData, true, `${label} over the data`);
        assert.equal(overDigest, true, `${label} over the digest`);
      } else if (t.result === 'invalid') {
        assert.equal(overData, false, `${label} over the data`);
        assert.equal(overDigest, false, `${label} over the digest`);
      }
      checked++;
    }
  }
  return checked;
}

describe('signature verification against Wycheproof', () => {
  it('ecdsa_secp256r1_sha256_test.json (DER)', () => {
    assert.equal(run('ecdsa_secp256r1_sha256_test.json', 'ecdsa-sha256', { format: 'der' }), 484);
  });
  it('ecdsa_secp256r1_sha256_p1363_test.json (raw r ‖ s)', () => {
    assert.equal(run('ecdsa_secp256r1_sha256_p1363_test.json', 'ecdsa-sha256', { format: 'raw' }), 262);
  });
  it('ecdsa_secp384r1_sha384_test.json (DER)', () => {
    assert.equal(run('ecdsa_secp384r1_sha384_test.json', 'ecdsa-sha384', {}), 504);
  });
  it('ed25519_test.json', () => {
    assert.equal(run('ed25519_test.json', 'ed25519', {}), 151);
  });
  it('rsa_signature_2048_sha256_test.json (PKCS#1 v1.5): over data and over the digest', () => {
    assert.equal(run('rsa_signature_2048_sha256_test.json', 'rsa-pkcs1-sha256', {}, 'sha256'), 259);
  });
  it('rsa_pss_2048_sha256_mgf1_32_test.json: over data and over the digest', () => {
    assert.equal(
      run('rsa_pss_2048_sha256_mgf1_32_test.json', 'rsa-pss-sha256', { saltLength: 32 }, 'sha256'),
      108,
    );
  });
});
