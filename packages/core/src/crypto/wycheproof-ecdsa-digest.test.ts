import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importPublicKey } from './asymmetric-keys.js';
import { type SignatureAlgorithm, verifySignature } from './sign.js';

// Wycheproof ECDSA files (Apache-2.0, test/vectors/wycheproof/LICENSE) through the digest path
// (`prehashed`), which runs on @noble/curves rather than OpenSSL: the same verdict for every case.
// Apart from wycheproof-signatures.test.ts because noble verifies ~40× slower (≈ 3 s here).
interface SignatureFile {
  testGroups: {
    publicKeyDer: string;
    tests: { tcId: number; comment: string; msg: string; sig: string; result: string }[];
  }[];
}

function run(
  name: string,
  algorithm: SignatureAlgorithm,
  format: 'der' | 'raw',
  hash: 'sha256' | 'sha384',
): number {
  const path = fileURLToPath(new URL(`../../../../test/vectors/wycheproof/${name}`, import.meta.url));
  const file = JSON.parse(readFileSync(path, 'utf8')) as SignatureFile;
  let checked = 0;
  for (const group of file.testGroups) {
    const key = importPublicKey(Buffer.from(group.publicKeyDer, 'hex'));
    for (const t of group.tests) {
      const digest = createHash(hash).update(Buffer.from(t.msg, 'hex')).digest();
      const { valid } = verifySignature(algorithm, key, digest, Buffer.from(t.sig, 'hex'), {
        prehashed: true,
        format,
      });
      assert.equal(valid, t.result === 'valid', `${name} tcId ${t.tcId} (${t.comment})`);
      checked++;
    }
  }
  return checked;
}

describe('ECDSA over a precomputed digest against Wycheproof', () => {
  it('ecdsa_secp256r1_sha256_test.json (DER)', () => {
    assert.equal(run('ecdsa_secp256r1_sha256_test.json', 'ecdsa-sha256', 'der', 'sha256'), 484);
  });
  it('ecdsa_secp256r1_sha256_p1363_test.json (raw r ‖ s)', () => {
    assert.equal(run('ecdsa_secp256r1_sha256_p1363_test.json', 'ecdsa-sha256', 'raw', 'sha256'), 262);
  });
  it('ecdsa_secp384r1_sha384_test.json (DER)', () => {
    assert.equal(run('ecdsa_secp384r1_sha384_test.json', 'ecdsa-sha384', 'der', 'sha384'), 504);
  });
});
