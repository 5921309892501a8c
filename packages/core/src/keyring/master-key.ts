import { CofferError } from '../errors.js';

/** One MK component is 128 bits (DESIGN §3): 32 hex digits on the panel, 16 bytes inside. */
export const MK_PART_HEX_DIGITS = 32;
export const MK_BYTES = 16;

/**
 * Reads one Device Manager's master-key component as typed on the keypad.
 *
 * Exactly 32 hex digits (0–9, A–F, either case); nothing is trimmed, because a component that
 * silently lost or gained a character would build a different key domain.
 *
 * @throws CofferError ERR_MK_PART_FORMAT (`details.field = 'mkPart'`) with a sentence naming the
 *   wrong length or the first character that is not allowed.
 */
export function parseMkPart(hex: string): Buffer {
  // Counted in code points, so the sentence matches what the person sees.
  const chars = Array.from(hex);
  if (chars.length !== MK_PART_HEX_DIGITS) {
    throw new CofferError(
      'ERR_MK_PART_FORMAT',
      `The MK part must be ${MK_PART_HEX_DIGITS} hex digits; this one has ${chars.length}.`,
      { field: 'mkPart' },
    );
  }
  const bad = chars.find((c) => !/^[0-9A-Fa-f]$/.test(c));
  if (bad !== undefined) {
    throw new CofferError(
      'ERR_MK_PART_FORMAT',
      `The MK part may only use 0–9 and A–F; ${showChar(bad)} is not allowed.`,
      {
        field: 'mkPart',
      },
    );
  }
  return Buffer.from(hex, 'hex');
}

/**
 * MK = A1 ⊕ A2 ⊕ A3 (DESIGN §3). XOR rather than a hash so that two devices given the same three
 * components derive the same key domain whatever order the managers typed them in.
 *
 * The caller owns `parts` and should wipe them afterwards; the result is a fresh buffer.
 *
 * @throws CofferError ERR_INTERNAL unless there are exactly three 16-byte components (a programming
 *   error: components come from {@link parseMkPart}).
 */
export function combineComponents(parts: Buffer[]): Buffer {
  if (parts.length !== 3 || parts.some((p) => !Buffer.isBuffer(p) || p.length !== MK_BYTES)) {
    throw new CofferError('ERR_INTERNAL', `The master key needs exactly three ${MK_BYTES}-byte components.`);
  }
  const [a, b, c] = parts as [Buffer, Buffer, Buffer];
  const mk = Buffer.alloc(MK_BYTES);
  for (let i = 0; i < MK_BYTES; i++) mk[i] = a[i]! ^ b[i]! ^ c[i]!;
  return mk;
}

/** Printable characters are quoted; others (space, tab, control) are named by code point. */
function showChar(c: string): string {
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(c)
    ? `'${c}'`
    : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}
