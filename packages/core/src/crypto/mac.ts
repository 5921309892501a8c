import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { CofferError } from '../errors.js';
import { opensslCipherName } from './cipher.js';
import { assertBytes, assertOneOf } from './input-checks.js';
import { type SecretKey, secretKeyLength } from './secret-key.js';

/** MACs, by the names the API and the protocol use: HMAC, and CMAC over a block cipher (SP 800-38B). */
export const MAC_ALGORITHMS = [
  'hmac-sha256',
  'hmac-sha384',
  'hmac-sha512',
  'hmac-sm3',
  'aes-cmac',
  'sm4-cmac',
  '3des-cmac',
] as const;
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];

/** The shortest MAC the device gives or accepts (64 bits; SP 800-38B appendix A and SP 800-107 §5.3.3). */
export const MIN_MAC_BYTES = 8;

const FULL_BYTES: Record<MacAlgorithm, number> = {
  'hmac-sha256': 32,
  'hmac-sha384': 48,
  'hmac-sha512': 64,
  'hmac-sm3': 32,
  'aes-cmac': 16,
  'sm4-cmac': 16,
  '3des-cmac': 8,
};

/** The untruncated MAC length of `algorithm` in bytes. */
export function macLength(algorithm: MacAlgorithm): number {
  return FULL_BYTES[algorithm];
}

/**
 * CMAC (SP 800-38B §6.2): CBC-MAC with a zero IV over the message whose last block is XORed with
 * the subkey K1 (complete) or padded with 10…0 and XORed with K2. The block cipher is OpenSSL's.
 */
function cmac(cipher: 'aes' | 'sm4' | '3des', key: SecretKey, data: Uint8Array): Buffer {
  const keyBytes = secretKeyLength(
    key,
    ...(cipher === 'aes' ? [16, 24, 32] : cipher === 'sm4' ? [16] : [24, 16]),
  );
  const b = cipher === '3des' ? 8 : 16;
  const rb = b === 16 ? 0x87 : 0x1b;
  const ecb = createCipheriv(opensslCipherName(cipher, 'ecb', keyBytes), key, null).setAutoPadding(false);
  const l = ecb.update(Buffer.alloc(b));
  const k1 = double(l, rb);
  const blocks = Math.max(1, Math.ceil(data.length / b));
  const complete = data.length > 0 && data.length % b === 0;
  const message = Buffer.alloc(blocks * b);
  message.set(data);
  if (!complete) message[data.length] = 0x80;
  const subkey = complete ? k1 : double(k1, rb);
  for (let i = 0; i < b; i++) message[(blocks - 1) * b + i]! ^= subkey[i]!;
  const cbc = createCipheriv(opensslCipherName(cipher, 'cbc', keyBytes), key, Buffer.alloc(b)).setAutoPadding(
    false,
  );
  const out = cbc.update(message);
  return out.subarray(out.length - b);
}

/** Multiplication by x in GF(2^b) (SP 800-38B §6.1 step 2–3). */
function double(block: Buffer, rb: number): Buffer {
  const out = Buffer.alloc(block.length);
  for (let i = 0; i < block.length; i++) out[i] = ((block[i]! << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  out[out.length - 1]! ^= -(block[0]! >> 7) & rb;
  return out;
}

function fullMac(algorithm: MacAlgorithm, key: SecretKey, data: Uint8Array): Buffer {
  switch (algorithm) {
    case 'hmac-sha256':
    case 'hmac-sha384':
    case 'hmac-sha512':
    case 'hmac-sm3':
      secretKeyLength(key);
      return createHmac(algorithm.slice(5), key).update(data).digest();
    case 'aes-cmac':
      return cmac('aes', key, data);
    case 'sm4-cmac':
      return cmac('sm4', key, data);
    case '3des-cmac':
      return cmac('3des', key, data);
  }
}

/**
 * The MAC of `data`, truncated to `length` bytes when given (the leftmost bytes, as SP 800-107 says).
 *
 * @throws CofferError ERR_ALGORITHM for an unknown algorithm; ERR_CRYPTO_INPUT for a key of the wrong
 *   length or a length outside MIN_MAC_BYTES…full.
 */
export function computeMac(
  algorithm: MacAlgorithm,
  key: SecretKey,
  data: Uint8Array,
  length?: number,
): Buffer {
  assertOneOf(algorithm, MAC_ALGORITHMS, 'MAC algorithm');
  assertBytes(data, 'data');
  const full = FULL_BYTES[algorithm];
  if (length !== undefined && (!Number.isInteger(length) || length < MIN_MAC_BYTES || length > full)) {
    throw new CofferError('ERR_CRYPTO_INPUT', `The MAC length must be ${MIN_MAC_BYTES} to ${full} bytes.`, {
      field: 'length',
    });
  }
  return fullMac(algorithm, key, data).subarray(0, length ?? full);
}

/**
 * Whether `mac` is the MAC of `data` (full, or truncated to at least MIN_MAC_BYTES), compared in
 * constant time. A MAC of another length is simply not valid.
 *
 * @throws CofferError ERR_ALGORITHM for an unknown algorithm; ERR_CRYPTO_INPUT for a key of the wrong length.
 */
export function verifyMacTag(
  algorithm: MacAlgorithm,
  key: SecretKey,
  data: Uint8Array,
  mac: Uint8Array,
): { valid: boolean } {
  assertOneOf(algorithm, MAC_ALGORITHMS, 'MAC algorithm');
  assertBytes(data, 'data');
  assertBytes(mac, 'mac');
  const expected = fullMac(algorithm, key, data);
  if (mac.length < MIN_MAC_BYTES || mac.length > expected.length) return { valid: false };
  return { valid: timingSafeEqual(expected.subarray(0, mac.length), mac) };
}
