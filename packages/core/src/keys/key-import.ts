import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { CofferError, type ErrorCode, isCofferError } from '../errors.js';
import {
  describePrivateKey,
  describeSecret,
  detectPrivateKeyType,
  type KeyMaterial,
  loadPrivateKey,
} from './key-material.js';
import { keyTypeInfo } from './key-types.js';
import type { KeyWrapAlgorithm } from './key-wrap.js';

/**
 * Import of plain and wrapped key files for migration (DESIGN §7). Accepted, detected from the
 * content unless `format` says otherwise:
 *
 * | format   | content                                                                  | type          |
 * |----------|--------------------------------------------------------------------------|---------------|
 * | `pem`    | one or more PEM blocks: PRIVATE KEY (PKCS#8), RSA PRIVATE KEY (PKCS#1), EC PRIVATE KEY (SEC 1); text between blocks is ignored | detected |
 * | `json`   | a JWK (oct, RSA, EC P-256/P-384, OKP Ed25519) with its private part; a JWK Set `{keys:[…]}`; or a Coffer import list (below) | detected; `oct` needs one |
 * | `der`    | a binary PKCS#8 DER private key                                          | detected      |
 * | `base64` | the base64 of a PKCS#8 DER private key                                   | detected      |
 * | `hex`    | one symmetric secret per line (blank lines and `#` comments ignored)     | declared      |
 *
 * With `kek` (the index of a stored AES key with usage `unwrap`), `hex`/`base64` lines or a binary
 * file are keys wrapped under it with AES key wrap (RFC 3394 or 5649, recognised by their integrity
 * value): a symmetric secret of the declared type, or else a PKCS#8 DER private key.
 *
 * A Coffer import list is `{ "format": "coffer-key-import", "version": 1, "keys": [entry…] }` or a
 * bare array of entries. An entry has exactly one of `hex`, `base64` (a raw secret), `pem`, `pkcs8`
 * (base64 DER), `jwk`, `wrapped` (base64; with `kek` and optionally `alg`: `aes-kw`/`aes-kwp`), and
 * optionally `type`, `index`, `validityDays`, `description`, `usage`.
 *
 * Public keys and certificates are refused: a key the device keeps is one it can use for private
 * operations; verification with a foreign public key takes the key in the request instead.
 */
export type ImportFormat = 'pem' | 'json' | 'der' | 'base64' | 'hex';
export const IMPORT_FORMATS: readonly ImportFormat[] = ['pem', 'json', 'der', 'base64', 'hex'];
export const IMPORT_LIST_FORMAT = 'coffer-key-import';
/** At most this many keys per import file. */
export const MAX_IMPORT_ENTRIES = 10_000;

export type ImportSource =
  | { kind: 'secret'; bytes: Buffer }
  | { kind: 'pkcs8'; der: Buffer }
  | { kind: 'wrapped'; wrapped: Buffer; kek: number; alg?: KeyWrapAlgorithm };

/** One key found in an import file, not yet checked against the device. */
export interface ImportEntry {
  /** 1-based position in the file. */
  position: number;
  /** Where, in words: "PEM block 2", "entry 3", "line 4", "the file". */
  where: string;
  source: ImportSource;
  type?: string;
  index?: number;
  validityDays?: number;
  description?: string;
  usage?: unknown[];
}

/** A refused entry: where it is and why. */
export interface ImportEntryError {
  position: number;
  where: string;
  code: ErrorCode;
  message: string;
}

export interface ImportOptions {
  format?: ImportFormat;
  /** The type of keys whose content does not say it (hex and raw secrets, wrapped secrets, `oct` JWKs). */
  type?: string;
  /** The index of the stored key-encryption key for wrapped keys. */
  kek?: number;
  wrapAlg?: KeyWrapAlgorithm;
}

export interface ParsedImport {
  format: ImportFormat;
  entries: ImportEntry[];
  errors: ImportEntryError[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const HEX_LINE = /^[0-9a-fA-F]+$/;
const BASE64_TEXT = /^[A-Za-z0-9+/=\s]+$/;
const ENTRY_FIELDS = new Set([
  'hex',
  'base64',
  'pem',
  'pkcs8',
  'jwk',
  'wrapped',
  'kek',
  'alg',
  'type',
  'index',
  'validityDays',
  'description',
  'usage',
]);
const MATERIAL_FIELDS = ['hex', 'base64', 'pem', 'pkcs8', 'jwk', 'wrapped'] as const;

function formatError(message: string): CofferError {
  return new CofferError('ERR_IMPORT_FORMAT', message, { field: 'content' });
}

function entryError(position: number, where: string, error: unknown): ImportEntryError {
  if (isCofferError(error)) return { position, where, code: error.code, message: error.message };
  return { position, where, code: 'ERR_IMPORT_FORMAT', message: 'This entry could not be read.' };
}

/**
 * Splits an import file into its keys. Entries that cannot be read are listed in `errors` with
 * their place, so the caller can report every problem at once; nothing is checked against the
 * device yet (types, consistency, indexes: see {@link resolveImportEntry}).
 *
 * @throws CofferError ERR_IMPORT_FORMAT when the file as a whole is not one of the formats above,
 *   is a backup file (restore it instead), holds no key, or more than {@link MAX_IMPORT_ENTRIES}.
 */
export function parseImportFile(content: Buffer, options: ImportOptions = {}): ParsedImport {
  if (!Buffer.isBuffer(content) || content.length === 0) throw formatError('The file is empty.');
  const format = options.format ?? detectFormat(content, options);
  let parsed: { entries: ImportEntry[]; errors: ImportEntryError[] };
  switch (format) {
    case 'pem':
      parsed = parsePem(content.toString('utf8'));
      break;
    case 'json':
      parsed = parseJson(content.toString('utf8'), options);
      break;
    case 'der':
      parsed = {
        entries: [
          {
            position: 1,
            where: 'the file',
            source:
              options.kek !== undefined ? wrappedSource(content, options) : { kind: 'pkcs8', der: content },
          },
        ],
        errors: [],
      };
      break;
    case 'base64':
      parsed = parseBase64(content.toString('utf8'), options);
      break;
    case 'hex':
      parsed = parseHex(content.toString('utf8'), options);
      break;
    default:
      throw formatError(`'${String(format)}' is not an import format; use ${IMPORT_FORMATS.join(', ')}.`);
  }
  const total = parsed.entries.length + parsed.errors.length;
  if (total === 0) throw formatError('The file holds no key.');
  if (total > MAX_IMPORT_ENTRIES) {
    throw formatError(`The file holds ${total} keys; import at most ${MAX_IMPORT_ENTRIES} at a time.`);
  }
  for (const e of parsed.entries)
    if (e.type === undefined && options.type !== undefined) e.type = options.type;
  return { format, ...parsed };
}

function detectFormat(content: Buffer, options: ImportOptions): ImportFormat {
  // '0' is 0x30 too: only binary content (not printable text, such as a hex line) is DER.
  if (content[0] === 0x30 && !content.every(isTextByte)) return 'der';
  const text = content.toString('utf8').trim();
  // JSON first: an import list may hold PEM text in its entries.
  if (text.startsWith('{') || text.startsWith('[')) return 'json';
  if (text.includes('-----BEGIN ')) return 'pem';
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length > 0 && lines.every((l) => HEX_LINE.test(l) && l.length % 2 === 0)) return 'hex';
  if (BASE64_TEXT.test(text) && (options.kek !== undefined || looksLikeBase64Der(text))) return 'base64';
  if (options.kek !== undefined) return 'der';
  throw formatError(
    'The file is not a key file this device reads: PEM, JSON (JWK, JWK Set or a Coffer import list), PKCS#8 DER (binary or base64) or hex lines.',
  );
}

/** Tab, line ends and printable ASCII: what a hex or base64 text file is made of. */
function isTextByte(b: number): boolean {
  return b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b <= 0x7e);
}

/** Whole base64 (length a multiple of 4) of something that starts as DER does (a SEQUENCE). */
function looksLikeBase64Der(text: string): boolean {
  const compact = text.replace(/\s+/g, '');
  return compact.length % 4 === 0 && compact.startsWith('M');
}

function parsePem(text: string): { entries: ImportEntry[]; errors: ImportEntryError[] } {
  const entries: ImportEntry[] = [];
  const errors: ImportEntryError[] = [];
  let position = 0;
  for (const m of text.matchAll(PEM_BLOCK)) {
    position++;
    const where = `PEM block ${position} (${m[1]})`;
    try {
      entries.push({ position, where, source: { kind: 'pkcs8', der: pemToPkcs8(m[1]!, m[0]) } });
    } catch (error) {
      errors.push(entryError(position, where, error));
    }
  }
  if (position === 0)
    throw formatError('The file has no complete PEM block (-----BEGIN …----- to -----END …-----).');
  return { entries, errors };
}

/** The PKCS#8 DER of one PEM private key block. */
function pemToPkcs8(label: string, block: string): Buffer {
  switch (label) {
    case 'PRIVATE KEY':
      return Buffer.from(block.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    case 'RSA PRIVATE KEY':
    case 'EC PRIVATE KEY':
      try {
        return createPrivateKey(block).export({ format: 'der', type: 'pkcs8' });
      } catch (error) {
        throw new CofferError(
          'ERR_KEY_MATERIAL',
          `This ${label} block cannot be read.`,
          {},
          { cause: error },
        );
      }
    case 'ENCRYPTED PRIVATE KEY':
      throw formatError(
        'An encrypted private key needs its passphrase; decrypt it first (openssl pkcs8 -in key.pem -nocrypt) and import the result.',
      );
    case 'PUBLIC KEY':
    case 'RSA PUBLIC KEY':
    case 'CERTIFICATE':
      throw formatError(
        `A ${label === 'CERTIFICATE' ? 'certificate' : 'public key'} alone is not imported: the device keeps keys it can use for private operations. Verify with an external public key in the request instead.`,
      );
    default:
      throw formatError(`A PEM block '${label}' is not a private key.`);
  }
}

function parseHex(
  text: string,
  options: ImportOptions,
): { entries: ImportEntry[]; errors: ImportEntryError[] } {
  const entries: ImportEntry[] = [];
  const errors: ImportEntryError[] = [];
  let position = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    position++;
    const where = `line ${i + 1}`;
    if (!HEX_LINE.test(line) || line.length % 2 !== 0) {
      errors.push({
        position,
        where,
        code: 'ERR_IMPORT_FORMAT',
        message: 'This line is not an even number of hex digits.',
      });
      return;
    }
    const bytes = Buffer.from(line, 'hex');
    entries.push({
      position,
      where,
      source: options.kek !== undefined ? wrappedSource(bytes, options) : { kind: 'secret', bytes },
    });
  });
  if (options.kek === undefined && options.type === undefined) {
    throw new CofferError(
      'ERR_KEY_TYPE',
      'Hex key files hold raw secrets: declare their type (e.g. AES-256).',
      {
        field: 'type',
      },
    );
  }
  return { entries, errors };
}

function parseBase64(
  text: string,
  options: ImportOptions,
): { entries: ImportEntry[]; errors: ImportEntryError[] } {
  if (options.kek === undefined) {
    const der = Buffer.from(text.replace(/\s+/g, ''), 'base64');
    return { entries: [{ position: 1, where: 'the file', source: { kind: 'pkcs8', der } }], errors: [] };
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return {
    entries: lines.map((l, i) => ({
      position: i + 1,
      where: `line ${i + 1}`,
      source: wrappedSource(Buffer.from(l, 'base64'), options),
    })),
    errors: [],
  };
}

function wrappedSource(wrapped: Buffer, options: { kek?: number; wrapAlg?: KeyWrapAlgorithm }): ImportSource {
  return {
    kind: 'wrapped',
    wrapped,
    kek: options.kek!,
    ...(options.wrapAlg ? { alg: options.wrapAlg } : {}),
  };
}

function parseJson(
  text: string,
  options: ImportOptions,
): { entries: ImportEntry[]; errors: ImportEntryError[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw formatError('The file looks like JSON but does not parse.');
  }
  if (Array.isArray(doc)) return parseList(doc, options);
  if (typeof doc !== 'object' || doc === null) throw formatError('The JSON file holds no key.');
  const o = doc as Record<string, unknown>;
  if (o['format'] === 'coffer-key-backup') {
    throw formatError('This is a Coffer key backup: restore it (keys restore) rather than import it.');
  }
  if (o['format'] === IMPORT_LIST_FORMAT) {
    if (o['version'] !== 1)
      throw formatError(`This import list is version ${String(o['version'])}; this device reads version 1.`);
    if (!Array.isArray(o['keys'])) throw formatError("The import list has no 'keys' array.");
    return parseList(o['keys'], options);
  }
  if (typeof o['kty'] === 'string') {
    const where = 'the JWK';
    try {
      return { entries: [jwkEntry(1, where, o as JsonWebKey, options)], errors: [] };
    } catch (error) {
      return { entries: [], errors: [entryError(1, where, error)] };
    }
  }
  if (Array.isArray(o['keys'])) {
    const entries: ImportEntry[] = [];
    const errors: ImportEntryError[] = [];
    o['keys'].forEach((k, i) => {
      const where = `JWK ${i + 1}`;
      try {
        entries.push(jwkEntry(i + 1, where, k as JsonWebKey, options));
      } catch (error) {
        errors.push(entryError(i + 1, where, error));
      }
    });
    return { entries, errors };
  }
  throw formatError(`The JSON file is neither a JWK, a JWK Set nor a '${IMPORT_LIST_FORMAT}' list.`);
}

const JWK_ALG_TYPES: Record<string, string> = {
  HS256: 'HMAC-SHA256',
  HS384: 'HMAC-SHA384',
  HS512: 'HMAC-SHA512',
};

function jwkEntry(
  position: number,
  where: string,
  jwk: JsonWebKey,
  options: ImportOptions,
  type?: string,
): ImportEntry {
  if (typeof jwk !== 'object' || jwk === null || typeof jwk.kty !== 'string') {
    throw formatError('This is not a JWK (it has no kty).');
  }
  if (jwk.kty === 'oct') {
    if (typeof jwk.k !== 'string') throw formatError("This oct JWK has no 'k'.");
    const declared = type ?? options.type ?? inferOctType(jwk);
    return {
      position,
      where,
      source: { kind: 'secret', bytes: Buffer.from(jwk.k, 'base64url') },
      ...(declared ? { type: declared } : {}),
    };
  }
  if (jwk.d === undefined) {
    throw formatError(
      'This JWK is a public key: the device keeps keys it can use for private operations. Verify with an external public key in the request instead.',
    );
  }
  let der: Buffer;
  try {
    der = createPrivateKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new CofferError(
      'ERR_KEY_MATERIAL',
      `This ${jwk.kty} JWK is not a private key this device reads (RSA, EC P-256/P-384, OKP Ed25519).`,
      {},
      { cause: error },
    );
  }
  return { position, where, source: { kind: 'pkcs8', der }, ...(type ? { type } : {}) };
}

/** An oct JWK's `alg` names HMAC keys; AES keys follow from `alg` (A128GCM, A256KW…) and the length. */
function inferOctType(jwk: JsonWebKey): string | undefined {
  const alg = typeof jwk.alg === 'string' ? jwk.alg : '';
  if (JWK_ALG_TYPES[alg]) return JWK_ALG_TYPES[alg];
  const m = /^A(128|192|256)(GCM|KW|CBC|CTR|GCMKW)?$/.exec(alg);
  if (m) return `AES-${m[1]}`;
  return undefined;
}

function parseList(
  list: unknown[],
  options: ImportOptions,
): { entries: ImportEntry[]; errors: ImportEntryError[] } {
  const entries: ImportEntry[] = [];
  const errors: ImportEntryError[] = [];
  list.forEach((raw, i) => {
    const position = i + 1;
    const where = `entry ${position}`;
    try {
      entries.push(listEntry(position, where, raw, options));
    } catch (error) {
      errors.push(entryError(position, where, error));
    }
  });
  return { entries, errors };
}

function listEntry(position: number, where: string, raw: unknown, options: ImportOptions): ImportEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw formatError('This entry is not an object.');
  const e = raw as Record<string, unknown>;
  const unknown = Object.keys(e).filter((k) => !ENTRY_FIELDS.has(k));
  if (unknown.length > 0) throw formatError(`This entry has unknown fields: ${unknown.join(', ')}.`);
  const present = MATERIAL_FIELDS.filter((k) => e[k] !== undefined);
  if (present.length !== 1) {
    throw formatError(
      `An entry has exactly one of ${MATERIAL_FIELDS.join(', ')}; this one has ${present.length || 'none'}.`,
    );
  }
  const str = (k: string): string => {
    if (typeof e[k] !== 'string') throw formatError(`'${k}' must be a string.`);
    return e[k] as string;
  };
  const type = e['type'] === undefined ? undefined : str('type');
  const meta: Omit<ImportEntry, 'source' | 'position' | 'where'> = {};
  if (type !== undefined) meta.type = type;
  if (e['index'] !== undefined) meta.index = e['index'] as number;
  if (e['validityDays'] !== undefined) meta.validityDays = e['validityDays'] as number;
  if (e['description'] !== undefined) meta.description = str('description');
  if (e['usage'] !== undefined) {
    if (!Array.isArray(e['usage']))
      throw new CofferError('ERR_KEY_USAGE', "'usage' must be a list of usage flags.");
    meta.usage = e['usage'];
  }
  let source: ImportSource;
  switch (present[0]) {
    case 'hex': {
      const hex = str('hex').replace(/\s+/g, '');
      if (!HEX_LINE.test(hex) || hex.length % 2 !== 0)
        throw formatError("'hex' is not an even number of hex digits.");
      source = { kind: 'secret', bytes: Buffer.from(hex, 'hex') };
      break;
    }
    case 'base64':
      source = { kind: 'secret', bytes: Buffer.from(str('base64'), 'base64') };
      break;
    case 'pem': {
      const blocks = [...str('pem').matchAll(PEM_BLOCK)];
      if (blocks.length !== 1) throw formatError("'pem' must hold exactly one PEM block.");
      source = { kind: 'pkcs8', der: pemToPkcs8(blocks[0]![1]!, blocks[0]![0]) };
      break;
    }
    case 'pkcs8':
      source = { kind: 'pkcs8', der: Buffer.from(str('pkcs8'), 'base64') };
      break;
    case 'jwk': {
      const entry = jwkEntry(position, where, e['jwk'] as JsonWebKey, options, type);
      return { ...entry, ...meta, ...(entry.type && !meta.type ? { type: entry.type } : {}) };
    }
    default: {
      const kek = e['kek'] ?? options.kek;
      if (kek === undefined) throw formatError("A 'wrapped' entry names its key-encryption key in 'kek'.");
      const alg = e['alg'] ?? options.wrapAlg;
      if (alg !== undefined && alg !== 'aes-kw' && alg !== 'aes-kwp')
        throw formatError("'alg' is aes-kw or aes-kwp.");
      source = {
        kind: 'wrapped',
        wrapped: Buffer.from(str('wrapped'), 'base64'),
        kek: kek as number,
        ...(alg ? { alg } : {}),
      };
    }
  }
  return { position, where, source, ...meta };
}

/**
 * Turns one entry into key material of a catalogue type: checks the secret's length for its
 * declared type, or recognises the private key's type (a declared type must agree) and runs the
 * pairwise consistency test; unwraps wrapped keys through `unwrap` (the caller checks the KEK).
 *
 * @throws CofferError ERR_KEY_TYPE when a secret has no (or an unknown) type; ERR_KEY_MATERIAL when
 *   the material does not fit its type or fails the consistency test; whatever `unwrap` throws.
 */
export async function resolveImportEntry(
  entry: ImportEntry,
  unwrap: (kek: number, wrapped: Buffer, alg?: KeyWrapAlgorithm) => Promise<Buffer>,
): Promise<KeyMaterial> {
  let source = entry.source;
  if (source.kind === 'wrapped') {
    const plain = await unwrap(source.kek, source.wrapped, source.alg);
    source =
      entry.type !== undefined && keyTypeInfo(entry.type).keyClass === 'symmetric'
        ? { kind: 'secret', bytes: plain }
        : { kind: 'pkcs8', der: plain };
  }
  if (source.kind === 'secret') {
    if (entry.type === undefined) {
      throw new CofferError(
        'ERR_KEY_TYPE',
        'A raw secret does not say what it is: declare its type (e.g. AES-256).',
        {
          field: 'type',
        },
      );
    }
    const info = keyTypeInfo(entry.type);
    if (info.keyClass !== 'symmetric') {
      throw new CofferError(
        'ERR_KEY_MATERIAL',
        `${info.name} is a key pair type; import its private key (PEM, PKCS#8, JWK).`,
        {
          field: 'type',
        },
      );
    }
    return describeSecret(info, Buffer.from(source.bytes));
  }
  const found = detectPrivateKeyType(loadPrivateKey(source.der), source.der);
  if (found === null) {
    throw new CofferError(
      'ERR_KEY_TYPE',
      'This private key is of a kind the device does not keep (RSA 1024–4096, EC P-256/P-384, SM2, Ed25519).',
      { field: 'type' },
    );
  }
  if (entry.type !== undefined && keyTypeInfo(entry.type).name !== found) {
    throw new CofferError('ERR_KEY_MATERIAL', `The key is ${found}, not ${entry.type} as declared.`, {
      field: 'type',
    });
  }
  return describePrivateKey(keyTypeInfo(found), Buffer.from(source.der));
}
