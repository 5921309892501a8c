import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { openWithPin, sealWithPin } from './pin-sealing.js';

const ITERATIONS = 1_000;
const AAD = Buffer.from('coffer-test/v1/device/payments/5a01', 'utf8');

function isCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof CofferError && error.code === code;
}

describe('sealWithPin and openWithPin', () => {
  it('round-trip a secret, and a lower-case PIN opens what its upper-case form sealed', async () => {
    const secret = Buffer.from('a secret key, PKCS#8 in real life');
    const sealed = await sealWithPin(secret, '12AB34CD', AAD, ITERATIONS);
    assert.equal(sealed.kdf, 'PBKDF2-SHA256');
    assert.equal(sealed.cipher, 'AES-256-GCM');
    assert.equal(sealed.iterations, ITERATIONS);
    assert.equal(Buffer.from(sealed.salt, 'base64').length, 16);
    assert.equal(Buffer.from(sealed.iv, 'base64').length, 12);
    assert.deepEqual(await openWithPin(sealed, '12ab34cd', AAD), secret);
  });

  it('a wrong PIN is refused with ERR_PIN_WRONG and the caller’s sentence', async () => {
    const sealed = await sealWithPin(Buffer.from('secret'), '12AB34CD', AAD, ITERATIONS);
    await assert.rejects(openWithPin(sealed, '12AB34CE', AAD, 'The licence PIN is wrong.'), (error) => {
      assert.ok(isCode('ERR_PIN_WRONG')(error));
      assert.equal((error as CofferError).message, 'The licence PIN is wrong.');
      return true;
    });
  });

  it('a sealed part moved to another place (other associated data) does not open', async () => {
    const sealed = await sealWithPin(Buffer.from('secret'), '12AB34CD', AAD, ITERATIONS);
    await assert.rejects(openWithPin(sealed, '12AB34CD', Buffer.from('elsewhere')), isCode('ERR_PIN_WRONG'));
  });

  it('a tampered or truncated ciphertext does not open', async () => {
    const sealed = await sealWithPin(Buffer.from('secret'), '12AB34CD', AAD, ITERATIONS);
    const body = Buffer.from(sealed.ciphertext, 'base64');
    body[0]! ^= 1;
    await assert.rejects(
      openWithPin({ ...sealed, ciphertext: body.toString('base64') }, '12AB34CD', AAD),
      isCode('ERR_PIN_WRONG'),
    );
    await assert.rejects(
      openWithPin({ ...sealed, ciphertext: 'AAAA' }, '12AB34CD', AAD),
      isCode('ERR_PIN_WRONG'),
    );
  });

  it('WebCrypto opens it unchanged: PBKDF2 deriveKey, then AES-GCM decrypt with additionalData', async () => {
    const secret = Buffer.from('opened in a browser');
    const sealed = await sealWithPin(secret, '12ab34cd', AAD, ITERATIONS);
    const subtle = webcrypto.subtle;
    // A browser upper-cases a–f first, as normalisePin does.
    const material = await subtle.importKey('raw', Buffer.from('12AB34CD'), 'PBKDF2', false, ['deriveKey']);
    const key = await subtle.deriveKey(
      {
        name: 'PBKDF2',
        hash: 'SHA-256',
        salt: Buffer.from(sealed.salt, 'base64'),
        iterations: sealed.iterations,
      },
      material,
      { name: 'AES-GCM', length: 256 },
      false,
      ['decrypt'],
    );
    const plain = await subtle.decrypt(
      { name: 'AES-GCM', iv: Buffer.from(sealed.iv, 'base64'), additionalData: AAD, tagLength: 128 },
      key,
      Buffer.from(sealed.ciphertext, 'base64'),
    );
    assert.deepEqual(Buffer.from(plain), secret);
  });

  it('refuses an iteration count out of range with ERR_INTERNAL', async () => {
    await assert.rejects(sealWithPin(Buffer.from('x'), '12AB34CD', AAD, 0), isCode('ERR_INTERNAL'));
    await assert.rejects(sealWithPin(Buffer.from('x'), '12AB34CD', AAD, 10_000_001), isCode('ERR_INTERNAL'));
  });
});
