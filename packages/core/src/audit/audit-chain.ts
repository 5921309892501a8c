/**
 * The audit hash chain (DESIGN §8, STYLE item 10): each entry's digest covers the previous entry's
 * digest and a canonical encoding of the entry, so editing, deleting or reordering any entry breaks
 * the chain at that entry. Pure functions; the log that writes entries is `audit-log.ts`.
 */
import { createHash } from 'node:crypto';
import { CofferError } from '../errors.js';
import type { AuditEntry } from '../store/port.js';

/** The `prevDigest` of the first entry: 32 zero bytes, in hex. */
export const GENESIS_DIGEST = '0'.repeat(64);

/** The fields of an entry that its digest covers (everything except the two digests). */
export type AuditFields = Omit<AuditEntry, 'prevDigest' | 'digest'>;

// A version tag first, so that a future encoding can never produce the same bytes as this one.
const ENCODING_TAG = 'coffer-audit-v1';
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;
// With the `u` flag this class matches only unpaired surrogates. UTF-8 encodes every one of them as
// U+FFFD, so two different strings would share bytes: refuse them to keep the encoding injective.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function encodeText(name: string, value: string): Buffer {
  if (typeof value !== 'string') {
    throw new CofferError('ERR_BAD_REQUEST', `The audit field ${name} must be text.`, { field: name });
  }
  if (LONE_SURROGATE.test(value)) {
    throw new CofferError('ERR_BAD_REQUEST', `The audit field ${name} is not well-formed Unicode text.`, {
      field: name,
    });
  }
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * The canonical bytes of an entry: the version tag, then `seq` as an unsigned 64-bit big-endian
 * integer, then time, source, account, clientIp, businessType, result, content and details, each as
 * a 32-bit big-endian byte length followed by its UTF-8 bytes. Length prefixes make the encoding
 * unambiguous (no field can spill into the next), and the fixed field order keeps it independent of
 * object key order.
 *
 * @throws CofferError `ERR_BAD_REQUEST` when `seq` is not a positive safe integer or a field is not
 *   well-formed Unicode text (a lone surrogate).
 */
export function canonicalAuditBytes(fields: AuditFields): Buffer {
  if (!Number.isSafeInteger(fields.seq) || fields.seq < 1) {
    throw new CofferError('ERR_BAD_REQUEST', 'The audit sequence number must be a positive integer.', {
      field: 'seq',
    });
  }
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(fields.seq));
  return Buffer.concat([
    encodeText('tag', ENCODING_TAG),
    seq,
    encodeText('time', fields.time),
    encodeText('source', fields.source),
    encodeText('account', fields.account),
    encodeText('clientIp', fields.clientIp),
    encodeText('businessType', fields.businessType),
    encodeText('result', fields.result),
    encodeText('content', fields.content),
    encodeText('details', fields.details),
  ]);
}

/**
 * The digest of one entry: hex SHA-256 over the 32 bytes of `prevDigest` followed by
 * `canonicalAuditBytes(fields)`.
 *
 * @throws CofferError `ERR_BAD_REQUEST` when `prevDigest` is not 64 lowercase hex digits, or as
 *   `canonicalAuditBytes` does.
 */
export function computeAuditDigest(prevDigest: string, fields: AuditFields): string {
  if (!DIGEST_PATTERN.test(prevDigest)) {
    throw new CofferError('ERR_BAD_REQUEST', 'The previous audit digest must be 64 lowercase hex digits.', {
      field: 'prevDigest',
    });
  }
  return createHash('sha256')
    .update(Buffer.from(prevDigest, 'hex'))
    .update(canonicalAuditBytes(fields))
    .digest('hex');
}

/**
 * Why a chain does not verify:
 * - `seq-gap`: the entry at this place does not carry the next sequence number (an entry was deleted,
 *   inserted or moved);
 * - `broken-link`: the entry's `prevDigest` is not the digest of the entry before it;
 * - `wrong-digest`: the entry's `digest` does not match its contents (the entry was edited);
 * - `malformed`: the entry cannot be encoded at all (not text, or not well-formed text).
 */
export type AuditChainBreak = 'seq-gap' | 'broken-link' | 'wrong-digest' | 'malformed';

/**
 * The outcome of a verification. `head` is the digest of the last entry verified (the start digest
 * when there were none); `badSeq` is the first sequence number that cannot be trusted: the entry
 * whose link or digest is wrong, or, for a gap, the number that was expected at that place.
 */
export type VerifyResult =
  | { ok: true; count: number; head: string }
  | { ok: false; badSeq: number; reason: AuditChainBreak; message: string };

/** Where a chain (or the part of one being verified) starts. */
export interface AuditChainStart {
  /** The digest of the entry just before the first one given; `GENESIS_DIGEST` for a whole log. */
  digest: string;
  /** The sequence number of that entry; 0 for a whole log. Omit to accept any first number. */
  seq?: number;
}

/**
 * Checks that `entries` (in order) form an unbroken chain starting from `start` (by default the
 * genesis: the first entry must be seq 1 with `prevDigest` = `GENESIS_DIGEST`). Pass the digest and
 * seq of the last entry already verified to continue over the next page of a long log. A break is a
 * normal outcome here, so it is returned rather than thrown.
 *
 * This detects any edit, deletion, insertion or reordering inside the entries given; it cannot
 * notice that entries were cut off the end, which only an anchor of the head held elsewhere can.
 */
export function verifyAuditChain(
  entries: readonly AuditEntry[],
  start: string | AuditChainStart = GENESIS_DIGEST,
): VerifyResult {
  const from = typeof start === 'string' ? { digest: start } : start;
  let head = from.digest;
  // From the genesis the numbering is known; a continuation without a seq accepts its first number.
  let lastSeq: number | undefined = from.seq ?? (from.digest === GENESIS_DIGEST ? 0 : undefined);
  for (const entry of entries) {
    const expected = lastSeq === undefined ? entry.seq : lastSeq + 1;
    if (entry.seq !== expected) {
      return {
        ok: false,
        badSeq: expected,
        reason: 'seq-gap',
        message: `The audit entry expected at sequence ${expected} is missing or out of place (found ${entry.seq}).`,
      };
    }
    if (entry.prevDigest !== head) {
      return {
        ok: false,
        badSeq: entry.seq,
        reason: 'broken-link',
        message: `The audit entry ${entry.seq} does not link to the entry before it.`,
      };
    }
    let digest: string;
    try {
      digest = computeAuditDigest(entry.prevDigest, entry);
    } catch {
      return {
        ok: false,
        badSeq: entry.seq,
        reason: 'malformed',
        message: `The audit entry ${entry.seq} holds a field that cannot be encoded.`,
      };
    }
    if (digest !== entry.digest) {
      return {
        ok: false,
        badSeq: entry.seq,
        reason: 'wrong-digest',
        message: `The audit entry ${entry.seq} does not match its digest.`,
      };
    }
    head = digest;
    lastSeq = entry.seq;
  }
  return { ok: true, count: entries.length, head };
}
