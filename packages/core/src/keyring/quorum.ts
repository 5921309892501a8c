import { combine, split } from 'shamir-secret-sharing';
import { CofferError } from '../errors.js';
import { MK_BYTES } from './master-key.js';

/** Any two of the three Device Managers boot the device (DESIGN §3, the manual's Auth2Boot). */
export const QUORUM_SHARES = 3;
export const QUORUM_THRESHOLD = 2;
/** The library appends the share's x coordinate as one extra byte. */
export const SHARE_BYTES = MK_BYTES + 1;

/**
 * Splits the master key 2-of-3 with Shamir's scheme (the audited `shamir-secret-sharing` library).
 * Share `i` belongs to slot A(i+1).
 *
 * @throws CofferError ERR_INTERNAL when `mk` is not 16 bytes.
 */
export async function splitMasterKey(mk: Buffer): Promise<[Buffer, Buffer, Buffer]> {
  if (!Buffer.isBuffer(mk) || mk.length !== MK_BYTES) {
    throw new CofferError('ERR_INTERNAL', `A master key is ${MK_BYTES} bytes.`);
  }
  // The library checks `constructor === Uint8Array`, so a Buffer must be copied into a plain one.
  const secret = new Uint8Array(mk);
  try {
    const shares = await split(secret, QUORUM_SHARES, QUORUM_THRESHOLD);
    const out = shares.map((s) => {
      const b = Buffer.from(s);
      s.fill(0);
      return b;
    });
    return [out[0]!, out[1]!, out[2]!];
  } finally {
    secret.fill(0);
  }
}

/**
 * Rebuilds the master key from two (or three) shares. Shares from different key domains combine
 * to a wrong key without any error: the caller compares the result's KCV with the stored one.
 *
 * @throws CofferError ERR_BAD_REQUEST when there are fewer than two shares, a share is not
 *   17 bytes, or two shares are the same share (the same card presented twice).
 */
export async function combineShares(shares: Buffer[]): Promise<Buffer> {
  if (shares.length < QUORUM_THRESHOLD || shares.length > QUORUM_SHARES) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `The master key needs ${QUORUM_THRESHOLD} or ${QUORUM_SHARES} shares; ${shares.length} were given.`,
    );
  }
  if (shares.some((s) => !Buffer.isBuffer(s) || s.length !== SHARE_BYTES)) {
    throw new CofferError('ERR_BAD_REQUEST', `A master-key share is ${SHARE_BYTES} bytes.`);
  }
  // The last byte is the share's x coordinate; the same x twice means the same share twice, which
  // the library would refuse with an untyped error.
  const xs = new Set(shares.map((s) => s[SHARE_BYTES - 1]));
  if (xs.size !== shares.length) {
    throw new CofferError('ERR_BAD_REQUEST', 'The same master-key share was given twice.');
  }
  const copies = shares.map((s) => new Uint8Array(s));
  try {
    const secret = await combine(copies);
    const mk = Buffer.from(secret);
    secret.fill(0);
    return mk;
  } finally {
    for (const c of copies) c.fill(0);
  }
}
