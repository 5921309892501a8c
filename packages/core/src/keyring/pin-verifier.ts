import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * scrypt cost for MK-part PIN verifiers (DESIGN §3). N = 2^15, r = 8, p = 1 is the interactive-login
 * setting of the scrypt paper and RFC 7914 §2: about 32 MiB and a few tens of milliseconds here,
 * which only happens at ReInit and card remake.
 */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/**
 * Bounds on parameters read back from the store. A verifier is data: an edited database must not
 * make the device allocate gigabytes or spin for minutes. scrypt needs 128·N·r bytes.
 */
const MAX = { N: 2 ** 20, r: 16, p: 4, memory: 256 * 1024 * 1024 } as const;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Makes a slow verifier for an MK-part PIN: `scrypt$N$r$p$saltB64$hashB64` with a random 16-byte
 * salt and a 32-byte output. The parameters travel in the string so the cost can rise later
 * without invalidating older verifiers.
 *
 * The PIN is hashed exactly as given: pass it through `normalisePin` first so that typing a–f or A–F
 * gives the same verifier.
 *
 * Throws nothing of its own (a Node error only if scrypt itself fails).
 */
export async function makePinVerifier(pin: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(pin, salt, COST.N, COST.r, COST.p);
  try {
    return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), hash.toString('base64')].join('$');
  } finally {
    hash.fill(0);
  }
}

/**
 * Checks a PIN against a verifier from {@link makePinVerifier}, comparing in constant time. A
 * malformed verifier, or one whose parameters are out of bounds, is simply "no": it never throws.
 */
export async function checkPinVerifier(pin: string, verifier: string): Promise<boolean> {
  const parsed = parseVerifier(verifier);
  if (!parsed) return false;
  let hash: Buffer;
  try {
    hash = await scryptAsync(pin, parsed.salt, parsed.N, parsed.r, parsed.p, parsed.hash.length);
  } catch {
    return false;
  }
  try {
    return timingSafeEqual(hash, parsed.hash);
  } finally {
    hash.fill(0);
  }
}

interface ParsedVerifier {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parseVerifier(verifier: string): ParsedVerifier | null {
  if (typeof verifier !== 'string') return null;
  const parts = verifier.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map((x) => (/^[1-9][0-9]{0,9}$/.test(x!) ? Number(x) : Number.NaN)) as [
    number,
    number,
    number,
  ];
  // N must be a power of two above 1 (scrypt's own rule).
  if (!(N > 1 && N <= MAX.N && (N & (N - 1)) === 0)) return null;
  if (!(r >= 1 && r <= MAX.r && p >= 1 && p <= MAX.p && 128 * N * r <= MAX.memory)) return null;
  const salt = decodeB64(parts[4]!);
  const hash = decodeB64(parts[5]!);
  if (!salt || !hash || salt.length < SALT_BYTES || hash.length < HASH_BYTES || hash.length > 64) return null;
  return { N, r, p, salt, hash };
}

function decodeB64(s: string): Buffer | null {
  if (!B64.test(s) || s.length % 4 !== 0) return null;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : null;
}

function scryptAsync(
  pin: string,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
  length = HASH_BYTES,
): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node's default ceiling (32 MiB) is exactly N = 2^15, r = 8 and
  // refuses it, so the ceiling is set from the parameters with room to spare.
  const options: ScryptOptions = { N, r, p, maxmem: 2 * 128 * N * r + 1024 * 1024 };
  const pinBytes = Buffer.from(pin, 'utf8');
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(pinBytes, salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  }).finally(() => pinBytes.fill(0));
}
