import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { verifyChallenge } from './card-file.js';

// Wycheproof ecdsa_secp256r1_sha256_p1363_test.json (Apache-2.0, test/vectors/wycheproof/LICENSE):
// the card challenge is ECDSA P-256 with SHA-256 in IEEE P1363 form, as WebCrypto signs it.
const path = fileURLToPath(
  new URL('../../../../test/vectors/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json', import.meta.url),
);
const file = JSON.parse(readFileSync(path, 'utf8')) as {
  testGroups: {
    publicKeyDer: string;
    tests: { tcId: number; msg: string; sig: string; result: string; comment: string }[];
  }[];
};

describe('card challenge signatures against Wycheproof ECDSA P-256 SHA-256 (P1363)', () => {
  it('accept every valid vector and refuse every invalid one', () => {
    let checked = 0;
    for (const group of file.testGroups) {
      const spki = Buffer.from(group.publicKeyDer, 'hex');
      createPublicKey({ key: spki, format: 'der', type: 'spki' });
      for (const t of group.tests) {
        const ok = verifyChallenge(spki, Buffer.from(t.msg, 'hex'), Buffer.from(t.sig, 'hex'));
        if (t.result === 'valid') assert.equal(ok, true, `tcId ${t.tcId} (${t.comment}) should verify`);
        if (t.result === 'invalid')
          assert.equal(ok, false, `tcId ${t.tcId} (${t.comment}) should be refused`);
        checked++;
      }
    }
    assert.ok(checked >= 250, `only ${checked} vectors`);
  });
});
