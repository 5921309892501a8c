import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants, createPrivateKey, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import { decryptAsymmetric, encryptAsymmetric } from './asym-encrypt.js';
import { exportPublicKeyPem, importPublicKey } from './asymmetric-keys.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const rsaPublic = importPublicKey(exportPublicKeyPem(rsa));
const sm2 = createPrivateKey({
  key: generateKeyPairSync('ec', { namedCurve: 'SM2' }).privateKey.export({ type: 'pkcs8', format: 'der' }),
  format: 'der',
  type: 'pkcs8',
});
const secret = Buffer.from('a 32-byte data key, say 0123456');
const refusedWith = (code: string) => (e: unknown) => isCofferError(e) && e.code === code;

describe('encryptAsymmetric / decryptAsymmetric', () => {
  for (const [scheme, oaepHash] of [
    ['rsa-oaep-sha1', 'sha1'],
    ['rsa-oaep-sha256', 'sha256'],
  ] as const) {
    it(`${scheme}: Node decrypts what Coffer encrypts (with and without a label), and Coffer decrypts it too`, () => {
      for (const label of [undefined, Buffer.from('coffer')]) {
        const ct = encryptAsymmetric(scheme, rsaPublic, secret, label ? { label } : {});
        assert.deepEqual(
          privateDecrypt({ key: rsa, oaepHash, ...(label ? { oaepLabel: label } : {}) }, ct),
          secret,
        );
        assert.deepEqual(decryptAsymmetric(scheme, rsa, ct, label ? { label } : {}), secret);
      }
      assert.throws(
        () =>
          decryptAsymmetric(
            scheme,
            rsa,
            encryptAsymmetric(scheme, rsaPublic, secret, { label: Buffer.from('a') }),
          ),
        refusedWith('ERR_CIPHERTEXT'),
      );
    });
  }

  it('rsa-pkcs1: openssl pkeyutl decrypts what Coffer encrypts, and Coffer decrypts it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coffer-rsa-'));
    try {
      writeFileSync(join(dir, 'key.pem'), rsa.export({ type: 'pkcs8', format: 'pem' }));
      const ct = encryptAsymmetric('rsa-pkcs1', rsaPublic, secret);
      writeFileSync(join(dir, 'ct'), ct);
      const r = spawnSync(
        'openssl',
        ['pkeyutl', '-decrypt', '-inkey', 'key.pem', '-in', 'ct', '-pkeyopt', 'rsa_padding_mode:pkcs1'],
        { cwd: dir },
      );
      assert.equal(r.status, 0, r.stderr.toString());
      assert.deepEqual(r.stdout, secret);
      assert.deepEqual(decryptAsymmetric('rsa-pkcs1', rsa, ct), secret);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rsa-pkcs1: a block whose padding is wrong (decrypted raw by Node) is the one refusal ERR_CIPHERTEXT', () => {
    const block = Buffer.alloc(256, 0x11);
    block[0] = 0;
    block[1] = 2; // no zero separator anywhere
    const ct = privateDecrypt({ key: rsa, padding: constants.RSA_NO_PADDING }, block); // any k-byte value < n
    assert.throws(() => decryptAsymmetric('rsa-pkcs1', rsa, ct), refusedWith('ERR_CIPHERTEXT'));
  });

  it('refuses plaintexts too long for the key and ciphertexts of the wrong length with ERR_CRYPTO_INPUT', () => {
    assert.throws(
      () => encryptAsymmetric('rsa-oaep-sha256', rsaPublic, Buffer.alloc(191)),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.doesNotThrow(() => encryptAsymmetric('rsa-oaep-sha256', rsaPublic, Buffer.alloc(190)));
    assert.throws(
      () => encryptAsymmetric('rsa-pkcs1', rsaPublic, Buffer.alloc(246)),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(
      () => decryptAsymmetric('rsa-oaep-sha256', rsa, Buffer.alloc(255)),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
  });

  it('sm2: DER and raw C1C3C2 ciphertexts both decrypt; a changed C3 or C2 is refused with ERR_CIPHERTEXT', () => {
    const pub = importPublicKey(exportPublicKeyPem(sm2));
    const der = encryptAsymmetric('sm2', pub, secret);
    const raw = encryptAsymmetric('sm2', pub, secret, { sm2Format: 'c1c3c2' });
    assert.equal(der[0], 0x30);
    assert.equal(raw.length, 1 + 64 + 32 + secret.length);
    assert.deepEqual(decryptAsymmetric('sm2', sm2, der), secret);
    assert.deepEqual(decryptAsymmetric('sm2', sm2, raw), secret);
    for (const at of [70, raw.length - 1]) {
      const changed = Buffer.from(raw);
      changed[at]! ^= 1;
      assert.throws(() => decryptAsymmetric('sm2', sm2, changed), refusedWith('ERR_CIPHERTEXT'));
    }
    const offCurve = Buffer.from(raw);
    offCurve[5]! ^= 1;
    assert.throws(() => decryptAsymmetric('sm2', sm2, offCurve), refusedWith('ERR_CIPHERTEXT'));
    assert.throws(
      () => decryptAsymmetric('sm2', sm2, Buffer.from('garbage')),
      refusedWith('ERR_CRYPTO_INPUT'),
    );
    assert.throws(() => encryptAsymmetric('sm2', pub, Buffer.alloc(0)), refusedWith('ERR_CRYPTO_INPUT'));
  });

  it('refuses a key of the other family and decryption with a public key with ERR_ALGORITHM', () => {
    assert.throws(() => encryptAsymmetric('sm2', rsaPublic, secret), refusedWith('ERR_ALGORITHM'));
    assert.throws(() => encryptAsymmetric('rsa-oaep-sha256', sm2, secret), refusedWith('ERR_ALGORITHM'));
    assert.throws(
      () => decryptAsymmetric('rsa-oaep-sha256', rsaPublic, Buffer.alloc(256)),
      refusedWith('ERR_ALGORITHM'),
    );
  });
});
