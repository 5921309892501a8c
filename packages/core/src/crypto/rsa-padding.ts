import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CofferError } from '../errors.js';

/**
 * The RSA encodings that Node 20 cannot apply to a digest the caller already computed, or no longer
 * decrypts: EMSA-PKCS1-v1_5 DigestInfo, EMSA-PSS (RFC 8017 §9.1) and the EME-PKCS1-v1_5 decoding
 * (RFC 8017 §7.2.2). The RSA operation itself always stays in OpenSSL (privateEncrypt /
 * publicDecrypt / privateDecrypt with RSA_NO_PADDING, blinded); these functions only build or check
 * the padded block. Each is cross-checked in tests against Node's own sign/verify over the data.
 */

export type RsaHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

const HASH_BYTES: Record<RsaHash, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

// RFC 8017 §9.2 note 1: DER of DigestInfo up to the digest itself.
const DIGEST_INFO_PREFIX: Record<RsaHash, Buffer> = {
  sha1: Buffer.from('3021300906052b0e03021a05000414', 'hex'),
  sha224: Buffer.from('302d300d06096086480165030402040500041c', 'hex'),
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** DigestInfo ‖ digest, the block PKCS#1 v1.5 signature padding wraps (RFC 8017 §9.2 step 2). */
export function encodeDigestInfo(hash: RsaHash, digest: Uint8Array): Buffer {
  return Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
}

/** MGF1 (RFC 8017 B.2.1). */
export function mgf1(hash: RsaHash, seed: Uint8Array, length: number): Buffer {
  const hLen = HASH_BYTES[hash];
  const out = Buffer.alloc(Math.ceil(length / hLen) * hLen);
  const counter = Buffer.alloc(4);
  for (let i = 0; i * hLen < length; i++) {
    counter.writeUInt32BE(i);
    createHash(hash)
      .update(seed)
      .update(counter)
      .digest()
      .copy(out, i * hLen);
  }
  return out.subarray(0, length);
}

function pssHash(hash: RsaHash, mHash: Uint8Array, salt: Uint8Array): Buffer {
  return createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
}

/**
 * EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of the message digest `mHash` for a modulus of `modulusBits`,
 * left-padded with zeros to the modulus length so that it can go to RSA_NO_PADDING.
 *
 * @throws CofferError ERR_CRYPTO_INPUT when the salt does not fit the modulus.
 */
export function encodePss(hash: RsaHash, mHash: Uint8Array, modulusBits: number, saltLength: number): Buffer {
  const hLen = HASH_BYTES[hash];
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + saltLength + 2) {
    throw new CofferError('ERR_CRYPTO_INPUT', 'The PSS salt is too long for this key.', {
      field: 'saltLength',
    });
  }
  const salt = randomBytes(saltLength);
  const h = pssHash(hash, mHash, salt);
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - saltLength - hLen - 2] = 0x01;
  salt.copy(db, emLen - saltLength - hLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const k = Math.ceil(modulusBits / 8);
  return Buffer.concat([Buffer.alloc(k - emLen), db, h, Buffer.from([0xbc])]);
}

/**
 * EMSA-PSS-VERIFY (RFC 8017 §9.1.2) of `block`, the k-byte result of the public RSA operation.
 * `saltLength` is the exact salt length the signature must use.
 */
export function verifyPss(
  hash: RsaHash,
  mHash: Uint8Array,
  block: Buffer,
  modulusBits: number,
  saltLength: number,
): boolean {
  const hLen = HASH_BYTES[hash];
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const lead = block.length - emLen;
  if (lead < 0 || block.subarray(0, lead).some((b) => b !== 0)) return false;
  const em = block.subarray(lead);
  if (emLen < hLen + saltLength + 2 || em[emLen - 1] !== 0xbc) return false;
  const masked = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((masked[0]! & ~topMask) !== 0) return false;
  const mask = mgf1(hash, h, masked.length);
  const db = Buffer.alloc(masked.length);
  for (let i = 0; i < db.length; i++) db[i] = masked[i]! ^ mask[i]!;
  db[0]! &= topMask;
  const psLength = emLen - hLen - saltLength - 2;
  if (db.subarray(0, psLength).some((b) => b !== 0) || db[psLength] !== 0x01) return false;
  return timingSafeEqual(pssHash(hash, mHash, db.subarray(psLength + 1)), h);
}

/**
 * EME-PKCS1-v1_5 decoding (RFC 8017 §7.2.2 step 3) of the k-byte result of the private RSA operation:
 * 00 ‖ 02 ‖ PS (≥ 8 non-zero bytes) ‖ 00 ‖ M. The scan touches every byte and branches only at the
 * end, so the one refusal does not tell which check failed; JavaScript gives no stronger timing
 * guarantee (docs/crypto.md: prefer OAEP).
 *
 * @throws CofferError ERR_CIPHERTEXT when the block is not a valid encoding.
 */
export function decodePkcs1Encryption(block: Buffer): Buffer {
  const isZero = (b: number) => ((b | -b) >>> 31) ^ 1;
  let seen = 0;
  let separator = 0;
  for (let i = 2; i < block.length; i++) {
    const zero = isZero(block[i]!);
    const first = zero & (seen ^ 1);
    separator |= -first & i;
    seen |= zero;
  }
  const good = isZero(block[0]!) & isZero(block[1]! ^ 0x02) & seen & ((9 - separator) >>> 31);
  if (good !== 1) {
    throw new CofferError('ERR_CIPHERTEXT', 'The RSA ciphertext does not open with this key.');
  }
  return Buffer.from(block.subarray(separator + 1));
}
