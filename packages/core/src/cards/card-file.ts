import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  randomBytes,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import { promisify } from 'node:util';
import { CofferError } from '../errors.js';
import type { CardRole } from '../store/port.js';
import { checkCardPin } from './pin-rules.js';
import { openWithPin, sealWithPin } from './pin-sealing.js';

/**
 * A manager's card (DESIGN §4): a JSON file the manager keeps, holding a P-256 key pair and, on A
 * cards, a master-key share, sealed under the card PIN.
 *
 * The sealed part is built so that WebCrypto can open it unchanged: PBKDF2-SHA256 `deriveKey` to an
 * AES-256-GCM key, then `decrypt` with `additionalData` and the 16-byte tag appended to the
 * ciphertext. The management web UI unseals the card in the browser and signs the device's
 * challenge there, so the PIN never leaves the manager's machine. A browser must upper-case a–f in
 * the PIN before deriving the key, as {@link normalisePin} does here.
 */
export interface CardFile {
  format: 'coffer-card';
  version: 1;
  /** A fresh UUID per card made; a remade card gets a new one. */
  cardId: string;
  deviceId: string;
  role: CardRole;
  /** A1, A2, A3 (Device Managers), B1, B2… (System Managers), C1 (Safe), D1 (Audit). */
  slot: string;
  /** The manager's account name, e.g. `adminB1`. */
  account: string;
  /** ISO-8601 UTC with milliseconds. */
  createdAt: string;
  /** Base64 SPKI DER of the card's P-256 public key. */
  publicKey: string;
  sealed: SealedPart;
}

export interface SealedPart {
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

/** What a sealed part holds once opened. */
export interface CardContents {
  privateKey: KeyObject;
  /** The Device Manager's master-key share; `null` on B, C and D cards (and on an A card before Write). */
  share: Buffer | null;
}

export interface MakeCardOptions {
  deviceId: string;
  slot: string;
  role: CardRole;
  account: string;
  pin: string;
  share: Buffer | null;
  /** PBKDF2 iterations: {@link CARD_KDF_ITERATIONS} in production; lower only in tests. */
  iterations: number;
  cardId?: string;
  createdAt: string;
}

/** DESIGN §4 (and OWASP's 2023 figure for PBKDF2-HMAC-SHA256). */
export const CARD_KDF_ITERATIONS = 600_000;
/**
 * Above this a card file is refused as malformed: the count is read from the file, and a file with
 * billions of iterations would otherwise hold the device busy for hours.
 */
export const CARD_KDF_MAX_ITERATIONS = 10_000_000;

const FORMAT = 'coffer-card';
const VERSION = 1;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** An uncompressed P-256 SPKI is always 91 bytes (WebCrypto cannot import compressed points). */
const P256_SPKI_BYTES = 91;
const MAX_CIPHERTEXT_BYTES = 4096;
const MAX_SHARE_BYTES = 64;
const MAX_FILE_CHARS = 16 * 1024;

const FILE_KEYS = [
  'format',
  'version',
  'cardId',
  'deviceId',
  'role',
  'slot',
  'account',
  'createdAt',
  'publicKey',
  'sealed',
] as const;
const SEALED_KEYS = ['kdf', 'iterations', 'salt', 'cipher', 'iv', 'ciphertext'] as const;

/** The slot letter names the role (the manual's A, B, C and D cards). */
const SLOT_ROLE: Readonly<Record<string, CardRole>> = {
  A: 'device-manager',
  B: 'system-manager',
  C: 'safe-manager',
  D: 'audit-manager',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const SLOT = /^(A[1-3]|[BCD][1-9][0-9]{0,2})$/;
const ACCOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

const generateKeyPairAsync = promisify(generateKeyPair);

/** The role a slot belongs to, or `null` for a slot that does not exist. */
export function roleOfSlot(slot: string): CardRole | null {
  return SLOT.test(slot) ? (SLOT_ROLE[slot[0]!] ?? null) : null;
}

/**
 * Validates a card file as uploaded: JSON text (string or Buffer) or an already parsed object. Every
 * field is checked, unknown fields are refused (a newer format must say so with its version), and the
 * public key must be an uncompressed P-256 SPKI.
 *
 * @throws CofferError ERR_CARD_FORMAT with a sentence naming the first field that is wrong (and
 *   `details.field` when it is a field).
 */
export function parseCardFile(input: unknown): CardFile {
  let value = input;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    const text = value.toString();
    if (text.length > MAX_FILE_CHARS) refuse('This card file is too large to be a Coffer card.');
    try {
      value = JSON.parse(text);
    } catch {
      refuse('This card file is not JSON.');
    }
  }
  if (!isPlainObject(value)) refuse('This card file is not a JSON object.');
  const o = value as Record<string, unknown>;
  if (o['format'] !== FORMAT) refuse('This is not a Coffer card file.', 'format');
  const version = o['version'];
  if (!Number.isSafeInteger(version)) refuse('This card file has no version number.', 'version');
  if (version !== VERSION) {
    refuse(`This card file is of version ${version}; this device reads version ${VERSION}.`, 'version');
  }
  checkKeys(o, FILE_KEYS, '');
  const header = checkHeader(o);
  if (!isPlainObject(o['sealed'])) refuse('The card file has no sealed part.', 'sealed');
  const sealed = o['sealed'] as Record<string, unknown>;
  checkKeys(sealed, SEALED_KEYS, 'sealed.');
  if (sealed['kdf'] !== 'PBKDF2-SHA256')
    refuse('The card is sealed with an unknown key derivation.', 'sealed.kdf');
  const iterations = sealed['iterations'];
  if (typeof iterations !== 'number' || !Number.isSafeInteger(iterations) || iterations < 1) {
    refuse('The card’s iteration count is not a positive whole number.', 'sealed.iterations');
  }
  if (iterations > CARD_KDF_MAX_ITERATIONS) {
    refuse(`The card’s iteration count is above ${CARD_KDF_MAX_ITERATIONS}.`, 'sealed.iterations');
  }
  if (sealed['cipher'] !== 'AES-256-GCM')
    refuse('The card is sealed with an unknown cipher.', 'sealed.cipher');
  checkB64(sealed['salt'], 'sealed.salt', SALT_BYTES, SALT_BYTES);
  checkB64(sealed['iv'], 'sealed.iv', IV_BYTES, IV_BYTES);
  checkB64(sealed['ciphertext'], 'sealed.ciphertext', TAG_BYTES + 1, MAX_CIPHERTEXT_BYTES);
  return assemble(header, {
    kdf: 'PBKDF2-SHA256',
    iterations,
    salt: sealed['salt'] as string,
    cipher: 'AES-256-GCM',
    iv: sealed['iv'] as string,
    ciphertext: sealed['ciphertext'] as string,
  });
}

/**
 * Makes a new card: a fresh P-256 key pair (checked by a pairwise sign/verify, DESIGN §10) sealed
 * with `share` under `pin`. Also the way to remake a card or change its PIN when the old file must
 * stop working: a new key pair and card id, so the old file's key matches nothing in the registry.
 *
 * @throws CofferError ERR_PIN_RULE when `pin` breaks the card PIN rules.
 * @throws CofferError ERR_CARD_ROLE when `slot` and `role` disagree, or a card other than an A card
 *   is given a share.
 * @throws CofferError ERR_CARD_FORMAT when another field (card id, device id, slot, account, time)
 *   would make an invalid card file.
 * @throws CofferError ERR_INTERNAL when `iterations` is not a whole number from 1 to
 *   {@link CARD_KDF_MAX_ITERATIONS}.
 * @throws CofferError ERR_INTERNAL when the new key pair fails its consistency test.
 */
export async function makeCard(opts: MakeCardOptions): Promise<{ file: CardFile; privateKey: KeyObject }> {
  checkCardPin(opts.pin);
  checkIterations(opts.iterations);
  const slotRole = roleOfSlot(opts.slot);
  if (slotRole !== null && slotRole !== opts.role) {
    throw new CofferError(
      'ERR_CARD_ROLE',
      `Slot ${opts.slot} belongs to the ${slotRole} role, not ${opts.role}.`,
      {
        field: 'role',
      },
    );
  }
  const header = checkHeader({
    format: FORMAT,
    version: VERSION,
    cardId: opts.cardId ?? randomUUID(),
    deviceId: opts.deviceId,
    role: opts.role,
    slot: opts.slot,
    account: opts.account,
    createdAt: opts.createdAt,
    publicKey: null,
  });
  checkShareRole(header.role, opts.share);
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const challenge = randomBytes(32);
  if (!verifyChallenge(spkiOf(publicKey), challenge, signChallenge(privateKey, challenge))) {
    throw new CofferError('ERR_INTERNAL', 'A new card key failed its pairwise consistency test.');
  }
  const withKey = { ...header, publicKey: spkiOf(publicKey).toString('base64') };
  const sealed = await seal(withKey, { privateKey, share: opts.share }, opts.pin, opts.iterations);
  return { file: assemble(withKey, sealed), privateKey };
}

/**
 * Seals new contents into an existing card's identity: same card id, slot, role, account and creation
 * time unless `overrides` says otherwise; the public key follows `contents.privateKey`. The init
 * ceremony uses it to write the share onto an A card made earlier.
 *
 * Keeping the key pair means the previous file keeps a working key: to retire it (remake, PIN change)
 * use {@link makeCard}, which makes a new key pair.
 *
 * @throws CofferError ERR_PIN_RULE when `pin` breaks the card PIN rules.
 * @throws CofferError ERR_CARD_ROLE when a card other than an A card is given a share.
 * @throws CofferError ERR_CARD_FORMAT when an override would make an invalid card file.
 * @throws CofferError ERR_INTERNAL when `contents.privateKey` is not a P-256 private key or
 *   `iterations` is out of range.
 */
export async function resealCard(
  file: CardFile,
  contents: CardContents,
  pin: string,
  iterations: number,
  overrides: { cardId?: string; createdAt?: string } = {},
): Promise<CardFile> {
  checkCardPin(pin);
  checkIterations(iterations);
  assertP256Private(contents.privateKey);
  const header = checkHeader({
    format: FORMAT,
    version: VERSION,
    cardId: overrides.cardId ?? file.cardId,
    deviceId: file.deviceId,
    role: file.role,
    slot: file.slot,
    account: file.account,
    createdAt: overrides.createdAt ?? file.createdAt,
    publicKey: spkiOf(createPublicKey(contents.privateKey)).toString('base64'),
  });
  checkShareRole(header.role, contents.share);
  const sealed = await seal(header, contents, pin, iterations);
  return assemble(header, sealed);
}

/**
 * Opens a card with its PIN. The file should have come through {@link parseCardFile}.
 *
 * @throws CofferError ERR_CARD_KDF_WEAK when the card's iteration count is below `minIterations`
 *   (checked first, so a weak card is refused before any PIN is tried against it).
 * @throws CofferError ERR_PIN_WRONG ("The card PIN is wrong.") when the sealed part does not open;
 *   a sealed part moved from another card fails the same way.
 * @throws CofferError ERR_CARD_FORMAT when the opened contents are malformed or their key does not
 *   match the card's public key.
 */
export async function unsealCard(
  file: CardFile,
  pin: string,
  opts: { minIterations: number },
): Promise<CardContents> {
  const { iterations } = file.sealed;
  if (iterations < opts.minIterations) {
    throw new CofferError(
      'ERR_CARD_KDF_WEAK',
      `This card’s PIN protection is weaker than this device accepts (${iterations} iterations; at least ${opts.minIterations} are needed).`,
      { iterations, minIterations: opts.minIterations },
    );
  }
  const plaintext = await openWithPin(file.sealed, pin, associatedData(file), 'The card PIN is wrong.');
  try {
    return readContents(file, plaintext);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Signs a challenge with a card key: ECDSA P-256 over SHA-256, signature as IEEE P1363 `r ‖ s`
 * (64 bytes), the encoding WebCrypto produces and verifies.
 *
 * @throws CofferError ERR_INTERNAL when `privateKey` is not a P-256 private key.
 */
export function signChallenge(privateKey: KeyObject, challenge: Buffer): Buffer {
  assertP256Private(privateKey);
  return sign('sha256', challenge, { key: privateKey, dsaEncoding: 'ieee-p1363' });
}

/**
 * Checks a card's signature over a challenge. Returns `false` (never throws) for a bad signature,
 * a signature of the wrong length, or a public key that is not a P-256 SPKI: a forged answer is a
 * normal outcome for the caller to report.
 */
export function verifyChallenge(publicKeySpkiDer: Buffer, challenge: Buffer, signature: Buffer): boolean {
  try {
    if (signature.length !== 64) return false;
    const key = createPublicKey({ key: publicKeySpkiDer, format: 'der', type: 'spki' });
    if (!isP256(key)) return false;
    return verify('sha256', challenge, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** The file name offered for download: `coffer-A1.card`. */
export function cardFileName(file: CardFile): string {
  return `coffer-${file.slot}.card`;
}

/** Pretty JSON with a final newline, fields in the documented order. */
export function serialiseCardFile(file: CardFile): string {
  return `${JSON.stringify(assemble(file, file.sealed), null, 2)}\n`;
}

// --- sealing -------------------------------------------------------------------------------------

type CardHeader = Omit<CardFile, 'sealed'>;

/** Binds the sealed part to this card: moved into another card's file it no longer opens. */
function associatedData(h: Pick<CardFile, 'deviceId' | 'cardId' | 'slot'>): Buffer {
  return Buffer.from(`coffer-card/v1/${h.deviceId}/${h.cardId}/${h.slot}`, 'utf8');
}

async function seal(
  header: CardHeader,
  contents: CardContents,
  pin: string,
  iterations: number,
): Promise<SealedPart> {
  const der = contents.privateKey.export({ format: 'der', type: 'pkcs8' });
  const plaintext = Buffer.from(
    JSON.stringify({
      pkcs8: der.toString('base64'),
      share: contents.share ? contents.share.toString('base64') : null,
    }),
    'utf8',
  );
  try {
    return await sealWithPin(plaintext, pin, associatedData(header), iterations);
  } finally {
    // Best effort: the JSON and base64 strings above stay in the heap until collected.
    der.fill(0);
    plaintext.fill(0);
  }
}

function readContents(file: CardFile, plaintext: Buffer): CardContents {
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString('utf8'));
  } catch {
    refuse('The card’s sealed part does not hold valid contents.');
  }
  if (!isPlainObject(parsed)) refuse('The card’s sealed part does not hold valid contents.');
  const c = parsed as Record<string, unknown>;
  if (Object.keys(c).length !== 2 || !('pkcs8' in c) || !('share' in c)) {
    refuse('The card’s sealed part does not hold valid contents.');
  }
  const der = decodeB64(c['pkcs8']);
  let privateKey: KeyObject;
  try {
    if (!der) throw new Error('not base64');
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return refuse('The card’s sealed key is not a private key.');
  } finally {
    der?.fill(0);
  }
  if (!isP256(privateKey)) refuse('The card’s sealed key is not a P-256 key.');
  if (spkiOf(createPublicKey(privateKey)).toString('base64') !== file.publicKey) {
    refuse('The card’s sealed key does not match its public key.');
  }
  let share: Buffer | null = null;
  if (c['share'] !== null) {
    share = decodeB64(c['share']);
    if (!share || share.length === 0 || share.length > MAX_SHARE_BYTES)
      refuse('The card’s sealed share is malformed.');
    if (file.role !== 'device-manager') refuse('Only a Device Manager card may hold a master-key share.');
  }
  return { privateKey, share };
}

// --- validation ----------------------------------------------------------------------------------

function checkHeader(o: Record<string, unknown>): CardHeader & { publicKey: string } {
  const cardId = o['cardId'];
  if (typeof cardId !== 'string' || !UUID.test(cardId))
    refuse('The card id is not a lower-case UUID.', 'cardId');
  const deviceId = o['deviceId'];
  if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId))
    refuse('The device id is malformed.', 'deviceId');
  const slot = o['slot'];
  const role = roleOfSlot(typeof slot === 'string' ? slot : '');
  if (role === null) refuse('The slot is not one of A1–A3, B1…, C1…, D1….', 'slot');
  if (typeof o['role'] !== 'string' || !Object.values(SLOT_ROLE).includes(o['role'] as CardRole)) {
    refuse('The role is not a manager role.', 'role');
  }
  if (o['role'] !== role) refuse(`Slot ${slot} belongs to the ${role} role, not ${o['role']}.`, 'role');
  const account = o['account'];
  if (typeof account !== 'string' || !ACCOUNT.test(account))
    refuse('The account name is malformed.', 'account');
  const createdAt = o['createdAt'];
  if (typeof createdAt !== 'string' || !ISO_UTC_MS.test(createdAt) || !isRealTime(createdAt)) {
    refuse('The creation time is not an ISO-8601 UTC time with milliseconds.', 'createdAt');
  }
  const publicKey = o['publicKey'];
  if (publicKey !== null) {
    const der = checkB64(publicKey, 'publicKey', P256_SPKI_BYTES, P256_SPKI_BYTES);
    let key: KeyObject | null = null;
    try {
      key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    } catch {
      // refused below
    }
    if (!key || !isP256(key)) refuse('The public key is not a P-256 public key.', 'publicKey');
  }
  return {
    format: FORMAT,
    version: VERSION,
    cardId: cardId as string,
    deviceId: deviceId as string,
    role,
    slot: slot as string,
    account: account as string,
    createdAt: createdAt as string,
    publicKey: publicKey as string,
  };
}

function checkShareRole(role: CardRole, share: Buffer | null): void {
  if (share === null) return;
  if (role !== 'device-manager') {
    throw new CofferError('ERR_CARD_ROLE', 'Only a Device Manager (A) card holds a master-key share.', {
      field: 'role',
    });
  }
  if (!Buffer.isBuffer(share) || share.length === 0 || share.length > MAX_SHARE_BYTES) {
    throw new CofferError('ERR_INTERNAL', 'A master-key share must be a non-empty buffer.');
  }
}

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > CARD_KDF_MAX_ITERATIONS) {
    throw new CofferError(
      'ERR_INTERNAL',
      `Card iterations must be a whole number from 1 to ${CARD_KDF_MAX_ITERATIONS}.`,
    );
  }
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], prefix: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) refuse(`The card file has an unknown field ${prefix}${k}.`, `${prefix}${k}`);
  }
  for (const k of allowed) {
    if (!(k in o)) refuse(`The card file has no field ${prefix}${k}.`, `${prefix}${k}`);
  }
}

/** Strict base64 (standard alphabet, padded, canonical) of a length within bounds. */
function checkB64(value: unknown, field: string, min: number, max: number): Buffer {
  const b = decodeB64(value);
  if (!b) refuse(`The field ${field} is not base64.`, field);
  if (b.length < min || b.length > max) {
    refuse(
      min === max
        ? `The field ${field} must hold ${min} bytes; it holds ${b.length}.`
        : `The field ${field} must hold ${min} to ${max} bytes; it holds ${b.length}.`,
      field,
    );
  }
  return b;
}

function decodeB64(value: unknown): Buffer | null {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !B64.test(value)) return null;
  const b = Buffer.from(value, 'base64');
  // Node's decoder is lenient; re-encoding catches stray padding and non-zero trailing bits.
  return b.toString('base64') === value ? b : null;
}

function isRealTime(iso: string): boolean {
  const t = Date.parse(iso);
  return Number.isFinite(t) && new Date(t).toISOString() === iso;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

function assertP256Private(key: KeyObject): void {
  if (key?.type !== 'private' || !isP256(key)) {
    throw new CofferError('ERR_INTERNAL', 'A card key must be a P-256 private key.');
  }
}

function spkiOf(publicKey: KeyObject): Buffer {
  return publicKey.export({ format: 'der', type: 'spki' });
}

/** Builds the file with its fields in the documented order (the serialised form depends on it). */
function assemble(h: CardHeader, sealed: SealedPart): CardFile {
  return {
    format: FORMAT,
    version: VERSION,
    cardId: h.cardId,
    deviceId: h.deviceId,
    role: h.role,
    slot: h.slot,
    account: h.account,
    createdAt: h.createdAt,
    publicKey: h.publicKey,
    sealed: {
      kdf: sealed.kdf,
      iterations: sealed.iterations,
      salt: sealed.salt,
      cipher: sealed.cipher,
      iv: sealed.iv,
      ciphertext: sealed.ciphertext,
    },
  };
}

function refuse(sentence: string, field?: string): never {
  throw new CofferError('ERR_CARD_FORMAT', sentence, field ? { field } : {});
}
