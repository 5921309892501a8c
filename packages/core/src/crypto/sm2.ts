import { createECDH, createHash, type KeyObject, timingSafeEqual } from 'node:crypto';
import {
  type WeierstrassPoint,
  type WeierstrassPointCons,
  weierstrass,
} from '@noble/curves/abstract/weierstrass.js';
import { CofferError } from '../errors.js';
import { asymmetricKeyKind, publicHalf } from './asymmetric-keys.js';
import {
  DER_BIT_STRING,
  DER_INTEGER,
  DER_OCTET_STRING,
  DER_SEQUENCE,
  encodeDer,
  encodeDerSequence,
  encodeDerUnsigned,
  readDerElement,
  readDerElements,
  readDerSequence,
  readDerUnsigned,
} from './der.js';
import { asBuffer, assertByteRange, assertBytes, bigintToBytes, bytesToBigint } from './input-checks.js';

/**
 * SM2 as GB/T 32918 defines it: signatures over e = SM3(Z ‖ M) with the signer's Z-value, and
 * public-key encryption C1 ‖ C3 ‖ C2. Node 20 cannot set the signer ID (it signs with an empty one),
 * so the engine computes Z and e itself and applies the standard's equations; the curve arithmetic
 * is @noble/curves' audited short-Weierstrass implementation, the random k·G of signing and
 * encryption is OpenSSL's (createECDH on the SM2 curve). See docs/crypto.md.
 */

/** The default signer ID of GM/T 0009-2012 §10, used when the caller names none. */
export const SM2_DEFAULT_ID: Buffer = Buffer.from('1234567812345678', 'latin1');
/** ENTL is a 16-bit count of bits, so an ID has at most 8191 bytes. */
export const SM2_MAX_ID_BYTES = 8191;

/** Curve parameters as the standard writes them (all 256-bit here). */
export interface Sm2CurveParams {
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly Gx: bigint;
  readonly Gy: bigint;
  readonly n: bigint;
}

export interface Sm2Curve {
  readonly params: Sm2CurveParams;
  readonly Point: WeierstrassPointCons<bigint>;
  /** a ‖ b ‖ xG ‖ yG, the curve part of every Z-value. */
  readonly zCurveBytes: Buffer;
}

/** The recommended curve of GB/T 32918.5-2017 (the only one keys are made on). */
export const SM2_RECOMMENDED_PARAMS: Sm2CurveParams = {
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  Gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  Gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
};

/** Builds the arithmetic for a 256-bit SM2 curve (the recommended one, or the standard's example curves). */
export function defineSm2Curve(params: Sm2CurveParams): Sm2Curve {
  const Point = weierstrass({ ...params, h: 1n });
  const zCurveBytes = Buffer.concat(
    [params.a, params.b, params.Gx, params.Gy].map((v) => bigintToBytes(v, 32)),
  );
  return { params, Point, zCurveBytes };
}

export const SM2_CURVE: Sm2Curve = defineSm2Curve(SM2_RECOMMENDED_PARAMS);

type Point = WeierstrassPoint<bigint>;

// ───────────────────────── the standard's equations, over any 256-bit SM2 curve ─────────────────────────

function sm3(...parts: Uint8Array[]): Buffer {
  const h = createHash('sm3');
  for (const part of parts) h.update(part);
  return h.digest();
}

/** Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GB/T 32918.2 §5.5). */
export function computeZ(curve: Sm2Curve, id: Uint8Array, publicPoint: Point): Buffer {
  const bits = id.length * 8;
  const { x, y } = publicPoint.toAffine();
  return sm3(
    Buffer.from([bits >> 8, bits & 0xff]),
    id,
    curve.zCurveBytes,
    bigintToBytes(x, 32),
    bigintToBytes(y, 32),
  );
}

/**
 * Signature generation steps A4–A6 (GB/T 32918.2 §6.1) for a nonce k with k·G = (x1, ·).
 * Returns null when the standard says to draw another k (r = 0, r + k = n, s = 0).
 */
export function signWithNonce(
  curve: Sm2Curve,
  d: bigint,
  e: bigint,
  k: bigint,
  x1: bigint,
): { r: bigint; s: bigint } | null {
  const { n } = curve.params;
  const Fn = curve.Point.Fn;
  const r = Fn.create(e + x1);
  if (r === 0n || r + k === n) return null;
  const s = Fn.mul(Fn.inv(Fn.create(1n + d)), Fn.sub(Fn.create(k), Fn.mul(r, d)));
  return s === 0n ? null : { r, s };
}

/** Signature verification steps B1–B7 (GB/T 32918.2 §7.1) over a digest e already computed. */
export function verifyEquation(
  curve: Sm2Curve,
  publicPoint: Point,
  e: bigint,
  r: bigint,
  s: bigint,
): boolean {
  const { n } = curve.params;
  if (r < 1n || r >= n || s < 1n || s >= n) return false;
  const t = (r + s) % n;
  if (t === 0n) return false;
  const sum = curve.Point.BASE.multiplyUnsafe(s).add(publicPoint.multiplyUnsafe(t));
  if (sum.is0()) return false;
  return (e + sum.toAffine().x) % n === r;
}

/** KDF of GB/T 32918.4 §5.4.3 with SM3: Ha_1 ‖ Ha_2 ‖ … truncated to `length` bytes. */
export function sm2Kdf(z: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(Math.ceil(length / 32) * 32);
  const counter = Buffer.alloc(4);
  for (let i = 0; i * 32 < length; i++) {
    counter.writeUInt32BE(i + 1);
    sm3(z, counter).copy(out, i * 32);
  }
  return out.subarray(0, length);
}

export interface Sm2CiphertextParts {
  readonly c1: Point;
  readonly c3: Buffer;
  readonly c2: Buffer;
}

/**
 * Encryption steps A2–A8 (GB/T 32918.4 §6.1) for a nonce k; returns null when t is all zeros and
 * the standard says to draw another k.
 */
export function encryptWithNonce(
  curve: Sm2Curve,
  publicPoint: Point,
  message: Uint8Array,
  k: bigint,
  c1?: Point,
): Sm2CiphertextParts | null {
  const shared = publicPoint.multiply(k).toAffine();
  const x2 = bigintToBytes(shared.x, 32);
  const y2 = bigintToBytes(shared.y, 32);
  const t = sm2Kdf(Buffer.concat([x2, y2]), message.length);
  if (t.every((byte) => byte === 0)) return null;
  const c2 = Buffer.alloc(message.length);
  for (let i = 0; i < message.length; i++) c2[i] = message[i]! ^ t[i]!;
  return { c1: c1 ?? curve.Point.BASE.multiply(k), c3: sm3(x2, message, y2), c2 };
}

/**
 * Decryption steps B1–B7 (GB/T 32918.4 §7.1).
 *
 * @throws CofferError ERR_CIPHERTEXT when C1 is not on the curve, t is all zeros or C3 does not match.
 */
export function decryptParts(d: bigint, parts: Sm2CiphertextParts): Buffer {
  const refused = () => new CofferError('ERR_CIPHERTEXT', 'The SM2 ciphertext does not open with this key.');
  let shared: { x: bigint; y: bigint };
  try {
    parts.c1.assertValidity();
    shared = parts.c1.multiply(d).toAffine();
  } catch {
    throw refused();
  }
  const x2 = bigintToBytes(shared.x, 32);
  const y2 = bigintToBytes(shared.y, 32);
  const t = sm2Kdf(Buffer.concat([x2, y2]), parts.c2.length);
  if (t.every((byte) => byte === 0)) throw refused();
  const message = Buffer.alloc(parts.c2.length);
  for (let i = 0; i < message.length; i++) message[i] = parts.c2[i]! ^ t[i]!;
  if (parts.c3.length !== 32 || !timingSafeEqual(sm3(x2, message, y2), parts.c3)) throw refused();
  return message;
}

// ───────────────────────── keys ─────────────────────────

const privateScalars = new WeakMap<KeyObject, bigint>();
const publicPoints = new WeakMap<KeyObject, Point>();

function assertSm2Key(key: KeyObject): void {
  if (asymmetricKeyKind(key) !== 'sm2') {
    throw new CofferError('ERR_ALGORITHM', 'This operation needs an SM2 key.');
  }
}

function malformedKey(cause?: unknown): CofferError {
  return new CofferError('ERR_CRYPTO_INPUT', 'The SM2 key is malformed.', { field: 'key' }, { cause });
}

/** The public point of an SM2 key (public or private), read once from its SPKI and remembered. */
export function sm2PublicPoint(key: KeyObject): Point {
  let point = publicPoints.get(key);
  if (point) return point;
  assertSm2Key(key);
  const [, bits] = readDerSequence(publicHalf(key).export({ type: 'spki', format: 'der' }), [
    DER_SEQUENCE,
    DER_BIT_STRING,
  ]);
  if (bits![0] !== 0) throw malformedKey();
  try {
    point = SM2_CURVE.Point.fromBytes(bits!.subarray(1));
    point.assertValidity();
  } catch (cause) {
    throw new CofferError(
      'ERR_CRYPTO_INPUT',
      'The SM2 public key is not a point of the curve.',
      { field: 'publicKey' },
      { cause },
    );
  }
  publicPoints.set(key, point);
  return point;
}

/** d of an SM2 private key, read once from its PKCS#8 (RFC 5915 ECPrivateKey inside) and remembered. */
function sm2PrivateScalar(key: KeyObject): bigint {
  let d = privateScalars.get(key);
  if (d !== undefined) return d;
  assertSm2Key(key);
  if (key.type !== 'private')
    throw new CofferError('ERR_ALGORITHM', 'This operation needs the SM2 private key.');
  const [, , inner] = readDerSequence(key.export({ type: 'pkcs8', format: 'der' }), [
    DER_INTEGER,
    DER_SEQUENCE,
    DER_OCTET_STRING,
  ]);
  const ecPrivateKey = readDerElements(readDerElement(inner!, DER_SEQUENCE).value);
  if (ecPrivateKey.length < 2 || ecPrivateKey[1]!.tag !== DER_OCTET_STRING) throw malformedKey();
  d = bytesToBigint(ecPrivateKey[1]!.value);
  // d = n − 1 would make 1 + d non-invertible; GB/T 32918.1 §6.1 draws d from [1, n − 2].
  if (d < 1n || d > SM2_RECOMMENDED_PARAMS.n - 2n) throw malformedKey();
  privateScalars.set(key, d);
  return d;
}

/** A fresh nonce from OpenSSL: k uniform in [1, n − 1] and k·G computed in C. */
function drawNonce(): { k: bigint; kG: Buffer } {
  const ecdh = createECDH('SM2');
  const kG = ecdh.generateKeys();
  return { k: bytesToBigint(ecdh.getPrivateKey()), kG };
}

function assertId(id: Uint8Array): void {
  assertByteRange(id, 'id', 0, SM2_MAX_ID_BYTES);
}

// ───────────────────────── the API the service uses ─────────────────────────

/**
 * Z of the signer `publicKey` for `id` (default 1234567812345678).
 *
 * @throws CofferError ERR_ALGORITHM when the key is not SM2; ERR_CRYPTO_INPUT for an ID over 8191 bytes.
 */
export function computeSm2Z(publicKey: KeyObject, id: Uint8Array = SM2_DEFAULT_ID): Buffer {
  assertId(id);
  return computeZ(SM2_CURVE, id, sm2PublicPoint(publicKey));
}

/**
 * e = SM3(Z ‖ M): the digest an SM2 signature covers (what "SM3 with the SM2 Z-value" hashes to).
 *
 * @throws CofferError as computeSm2Z; ERR_CRYPTO_INPUT when data is not bytes.
 */
export function computeSm2Digest(
  publicKey: KeyObject,
  data: Uint8Array,
  id: Uint8Array = SM2_DEFAULT_ID,
): Buffer {
  assertBytes(data, 'data');
  return sm3(computeSm2Z(publicKey, id), data);
}

export type Sm2SignatureFormat = 'der' | 'raw';

export interface Sm2SignOptions {
  /** The signer ID for Z (default 1234567812345678); not allowed with `prehashed`. */
  readonly id?: Uint8Array;
  /** `message` is e itself (32 bytes, from computeSm2Digest or the caller's own). */
  readonly prehashed?: boolean;
  /** DER SEQUENCE { r, s } (default, as OpenSSL writes it) or r ‖ s of 32 bytes each. */
  readonly format?: Sm2SignatureFormat;
}

function digestFor(key: KeyObject, message: Uint8Array, options: Sm2SignOptions): Buffer {
  if (options.prehashed) {
    if (options.id !== undefined) {
      throw new CofferError('ERR_CRYPTO_INPUT', 'An SM2 ID has no effect on a precomputed digest; omit it.', {
        field: 'id',
      });
    }
    assertBytes(message, 'digest', 32);
    return asBuffer(message);
  }
  return computeSm2Digest(key, message, options.id);
}

/**
 * An SM2 signature (GB/T 32918.2) with SM3 and the signer ID.
 *
 * @throws CofferError ERR_ALGORITHM unless `privateKey` is an SM2 private key; ERR_CRYPTO_INPUT for a
 *   wrong digest length or ID.
 */
export function signSm2(privateKey: KeyObject, message: Uint8Array, options: Sm2SignOptions = {}): Buffer {
  assertBytes(message, options.prehashed ? 'digest' : 'data');
  const d = sm2PrivateScalar(privateKey);
  const e = bytesToBigint(digestFor(privateKey, message, options));
  for (;;) {
    const { k, kG } = drawNonce();
    const signature = signWithNonce(SM2_CURVE, d, e, k, bytesToBigint(kG.subarray(1, 33)));
    if (signature) return encodeSm2Signature(signature.r, signature.s, options.format ?? 'der');
  }
}

/**
 * Whether `signature` is a valid SM2 signature of `message` by `publicKey` for the ID.
 * A malformed signature is simply not valid.
 *
 * @throws CofferError ERR_ALGORITHM unless the key is SM2; ERR_CRYPTO_INPUT for a wrong digest length or ID.
 */
export function verifySm2(
  publicKey: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  options: Sm2SignOptions = {},
): boolean {
  assertBytes(message, options.prehashed ? 'digest' : 'data');
  assertBytes(signature, 'signature');
  const point = sm2PublicPoint(publicKey);
  const e = bytesToBigint(digestFor(publicKey, message, options));
  const rs = decodeSm2Signature(asBuffer(signature), options.format ?? 'der');
  return rs !== null && verifyEquation(SM2_CURVE, point, e, rs.r, rs.s);
}

function encodeSm2Signature(r: bigint, s: bigint, format: Sm2SignatureFormat): Buffer {
  const rb = bigintToBytes(r, 32);
  const sb = bigintToBytes(s, 32);
  return format === 'raw'
    ? Buffer.concat([rb, sb])
    : encodeDerSequence(encodeDerUnsigned(rb), encodeDerUnsigned(sb));
}

function decodeSm2Signature(signature: Buffer, format: Sm2SignatureFormat): { r: bigint; s: bigint } | null {
  if (format === 'raw') {
    return signature.length === 64
      ? { r: bytesToBigint(signature.subarray(0, 32)), s: bytesToBigint(signature.subarray(32)) }
      : null;
  }
  try {
    const [r, s] = readDerSequence(signature, [DER_INTEGER, DER_INTEGER]);
    return { r: bytesToBigint(readDerUnsigned(r!)), s: bytesToBigint(readDerUnsigned(s!)) };
  } catch {
    return null;
  }
}

/**
 * `der`: SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING } (GM/T 0009-2012
 * §7.2, what `openssl pkeyutl -encrypt` writes and reads); `c1c3c2`: 04 ‖ x ‖ y ‖ C3 ‖ C2 raw.
 */
export type Sm2CiphertextFormat = 'der' | 'c1c3c2';

/**
 * SM2 public-key encryption (GB/T 32918.4) of a non-empty message.
 *
 * @throws CofferError ERR_ALGORITHM unless the key is SM2; ERR_CRYPTO_INPUT for an empty message.
 */
export function encryptSm2(
  publicKey: KeyObject,
  plaintext: Uint8Array,
  format: Sm2CiphertextFormat = 'der',
): Buffer {
  assertByteRange(plaintext, 'plaintext', 1, 0x7fffffff);
  const point = sm2PublicPoint(publicKey);
  for (;;) {
    const { k, kG } = drawNonce();
    const parts = encryptWithNonce(SM2_CURVE, point, plaintext, k, SM2_CURVE.Point.fromBytes(kG));
    if (parts) return encodeSm2Ciphertext(parts, format);
  }
}

/**
 * Decrypts an SM2 ciphertext in either form (DER is recognised by its SEQUENCE tag, raw by the 04 of C1).
 *
 * @throws CofferError ERR_CIPHERTEXT when it does not open; ERR_CRYPTO_INPUT when it is malformed;
 *   ERR_ALGORITHM unless the key is an SM2 private key.
 */
export function decryptSm2(privateKey: KeyObject, ciphertext: Uint8Array): Buffer {
  assertBytes(ciphertext, 'ciphertext');
  const d = sm2PrivateScalar(privateKey);
  return decryptParts(d, decodeSm2Ciphertext(SM2_CURVE, asBuffer(ciphertext)));
}

export function encodeSm2Ciphertext(parts: Sm2CiphertextParts, format: Sm2CiphertextFormat): Buffer {
  const c1 = parts.c1.toBytes(false);
  if (format === 'c1c3c2') return Buffer.concat([c1, parts.c3, parts.c2]);
  return encodeDerSequence(
    encodeDerUnsigned(c1.subarray(1, 33)),
    encodeDerUnsigned(c1.subarray(33, 65)),
    encodeDer(DER_OCTET_STRING, parts.c3),
    encodeDer(DER_OCTET_STRING, parts.c2),
  );
}

export function decodeSm2Ciphertext(curve: Sm2Curve, ciphertext: Buffer): Sm2CiphertextParts {
  const malformed = () =>
    new CofferError('ERR_CRYPTO_INPUT', 'The SM2 ciphertext is neither DER nor C1 ‖ C3 ‖ C2.', {
      field: 'ciphertext',
    });
  let x: bigint;
  let y: bigint;
  let c3: Buffer;
  let c2: Buffer;
  if (ciphertext[0] === 0x04) {
    if (ciphertext.length < 1 + 64 + 32 + 1) throw malformed();
    x = bytesToBigint(ciphertext.subarray(1, 33));
    y = bytesToBigint(ciphertext.subarray(33, 65));
    c3 = ciphertext.subarray(65, 97);
    c2 = ciphertext.subarray(97);
  } else {
    let fields: Buffer[];
    try {
      fields = readDerSequence(ciphertext, [DER_INTEGER, DER_INTEGER, DER_OCTET_STRING, DER_OCTET_STRING]);
      x = bytesToBigint(readDerUnsigned(fields[0]!));
      y = bytesToBigint(readDerUnsigned(fields[1]!));
    } catch {
      throw malformed();
    }
    c3 = fields[2]!;
    c2 = fields[3]!;
    if (c3.length !== 32 || c2.length === 0) throw malformed();
  }
  if (x >= curve.params.p || y >= curve.params.p) throw malformed();
  return { c1: new curve.Point(x, y, 1n), c3, c2 };
}
