import { isIP } from 'node:net';
import {
  type AnyCommand,
  ASYM_DECRYPT,
  ASYM_ENCRYPT,
  assertMaxFrameBytes,
  BATCH,
  type CommandCodec,
  DECRYPT,
  DEFAULT_MAX_FRAME_BYTES,
  DERIVE,
  ENCRYPT,
  FIELD_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  GENERATE_DATA_KEY,
  HASH,
  INFO,
  isProtocolError,
  KEY_INFO,
  LIST_KEYS,
  MAC,
  MAX_BATCH_ITEMS,
  PING,
  PUBLIC_KEY,
  RANDOM,
  type RequestOf,
  type ResponseOf,
  SIGN,
  SM2_DIGEST,
  UNWRAP,
  VERIFY,
  VERIFY_MAC,
  WRAP,
} from '@coffer/protocol';
import type { Address, Pending, ServerInfo } from './connection.js';
import { CofferLicenceError, CofferProtocolError, CofferRequestError, CofferServiceError } from './errors.js';
import {
  isOpenedLicence,
  type LicenceFile,
  type OpenedLicence,
  openLicence,
  readLicence,
} from './licence.js';
import { Pool } from './pool.js';

export interface ConnectOptions {
  /** The licence: a file path, the file's bytes or parsed object, or a licence already opened with {@link openLicence}. */
  license: string | Uint8Array | LicenceFile | OpenedLicence;
  /** The licence PIN (not needed for an opened licence). */
  pin?: string;
  /** Device addresses in order of preference (failover); default the service address in the licence. */
  addresses?: readonly Address[];
  /** Connections to keep open; at most the licence's maxConnections. Default min(2, that limit). */
  poolSize?: number;
  /** Per-request timeout in ms (default 10,000); each call may set its own. */
  timeoutMs?: number;
  /** Time allowed to connect and be admitted, per address (default 5,000 ms). */
  connectTimeoutMs?: number;
  /** A connection silent this long gets a protocol ping (and TCP keep-alive uses it). Default 30,000 ms; 0 = no pings. */
  keepAliveMs?: number;
  /** The largest frame this side builds or accepts (default 1,048,576; at least 4,096). */
  maxFrameBytes?: number;
  /** Sends per request when connections break under it (default 2: one resend). */
  maxAttempts?: number;
  /** Reconnect back-off: first delay and ceiling in ms (default 100 and 5,000). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export interface CallOptions {
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
}

/** Key attributes as `key-info` and `list-keys` give them. */
export type KeyInfo = ResponseOf<typeof KEY_INFO>;
export type EncryptResult = ResponseOf<typeof ENCRYPT>;

type Bytes = Uint8Array;
type Req<C> = RequestOf<C>;
/** Request types with Uint8Array accepted wherever the codecs take a Buffer. */
type In<T> = {
  [K in keyof T]: T[K] extends Buffer ? Bytes : T[K] extends Buffer | undefined ? Bytes | undefined : T[K];
};

/** The commands a batch may carry, by name. */
export const BATCHABLE = {
  random: RANDOM,
  hash: HASH,
  'sm2-digest': SM2_DIGEST,
  mac: MAC,
  'verify-mac': VERIFY_MAC,
  encrypt: ENCRYPT,
  decrypt: DECRYPT,
  sign: SIGN,
  verify: VERIFY,
  'asym-encrypt': ASYM_ENCRYPT,
  'asym-decrypt': ASYM_DECRYPT,
  'generate-data-key': GENERATE_DATA_KEY,
  wrap: WRAP,
  unwrap: UNWRAP,
  derive: DERIVE,
  'key-info': KEY_INFO,
  'public-key': PUBLIC_KEY,
} as const;
export type BatchableName = keyof typeof BATCHABLE;

/** One item's outcome in a batch: its response, or the device's refusal of that item alone. */
export type BatchResult<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly error: CofferServiceError };

const DEFAULTS = {
  timeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  keepAliveMs: 30_000,
  maxAttempts: 2,
  backoffInitialMs: 100,
  backoffMaxMs: 5_000,
};

/** A copy, so that a result does not keep the whole received chunk alive. */
function own(b: Buffer): Buffer {
  return Buffer.from(b);
}

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be a whole number ≥ ${min}.`);
  return v;
}

/**
 * Connects to the crypto service with a licence (manual §5): opens it with the PIN, then a pool
 * of mutually authenticated TLS connections speaking the binary protocol. Resolves once one
 * connection is admitted.
 *
 * @throws CofferLicenceError ERR_LICENCE_FORMAT / ERR_PIN_WRONG; CofferServiceError for a refusal by
 *   the device (ERR_IP_NOT_ALLOWED, licence not current, connection limit, …); CofferConnectionError
 *   ERR_CONNECT / ERR_TLS when no address could be reached.
 */
export async function connect(options: ConnectOptions): Promise<CofferClient> {
  const licence = await loadLicence(options);
  const limit = licence.maxConnections;
  const poolSize = positive('poolSize', options.poolSize, Math.min(2, limit));
  if (poolSize > limit)
    throw new RangeError(`poolSize ${poolSize} is over the licence's limit of ${limit} connections.`);
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  assertMaxFrameBytes(maxFrameBytes);
  const addresses = options.addresses ?? [licence.service];
  if (addresses.length === 0) throw new RangeError('addresses must list at least one device address.');
  for (const a of addresses) {
    if (
      typeof a.host !== 'string' ||
      a.host.length === 0 ||
      !Number.isInteger(a.port) ||
      a.port < 1 ||
      a.port > 65535
    )
      throw new RangeError(`Not a device address: ${JSON.stringify(a)}.`);
  }
  const pool = new Pool({
    addresses: addresses.map((a) => ({
      host: isIP(a.host.replace(/^\[|\]$/g, '')) ? a.host.replace(/^\[|\]$/g, '') : a.host,
      port: a.port,
    })),
    licence,
    poolSize,
    timeoutMs: positive('timeoutMs', options.timeoutMs, DEFAULTS.timeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULTS.connectTimeoutMs),
    keepAliveMs: positive('keepAliveMs', options.keepAliveMs, DEFAULTS.keepAliveMs, 0),
    maxFrameBytes,
    maxAttempts: positive('maxAttempts', options.maxAttempts, DEFAULTS.maxAttempts),
    backoffInitialMs: positive('backoffInitialMs', options.backoffInitialMs, DEFAULTS.backoffInitialMs),
    backoffMaxMs: positive('backoffMaxMs', options.backoffMaxMs, DEFAULTS.backoffMaxMs),
  });
  try {
    await pool.start();
  } catch (error) {
    await pool.close({ force: true });
    throw error;
  }
  return new CofferClient(pool, licence, options.timeoutMs ?? DEFAULTS.timeoutMs, maxFrameBytes);
}

async function loadLicence(options: ConnectOptions): Promise<OpenedLicence> {
  const source = options.license;
  if (isOpenedLicence(source)) return source;
  if (typeof options.pin !== 'string')
    throw new CofferLicenceError('ERR_PIN_WRONG', 'The licence PIN is needed to open the licence.');
  const file =
    typeof source === 'string' && !source.trimStart().startsWith('{') ? await readLicence(source) : source;
  return openLicence(file, options.pin);
}

/**
 * A connected client: one typed method per operation of the crypto service (docs/protocol.md §6),
 * bytes in and out as Buffers. Every method rejects with a {@link CofferServiceError} carrying the
 * device's code when the device refuses (ERR_KEY_USAGE, ERR_NOT_FOUND, ERR_CIPHERTEXT, …), with
 * CofferTimeoutError ERR_TIMEOUT, CofferConnectionError, CofferClosedError, or CofferRequestError
 * (ERR_FIELD, ERR_FRAME_TOO_LARGE: nothing was sent).
 */
export class CofferClient {
  readonly #pool: Pool;
  readonly #timeoutMs: number;
  readonly #maxFrameBytes: number;
  /** The operator and limits of the licence in use (no secrets). */
  readonly licence: {
    readonly operator: string;
    readonly deviceId: string;
    readonly serial: string;
    readonly maxConnections: number;
  };

  /** @internal Use {@link connect}. */
  constructor(pool: Pool, licence: OpenedLicence, timeoutMs: number, maxFrameBytes: number) {
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
    this.#maxFrameBytes = maxFrameBytes;
    this.licence = {
      operator: licence.operator,
      deviceId: licence.deviceId,
      serial: licence.serial,
      maxConnections: licence.maxConnections,
    };
  }

  /** The open connections, each with its address and requests in flight. */
  get connections(): { address: string; inFlight: number }[] {
    return this.#pool.connections;
  }

  /** The server's `info` from the first connection (protocol version, frame and batch limits). */
  get serverInfo(): ServerInfo | undefined {
    return this.#pool.info;
  }

  /** Any command by its codec: the building block of the typed methods. */
  call<C extends AnyCommand>(
    command: C,
    request: RequestOf<C>,
    options: CallOptions = {},
  ): Promise<ResponseOf<C>> {
    let body: Buffer;
    try {
      body = command.request.encode(request);
    } catch (error) {
      if (isProtocolError(error))
        return Promise.reject(new CofferRequestError(error.code, error.message, error.details.field));
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        command,
        body,
        deadline: Date.now() + (options.timeoutMs ?? this.#timeoutMs),
        attempts: 0,
        resolve: resolve as (r: unknown) => void,
        reject,
      };
      this.#pool.dispatch(pending);
    });
  }

  /** Echoes `data` (liveness). */
  async ping(data?: Bytes, options?: CallOptions): Promise<Buffer> {
    const r = await this.call(PING, data ? { data: Buffer.from(data) } : {}, options);
    return own(r.data ?? Buffer.alloc(0));
  }

  /** The server's protocol version, limits and version string. */
  info(options?: CallOptions): Promise<ServerInfo> {
    return this.call(INFO, {}, options);
  }

  /** `length` (1–65,536) random bytes from the device. */
  async random(length: number, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(RANDOM, { length }, options)).data);
  }

  /** A digest: sha1, sha224…sha512, sha3-*, sm3. */
  async hash(request: In<Req<typeof HASH>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(HASH, request as Req<typeof HASH>, options)).digest);
  }

  /** e = SM3(Z ‖ data) for an SM2 key (stored or given) and signer ID, with Z. */
  async sm2Digest(
    request: In<Req<typeof SM2_DIGEST>>,
    options?: CallOptions,
  ): Promise<{ digest: Buffer; z: Buffer }> {
    const r = await this.call(SM2_DIGEST, request as Req<typeof SM2_DIGEST>, options);
    return { digest: own(r.digest), z: own(r.z) };
  }

  /** An HMAC or CMAC with a stored key (usage `mac`), optionally truncated to `length` bytes. */
  async mac(request: In<Req<typeof MAC>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(MAC, request as Req<typeof MAC>, options)).mac);
  }

  /** Checks a MAC in constant time on the device; a mismatch is `false`, not an error. */
  async verifyMac(request: In<Req<typeof VERIFY_MAC>>, options?: CallOptions): Promise<boolean> {
    return (await this.call(VERIFY_MAC, request as Req<typeof VERIFY_MAC>, options)).valid;
  }

  /** Symmetric encryption with a stored key; the IV is drawn by the device unless given (GCM also returns the tag). */
  async encrypt(request: In<Req<typeof ENCRYPT>>, options?: CallOptions): Promise<EncryptResult> {
    const r = await this.call(ENCRYPT, request as Req<typeof ENCRYPT>, options);
    return {
      ciphertext: own(r.ciphertext),
      ...(r.iv ? { iv: own(r.iv) } : {}),
      ...(r.tag ? { tag: own(r.tag) } : {}),
    };
  }

  /** Symmetric decryption with a stored key. A wrong tag or padding is ERR_CIPHERTEXT. */
  async decrypt(request: In<Req<typeof DECRYPT>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(DECRYPT, request as Req<typeof DECRYPT>, options)).plaintext);
  }

  /** Signs data (or its digest with `prehashed`) with a stored key: PKCS#1/PSS, DER ECDSA/SM2, raw Ed25519. */
  async sign(request: In<Req<typeof SIGN>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(SIGN, request as Req<typeof SIGN>, options)).signature);
  }

  /** Verifies a signature with a stored key or a given SPKI public key; a bad signature is `false`. */
  async verify(request: In<Req<typeof VERIFY>>, options?: CallOptions): Promise<boolean> {
    return (await this.call(VERIFY, request as Req<typeof VERIFY>, options)).valid;
  }

  /** RSA-OAEP, RSA PKCS#1 v1.5 or SM2 encryption to a stored key or a given public key. */
  async asymEncrypt(request: In<Req<typeof ASYM_ENCRYPT>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(ASYM_ENCRYPT, request as Req<typeof ASYM_ENCRYPT>, options)).ciphertext);
  }

  /** Decryption with a stored RSA or SM2 private key; a ciphertext that does not open is ERR_CIPHERTEXT. */
  async asymDecrypt(request: In<Req<typeof ASYM_DECRYPT>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(ASYM_DECRYPT, request as Req<typeof ASYM_DECRYPT>, options)).plaintext);
  }

  /** A fresh data key, in plaintext and wrapped under a stored KEK (use the plaintext, keep the wrapped form). */
  async generateDataKey(
    request: In<Req<typeof GENERATE_DATA_KEY>>,
    options?: CallOptions,
  ): Promise<{ plaintext: Buffer; wrapped: Buffer }> {
    const r = await this.call(GENERATE_DATA_KEY, request as Req<typeof GENERATE_DATA_KEY>, options);
    return { plaintext: own(r.plaintext), wrapped: own(r.wrapped) };
  }

  /** Wraps key material under a stored KEK (AES-KW, AES-KWP, RSA-OAEP, SM2). */
  async wrap(request: In<Req<typeof WRAP>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(WRAP, request as Req<typeof WRAP>, options)).wrapped);
  }

  /** Unwraps key material under a stored KEK; a failed integrity check is ERR_CIPHERTEXT. */
  async unwrap(request: In<Req<typeof UNWRAP>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(UNWRAP, request as Req<typeof UNWRAP>, options)).keyMaterial);
  }

  /** ECDH with a stored EC key and a peer's SPKI, optionally through HKDF. */
  async derive(request: In<Req<typeof DERIVE>>, options?: CallOptions): Promise<Buffer> {
    return own((await this.call(DERIVE, request as Req<typeof DERIVE>, options)).secret);
  }

  /** The SPKI PEM of a stored asymmetric key bound to the operator. */
  async publicKey(key: number, options?: CallOptions): Promise<string> {
    return (await this.call(PUBLIC_KEY, { key }, options)).publicKey;
  }

  /** A bound key's attributes. */
  keyInfo(key: number, options?: CallOptions): Promise<KeyInfo> {
    return this.call(KEY_INFO, { key }, options);
  }

  /** One page of the operator's bound keys (by index); without `limit`, every page in turn. */
  async listKeys(
    request: { offset?: number; limit?: number } = {},
    options?: CallOptions,
  ): Promise<{ total: number; keys: KeyInfo[] }> {
    if (request.limit !== undefined) return this.call(LIST_KEYS, request, options);
    const keys: KeyInfo[] = [];
    let offset = request.offset ?? 0;
    for (;;) {
      const page = await this.call(LIST_KEYS, { offset, limit: 1000 }, options);
      keys.push(...page.keys);
      offset += page.keys.length;
      if (page.keys.length === 0 || offset >= page.total) return { total: page.total, keys };
    }
  }

  /**
   * Many requests of one command in as few `batch` frames as the server's limits allow (items and
   * frame size), sent in parallel. Results come back in the items' order; one refused item does not
   * fail the others (its result carries the device's code).
   *
   * @throws CofferRequestError when one item alone is over the frame limit or a field is wrong.
   */
  async batch<N extends BatchableName>(
    name: N,
    items: readonly In<Req<(typeof BATCHABLE)[N]>>[],
    options?: CallOptions,
  ): Promise<BatchResult<ResponseOf<(typeof BATCHABLE)[N]>>[]> {
    const command: CommandCodec<unknown, unknown> = BATCHABLE[name];
    const bodies: Buffer[] = [];
    for (const item of items) {
      try {
        bodies.push(command.request.encode(item));
      } catch (error) {
        if (isProtocolError(error))
          throw new CofferRequestError(error.code, error.message, error.details.field);
        throw error;
      }
    }
    const info = this.#pool.info;
    const maxItems = Math.min(MAX_BATCH_ITEMS, info?.maxBatchItems ?? MAX_BATCH_ITEMS);
    const maxFrame = Math.min(this.#maxFrameBytes, info?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    // The batch body: the command field (5 + 2 bytes), then one field (5 + n bytes) per item.
    const room = maxFrame - FRAME_HEADER_BYTES - (FIELD_HEADER_BYTES + 2);
    const chunks: Buffer[][] = [];
    let chunk: Buffer[] = [];
    let used = 0;
    for (const body of bodies) {
      const size = FIELD_HEADER_BYTES + body.length;
      if (chunk.length > 0 && (chunk.length >= maxItems || used + size > room)) {
        chunks.push(chunk);
        chunk = [];
        used = 0;
      }
      chunk.push(body);
      used += size;
    }
    if (chunk.length > 0) chunks.push(chunk);
    const replies = await Promise.all(
      chunks.map((c) => this.call(BATCH, { command: command.code, items: c }, options)),
    );
    const results: BatchResult<ResponseOf<(typeof BATCHABLE)[N]>>[] = [];
    for (const reply of replies) {
      for (const r of reply.results) {
        if (r.body !== undefined) {
          try {
            results.push({ ok: true, value: command.response.decode(own(r.body)) as never });
          } catch (error) {
            if (isProtocolError(error))
              throw new CofferProtocolError(
                error.code,
                `The server sent a bad batch result: ${error.message}`,
              );
            throw error;
          }
        } else results.push({ ok: false, error: new CofferServiceError(r.errorCode!, r.errorMessage!) });
      }
    }
    if (results.length !== items.length)
      throw new CofferServiceError(
        'ERR_INTERNAL',
        `The batch answered ${results.length} results for ${items.length} items.`,
      );
    return results;
  }

  /**
   * Closes the client: new calls fail with ERR_CLOSED; calls in flight finish (within their
   * timeouts) unless `force`, then every connection ends.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    return this.#pool.close(options);
  }
}
