import assert from 'node:assert/strict';
import { createECDH, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCofferError } from '../errors.js';
import { deriveSharedSecret } from './agreement.js';
import { importPublicKey } from './asymmetric-keys.js';

// Wycheproof ecdh_secp256r1_test.json (Apache-2.0, test/vectors/wycheproof/LICENSE): the peer key is
// SPKI DER as a client would send it, including points off the curve, other curves and bad ASN.1.
interface EcdhFile {
  testGroups: {
    tests: {
      tcId: number;
      comment: string;
      public: string;
      private: string;
      shared: string;
      result: string;
    }[];
  }[];
}
const path = fileURLToPath(
  new URL('../../../../test/vectors/wycheproof/ecdh_secp256r1_test.json', import.meta.url),
);
const file = JSON.parse(readFileSync(path, 'utf8')) as EcdhFile;

function p256PrivateKey(scalarHex: string) {
  const d = Buffer.from(scalarHex.padStart(64, '0').slice(-64), 'hex');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: d.toString('base64url'),
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
}

describe('ECDH against Wycheproof', () => {
  it('ecdh_secp256r1_test.json: valid peers give the listed secret, invalid peer keys are refused', () => {
    let checked = 0;
    for (const group of file.testGroups) {
      for (const t of group.tests) {
        const label = `tcId ${t.tcId} (${t.comment})`;
        const privateKey = p256PrivateKey(t.private);
        let shared: Buffer | undefined;
        try {
          shared = deriveSharedSecret(privateKey, importPublicKey(Buffer.from(t.public, 'hex')));
        } catch (error) {
          assert.ok(
            isCofferError(error) && ['ERR_CRYPTO_INPUT', 'ERR_ALGORITHM'].includes(error.code),
            label,
          );
        }
        if (t.result === 'valid') assert.equal(shared?.toString('hex'), t.shared, label);
        if (t.result === 'invalid') assert.equal(shared, undefined, label);
        if (t.result === 'acceptable' && shared) assert.equal(shared.toString('hex'), t.shared, label);
        checked++;
      }
    }
    assert.equal(checked, 612);
  });
});
