import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import { asymmetricKeyKind, exportPublicKeyPem, importPublicKey } from './asymmetric-keys.js';

describe('asymmetricKeyKind / importPublicKey / exportPublicKeyPem', () => {
  it('names every key family, SM2 both as Node generated it and re-imported from PKCS#8 (where Node gives no type)', () => {
    assert.equal(asymmetricKeyKind(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey), 'rsa');
    assert.equal(asymmetricKeyKind(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), 'ec-p256');
    assert.equal(asymmetricKeyKind(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey), 'ec-p384');
    assert.equal(asymmetricKeyKind(generateKeyPairSync('ed25519').privateKey), 'ed25519');
    const sm2 = generateKeyPairSync('ec', { namedCurve: 'SM2' }).privateKey;
    assert.equal(asymmetricKeyKind(sm2), 'sm2');
    const reimported = createPrivateKey({
      key: sm2.export({ type: 'pkcs8', format: 'der' }),
      format: 'der',
      type: 'pkcs8',
    });
    assert.equal(reimported.asymmetricKeyType, undefined);
    assert.equal(asymmetricKeyKind(reimported), 'sm2');
    assert.equal(asymmetricKeyKind(createPublicKey(reimported)), 'sm2');
  });

  it('imports SPKI as a PEM string, PEM bytes or DER, and exports SPKI PEM', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const pem = exportPublicKeyPem(key);
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
    const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
    for (const input of [pem, Buffer.from(pem), der])
      assert.equal(exportPublicKeyPem(importPublicKey(input)), pem);
  });

  it('refuses garbage and private keys with ERR_CRYPTO_INPUT, and key types the device lacks with ERR_ALGORITHM', () => {
    const input = (e: unknown) => isCofferError(e) && e.code === 'ERR_CRYPTO_INPUT';
    assert.throws(() => importPublicKey(Buffer.from('not a key')), input);
    assert.throws(
      () =>
        importPublicKey(
          generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        ),
      input,
    );
    const x25519 = exportPublicKeyPem(generateKeyPairSync('x25519').privateKey);
    assert.throws(
      () => importPublicKey(x25519),
      (e) => isCofferError(e) && e.code === 'ERR_ALGORITHM',
    );
  });
});
