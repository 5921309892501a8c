import assert from 'node:assert/strict';
import {
  constants,
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  verify,
} from 'node:crypto';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import { exportPublicKeyPem, importPublicKey } from './asymmetric-keys.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm, signData, verifySignature } from './sign.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const rsa3071 = generateKeyPairSync('rsa', { modulusLength: 3071 }).privateKey; // emBits a multiple of 8 − 1: PSS's odd case
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
const ed25519 = generateKeyPairSync('ed25519').privateKey;
const sm2 = createPrivateKey({
  key: generateKeyPairSync('ec', { namedCurve: 'SM2' }).privateKey.export({ type: 'pkcs8', format: 'der' }),
  format: 'der',
  type: 'pkcs8',
});
const message = Buffer.from('pay 100 to Alice');

function keyFor(algorithm: SignatureAlgorithm): KeyObject {
  if (algorithm.startsWith('rsa')) return rsa;
  if (algorithm === 'ecdsa-sha384') return p384;
  if (algorithm.startsWith('ecdsa')) return p256;
  return algorithm === 'ed25519' ? ed25519 : sm2;
}

/** Node's own verification of a Coffer signature over the data: the independent check. */
function nodeVerifies(
  algorithm: SignatureAlgorithm,
  key: KeyObject,
  signature: Buffer,
  raw = false,
): boolean {
  const hash = algorithm === 'ed25519' ? null : algorithm.slice(algorithm.lastIndexOf('-') + 1);
  const padding = algorithm.startsWith('rsa-pss')
    ? constants.RSA_PKCS1_PSS_PADDING
    : constants.RSA_PKCS1_PADDING;
  return verify(
    hash,
    message,
    { key, padding, saltLength: constants.RSA_PSS_SALTLEN_AUTO, dsaEncoding: raw ? 'ieee-p1363' : 'der' },
    signature,
  );
}

describe('signData / verifySignature', () => {
  for (const algorithm of SIGNATURE_ALGORITHMS.filter((a) => a !== 'sm2-sm3')) {
    it(`${algorithm}: a signature over the data verifies in Node and in Coffer, with the public key as SPKI PEM`, () => {
      const key = keyFor(algorithm);
      const signature = signData(algorithm, key, message);
      assert.equal(nodeVerifies(algorithm, key, signature), true);
      const external = importPublicKey(exportPublicKeyPem(key));
      assert.equal(verifySignature(algorithm, external, message, signature).valid, true);
      assert.equal(
        verifySignature(algorithm, external, Buffer.from('pay 900 to Alice'), signature).valid,
        false,
      );
    });
  }

  for (const algorithm of SIGNATURE_ALGORITHMS.filter((a) => a !== 'ed25519' && a !== 'sm2-sm3')) {
    it(`${algorithm}: a signature over the precomputed digest verifies in Node over the data, and the other way round`, () => {
      const key = keyFor(algorithm);
      const digest = createHash(algorithm.slice(algorithm.lastIndexOf('-') + 1))
        .update(message)
        .digest();
      const signature = signData(algorithm, key, digest, { prehashed: true });
      assert.equal(nodeVerifies(algorithm, key, signature), true);
      assert.equal(
        verifySignature(algorithm, key, digest, signData(algorithm, key, message), { prehashed: true }).valid,
        true,
      );
    });
  }

  it('RSA-PSS over a digest works when the modulus bit length is 1 mod 8 (an empty top byte) and with a chosen salt length', () => {
    const digest = createHash('sha256').update(message).digest();
    const signature = signData('rsa-pss-sha256', rsa3071, digest, { prehashed: true, saltLength: 20 });
    assert.equal(
      verify(
        'sha256',
        message,
        { key: rsa3071, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 },
        signature,
      ),
      true,
    );
    assert.equal(
      verifySignature('rsa-pss-sha256', rsa3071, digest, signature, { prehashed: true, saltLength: 20 })
        .valid,
      true,
    );
    assert.equal(
      verifySignature('rsa-pss-sha256', rsa3071, digest, signature, { prehashed: true }).valid,
      false,
    );
  });

  it('ECDSA in raw r ‖ s (P1363) form, over data and over a digest, verifies in Node with dsaEncoding ieee-p1363', () => {
    for (const [key, algorithm, length] of [
      [p256, 'ecdsa-sha256', 64],
      [p384, 'ecdsa-sha384', 96],
    ] as const) {
      const overData = signData(algorithm, key, message, { format: 'raw' });
      assert.equal(overData.length, length);
      assert.equal(nodeVerifies(algorithm, key, overData, true), true);
      const digest = createHash(algorithm.slice(6)).update(message).digest();
      const overDigest = signData(algorithm, key, digest, { prehashed: true, format: 'raw' });
      assert.equal(nodeVerifies(algorithm, key, overDigest, true), true);
      assert.equal(verifySignature(algorithm, key, message, overDigest, { format: 'raw' }).valid, true);
    }
  });

  it('SM2: signatures over data (default and chosen ID) and over e verify in Coffer and are DER or 64 raw bytes', () => {
    const der = signData('sm2-sm3', sm2, message);
    assert.equal(der[0], 0x30);
    assert.equal(verifySignature('sm2-sm3', sm2, message, der).valid, true);
    const withId = signData('sm2-sm3', sm2, message, { id: Buffer.from('alice@example.com'), format: 'raw' });
    assert.equal(withId.length, 64);
    assert.equal(
      verifySignature('sm2-sm3', sm2, message, withId, {
        id: Buffer.from('alice@example.com'),
        format: 'raw',
      }).valid,
      true,
    );
    assert.equal(verifySignature('sm2-sm3', sm2, message, withId, { format: 'raw' }).valid, false);
  });

  it('Ed25519 signatures are 64 raw bytes', () => {
    assert.equal(signData('ed25519', ed25519, message).length, 64);
  });

  it('malformed signatures are not valid rather than errors', () => {
    for (const algorithm of SIGNATURE_ALGORITHMS) {
      for (const signature of [Buffer.alloc(0), Buffer.alloc(3, 0x30), Buffer.alloc(256, 0xff)]) {
        assert.equal(
          verifySignature(algorithm, keyFor(algorithm), message, signature).valid,
          false,
          algorithm,
        );
      }
    }
  });

  it('refuses a key of the wrong kind and Ed25519 over a digest with ERR_ALGORITHM', () => {
    const refused = (e: unknown) => isCofferError(e) && e.code === 'ERR_ALGORITHM';
    assert.throws(() => signData('ecdsa-sha256', rsa, message), refused);
    assert.throws(() => signData('rsa-pss-sha256', p256, message), refused);
    assert.throws(() => signData('sm2-sm3', p256, message), refused);
    assert.throws(() => signData('ed25519', ed25519, Buffer.alloc(32), { prehashed: true }), refused);
  });

  it('refuses options that do not apply and digests of the wrong length with ERR_CRYPTO_INPUT', () => {
    const refused = (e: unknown) => isCofferError(e) && e.code === 'ERR_CRYPTO_INPUT';
    assert.throws(() => signData('rsa-pkcs1-sha256', rsa, message, { format: 'raw' }), refused);
    assert.throws(() => signData('ecdsa-sha256', p256, message, { id: Buffer.from('x') }), refused);
    assert.throws(() => signData('ecdsa-sha256', p256, message, { saltLength: 32 }), refused);
    assert.throws(() => signData('ecdsa-sha256', p256, Buffer.alloc(31), { prehashed: true }), refused);
    assert.throws(
      () => signData('sm2-sm3', sm2, Buffer.alloc(32), { prehashed: true, id: Buffer.from('x') }),
      refused,
    );
    assert.throws(() => signData('sm2-sm3', sm2, message, { id: Buffer.alloc(8192) }), refused);
    assert.throws(() => signData('rsa-pss-sha512', rsa, message, { saltLength: 200 }), refused);
  });

  it('signing with a public key is refused with ERR_ALGORITHM', () => {
    assert.throws(
      () => signData('ecdsa-sha256', importPublicKey(exportPublicKeyPem(p256)), message),
      (e) => isCofferError(e) && e.code === 'ERR_ALGORITHM',
    );
  });
});
