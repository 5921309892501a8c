import { CofferError } from '../errors.js';

/**
 * The few DER shapes the crypto engine reads and writes itself (SM2 signatures and ciphertexts,
 * PKCS#8 and SPKI envelopes of SM2 keys, RSA DigestInfo): definite lengths, minimal encodings,
 * nothing else. Everything malformed is ERR_CRYPTO_INPUT; callers that verify turn it into "invalid".
 */

export const DER_INTEGER = 0x02;
export const DER_BIT_STRING = 0x03;
export const DER_OCTET_STRING = 0x04;
export const DER_NULL = 0x05;
export const DER_OID = 0x06;
export const DER_SEQUENCE = 0x30;

export interface DerElement {
  readonly tag: number;
  readonly value: Buffer;
}

function malformed(what: string): CofferError {
  return new CofferError('ERR_CRYPTO_INPUT', `The DER encoding is malformed: ${what}.`);
}

/**
 * Reads the TLVs that exactly fill `bytes` (the content of a constructed element).
 *
 * @throws CofferError ERR_CRYPTO_INPUT for anything but minimal, definite-length, single-byte-tag DER.
 */
export function readDerElements(bytes: Buffer): DerElement[] {
  const out: DerElement[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 2) throw malformed('truncated header');
    const tag = bytes[at]!;
    if ((tag & 0x1f) === 0x1f) throw malformed('multi-byte tag');
    let length = bytes[at + 1]!;
    at += 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 3) throw malformed('unsupported length form');
      if (bytes.length - at < count) throw malformed('truncated length');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[at + i]!;
      if (bytes[at] === 0 || length < 0x80) throw malformed('non-minimal length');
      at += count;
    }
    if (bytes.length - at < length) throw malformed('truncated value');
    out.push({ tag, value: bytes.subarray(at, at + length) });
    at += length;
  }
  return out;
}

/**
 * Reads one element that fills `bytes` exactly and checks its tag.
 *
 * @throws CofferError ERR_CRYPTO_INPUT when the tag differs or bytes are left over.
 */
export function readDerElement(bytes: Buffer, tag: number): DerElement {
  const elements = readDerElements(bytes);
  if (elements.length !== 1 || elements[0]!.tag !== tag)
    throw malformed(`expected one element of tag ${tag}`);
  return elements[0]!;
}

/** The children of the SEQUENCE that fills `bytes`, checked against `tags`. */
export function readDerSequence(bytes: Buffer, tags: readonly number[]): Buffer[] {
  const children = readDerElements(readDerElement(bytes, DER_SEQUENCE).value);
  if (children.length !== tags.length || children.some((c, i) => c.tag !== tags[i])) {
    throw malformed('unexpected sequence layout');
  }
  return children.map((c) => c.value);
}

/**
 * The unsigned big-endian magnitude of a DER INTEGER's content.
 *
 * @throws CofferError ERR_CRYPTO_INPUT for an empty, negative or non-minimal integer.
 */
export function readDerUnsigned(content: Buffer): Buffer {
  if (content.length === 0) throw malformed('empty integer');
  if (content[0]! & 0x80) throw malformed('negative integer');
  if (content.length > 1 && content[0] === 0 && !(content[1]! & 0x80)) throw malformed('non-minimal integer');
  return content[0] === 0 && content.length > 1 ? content.subarray(1) : content;
}

/** One TLV with a minimal definite length. */
export function encodeDer(tag: number, value: Uint8Array): Buffer {
  const n = value.length;
  const header =
    n < 0x80
      ? [tag, n]
      : n < 0x100
        ? [tag, 0x81, n]
        : n < 0x10000
          ? [tag, 0x82, n >> 8, n & 0xff]
          : [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(header), value]);
}

/** A DER INTEGER holding the unsigned big-endian `magnitude` (leading zeros dropped, sign byte added). */
export function encodeDerUnsigned(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = Buffer.from(magnitude.subarray(start));
  const content =
    trimmed.length === 0 || trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return encodeDer(DER_INTEGER, content);
}

export function encodeDerSequence(...children: Uint8Array[]): Buffer {
  return encodeDer(DER_SEQUENCE, Buffer.concat(children));
}
