import { createCipheriv, createDecipheriv, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { CofferError } from '../errors.js';
import { normalisePin } from './pin-rules.js';

/**
 * A secret sealed under a PIN, as card files and licence files carry it: PBKDF2-SHA256 (`iterations`,
 * 16-byte `salt`) derives an AES-256-GCM key that encrypts the secret with associated data naming
 * the file it belongs to. The shape is what WebCrypto needs, unchanged: `deriveKey` with PBKDF2, then
 * `decrypt` with `additionalData` and the 16-byte tag appended to the ciphertext. The PIN is read
 * through {@link normalisePin} (a–f upper-cased) before derivation; a browser must do the same.
 */
export interface PinSealed {
  kdf: 'PBKDF2-SHA256';
  iterations: number;
  /** Base64 of 16 random bytes. */
  salt: string;
  cipher: 'AES-256-GCM';
  /** Base64 of 12 random bytes. */
  iv: string;
  /** Base64 of the ciphertext with the 16-byte tag at its end, as WebCrypto produces it. */
  ciphertext: string;
}

/** DESIGN §4 (and OWASP's 2023 figure for PBKDF2-HMAC-SHA256). */
export const PIN_KDF_ITERATIONS = 600_000;
/**
 * Above this a sealed part is refused as malformed: the count is read from the file, and a file with
 * billions of iterations would otherwise hold a CPU busy for hours.
 */
export const PIN_KDF_MAX_ITERATIONS = 10_000_000;

export const PIN_SALT_BYTES = 16;
export const PIN_IV_BYTES = 12;
export const PIN_TAG_BYTES = 16;
const AES_KEY_BYTES = 32;

const pbkdf2Async = promisify(pbkdf2);

/**
 * Seals `plaintext` under `pin` with `aad` bound in. The caller owns `plaintext` and wipes it.
 *
 * @throws CofferError ERR_INTERNAL when `iterations` is not a whole number from 1 to
 *   {@link PIN_KDF_MAX_ITERATIONS}, or `plaintext`/`aad` are not Buffers.
 */
export async function sealWithPin(
  plaintext: Buffer,
  pin: string,
  aad: Buffer,
  iterations: number,
): Promise<PinSealed> {
  if (!Buffer.isBuffer(plaintext) || !Buffer.isBuffer(aad)) {
    throw new CofferError(
      'ERR_INTERNAL',
      'Sealing under a PIN needs the plaintext and associated data as Buffers.',
    );
  }
  checkPinIterations(iterations);
  const salt = randomBytes(PIN_SALT_BYTES);
  const iv = randomBytes(PIN_IV_BYTES);
  const key = await derivePinKey(pin, salt, iterations);
  try {
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: PIN_TAG_BYTES });
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      kdf: 'PBKDF2-SHA256',
      iterations,
      salt: salt.toString('base64'),
      cipher: 'AES-256-GCM',
      iv: iv.toString('base64'),
      ciphertext: body.toString('base64'),
    };
  } finally {
    key.fill(0);
  }
}

/**
 * Opens what {@link sealWithPin} sealed with the same `aad`. The caller wipes the result.
 *
 * @throws CofferError ERR_PIN_WRONG (with `wrongPinMessage`) when it does not open: a wrong PIN, a
 *   sealed part moved from another file, or a tampered one, all alike.
 */
export async function openWithPin(
  sealed: PinSealed,
  pin: string,
  aad: Buffer,
  wrongPinMessage = 'The PIN is wrong.',
): Promise<Buffer> {
  const key = await derivePinKey(pin, Buffer.from(sealed.salt, 'base64'), sealed.iterations);
  try {
    const body = Buffer.from(sealed.ciphertext, 'base64');
    if (body.length < PIN_TAG_BYTES) throw new Error('too short');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'), {
      authTagLength: PIN_TAG_BYTES,
    });
    decipher.setAAD(aad);
    decipher.setAuthTag(body.subarray(body.length - PIN_TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - PIN_TAG_BYTES)), decipher.final()]);
  } catch {
    throw new CofferError('ERR_PIN_WRONG', wrongPinMessage);
  } finally {
    key.fill(0);
  }
}

/** @throws CofferError ERR_INTERNAL when `iterations` is out of range. */
export function checkPinIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > PIN_KDF_MAX_ITERATIONS) {
    throw new CofferError(
      'ERR_INTERNAL',
      `PIN key derivation iterations must be a whole number from 1 to ${PIN_KDF_MAX_ITERATIONS}.`,
    );
  }
}

async function derivePinKey(pin: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const pinBytes = Buffer.from(normalisePin(String(pin)), 'utf8');
  try {
    return await pbkdf2Async(pinBytes, salt, iterations, AES_KEY_BYTES, 'sha256');
  } finally {
    pinBytes.fill(0);
  }
}
