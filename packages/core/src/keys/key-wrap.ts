import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { CofferError } from '../errors.js';

/**
 * AES key wrap through OpenSSL's ciphers: RFC 3394 (`aes-kw`: input a multiple of 8 bytes, at least
 * 16) and RFC 5649 (`aes-kwp`: any length from 1 byte, padded). Used to import keys wrapped under a
 * stored key-encryption key, and by the crypto service for wrap/unwrap.
 */
export type KeyWrapAlgorithm = 'aes-kw' | 'aes-kwp';

/** RFC 3394 §2.2.3.1 default IV, RFC 5649 §3 alternative IV (the 32-bit prefix; OpenSSL adds the length). */
const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
const KWP_IV = Buffer.from('a65959a6', 'hex');

function kekBytes(kek: KeyObject | Buffer): number {
  const n = Buffer.isBuffer(kek) ? kek.length : kek.type === 'secret' ? (kek.symmetricKeySize ?? 0) : 0;
  if (n !== 16 && n !== 24 && n !== 32) {
    throw new CofferError(
      'ERR_KEY_MATERIAL',
      'A key-encryption key for AES key wrap is an AES-128, -192 or -256 key.',
      {
        field: 'kek',
      },
    );
  }
  return n;
}

function cipherName(alg: KeyWrapAlgorithm, bytes: number): string {
  return `id-aes${bytes * 8}-wrap${alg === 'aes-kwp' ? '-pad' : ''}`;
}

/**
 * Wraps `plaintext` under `kek`.
 *
 * @throws CofferError ERR_KEY_MATERIAL when the KEK is not an AES key, or the input does not fit
 *   the algorithm (RFC 3394: a multiple of 8 bytes, at least 16; RFC 5649: 1 byte or more).
 */
export function wrapKey(
  kek: KeyObject | Buffer,
  plaintext: Buffer,
  alg: KeyWrapAlgorithm = 'aes-kwp',
): Buffer {
  const bytes = kekBytes(kek);
  const ok = alg === 'aes-kw' ? plaintext.length >= 16 && plaintext.length % 8 === 0 : plaintext.length >= 1;
  if (!ok) {
    throw new CofferError(
      'ERR_KEY_MATERIAL',
      alg === 'aes-kw'
        ? 'RFC 3394 key wrap takes a multiple of 8 bytes, at least 16; use aes-kwp (RFC 5649) for other lengths.'
        : 'There is nothing to wrap.',
      { field: 'material' },
    );
  }
  const cipher = createCipheriv(cipherName(alg, bytes), kek, alg === 'aes-kw' ? KW_IV : KWP_IV);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

/**
 * Unwraps `wrapped` under `kek` with `alg`, or, when `alg` is not given, with whichever of RFC 3394
 * and RFC 5649 authenticates it (their integrity values differ, so at most one does).
 *
 * @throws CofferError ERR_KEY_MATERIAL when the KEK is not an AES key or the wrapped key does not
 *   authenticate (wrong KEK, corrupted, or not a wrapped key). One message for every cause.
 */
export function unwrapKey(
  kek: KeyObject | Buffer,
  wrapped: Buffer,
  alg?: KeyWrapAlgorithm,
): { plaintext: Buffer; alg: KeyWrapAlgorithm } {
  const bytes = kekBytes(kek);
  for (const a of alg ? [alg] : (['aes-kw', 'aes-kwp'] as const)) {
    // Both need whole 8-byte blocks, at least two (RFC 3394 §2.2.2; RFC 5649 §4.2).
    if (wrapped.length < 16 || wrapped.length % 8 !== 0) break;
    try {
      const decipher = createDecipheriv(cipherName(a, bytes), kek, a === 'aes-kw' ? KW_IV : KWP_IV);
      const plaintext = Buffer.concat([decipher.update(wrapped), decipher.final()]);
      if (a === 'aes-kw' && plaintext.length < 16) continue;
      return { plaintext, alg: a };
    } catch {
      // try the next algorithm
    }
  }
  throw new CofferError(
    'ERR_KEY_MATERIAL',
    'The wrapped key does not unwrap under this key-encryption key (wrong KEK, or corrupted).',
    { field: 'wrapped' },
  );
}
