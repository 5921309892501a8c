import { CofferError, type ErrorCode, isCofferError } from '@coffer/core';
import { isProtocolError, MAX_BATCH_ITEMS, PROTOCOL_VERSION } from '@coffer/protocol';
import { type KeyAccess, KeyAccessError, type ServiceKey } from './key-access.js';
import {
  assertAlgorithmFits,
  type CryptoRequest,
  isCryptoCommand,
  keyIndexOf,
  runOperation,
  usageFor,
} from './operations.js';
import { RandomPool } from './random-pool.js';
import type { ServiceRequest, ServiceResponseOf, SingleCommandName } from './service-commands.js';
import type { WorkerPool } from './worker-pool.js';

/** Who is asking: one admitted connection (binary or REST) of one operator. */
export interface ServiceSession {
  readonly id: number;
  readonly operator: string;
  readonly ip: string;
  /** Requests received (each batch item counts), and of those refused. */
  requests: number;
  errors: number;
}

/** A refusal as it travels: the code (the device's, or the protocol's) and a sentence. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

export type BatchItemResult = { readonly response: unknown } | { readonly error: WireError };

export interface DispatcherOptions {
  keys: KeyAccess;
  pool: WorkerPool;
  /** What `info` answers. */
  maxFrameBytes: number;
  server: string;
  /** Symmetric operations and hashes on at most this many bytes run inline; larger go to a worker. 64 KiB by default. */
  inlineMaxBytes?: number;
  /** A request was refused its key (for the operator log). */
  onKeyRefusal?: (session: ServiceSession, command: string, index: number, error: CofferError) => void;
  /** An unexpected failure (a bug): for the running log. */
  onInternalError?: (session: ServiceSession, command: string, error: unknown) => void;
}

const INLINE_MAX_BYTES = 64 * 1024;

/** One answer, now or later. */
type Answer<N extends SingleCommandName> = ServiceResponseOf<N> | Promise<ServiceResponseOf<N>>;

/**
 * The one dispatcher of the crypto service (DESIGN §5): every operation of both protocols arrives
 * here as a `ServiceRequest` and is executed against the engine after the key checks of
 * `key-access.ts`. Where the work runs is decided per request: small symmetric operations, hashes
 * and random bytes inline on the main thread (a worker round trip costs more than the operation);
 * anything with a private or public key, and large inputs, in the worker pool.
 *
 * Every request is counted (per command, and per session with its refusals). Refusals of key
 * access are reported through `onKeyRefusal` for the operator log; successes are not logged one by
 * one (see docs/protocol.md §10).
 */
export class Dispatcher {
  readonly #opts: DispatcherOptions;
  readonly #inlineMax: number;
  readonly #counts = new Map<string, { requests: number; errors: number }>();
  readonly #ivs = new RandomPool();

  constructor(opts: DispatcherOptions) {
    this.#opts = opts;
    this.#inlineMax = opts.inlineMaxBytes ?? INLINE_MAX_BYTES;
  }

  /** Requests and refusals per command since the service started. */
  counts(): Record<string, { requests: number; errors: number }> {
    return Object.fromEntries([...this.#counts].map(([k, v]) => [k, { ...v }]));
  }

  #count(command: string): { requests: number; errors: number } {
    let c = this.#counts.get(command);
    if (!c) {
      c = { requests: 0, errors: 0 };
      this.#counts.set(command, c);
    }
    return c;
  }

  /**
   * Executes one request for `session`. Synchronous when it can be (an inline operation with a key
   * already open), a promise otherwise.
   *
   * @throws CofferError with the refusal's code (ERR_KEY_*, ERR_ALGORITHM, ERR_CRYPTO_INPUT,
   *   ERR_CIPHERTEXT, ERR_STATE_*, ERR_INTEGRITY, ERR_INTERNAL…), synchronously or by rejecting.
   */
  execute<N extends SingleCommandName>(
    session: ServiceSession,
    request: Extract<ServiceRequest, { command: N }>,
  ): Answer<N> {
    session.requests += 1;
    this.#count(request.command).requests += 1;
    try {
      const answer = this.#execute(session, request as ServiceRequest) as Answer<N>;
      if (answer instanceof Promise) return answer.catch((error) => this.#failed(session, request, error));
      return answer;
    } catch (error) {
      return this.#failed(session, request, error);
    }
  }

  #failed(session: ServiceSession, request: ServiceRequest, error: unknown): never {
    session.errors += 1;
    this.#count(request.command).errors += 1;
    if (error instanceof KeyAccessError) {
      this.#opts.onKeyRefusal?.(session, request.command, keyIndexOf(request) ?? 0, error);
    } else if (!isCofferError(error) && !isProtocolError(error)) {
      this.#opts.onInternalError?.(session, request.command, error);
      throw new CofferError('ERR_INTERNAL', 'The device failed to complete this request.');
    }
    throw error;
  }

  #execute(session: ServiceSession, request: ServiceRequest): unknown {
    switch (request.command) {
      case 'ping':
        return request.request.data === undefined ? {} : { data: request.request.data };
      case 'info':
        return {
          protocolVersion: PROTOCOL_VERSION,
          maxFrameBytes: this.#opts.maxFrameBytes,
          maxBatchItems: MAX_BATCH_ITEMS,
          server: this.#opts.server,
        };
      case 'list-keys':
        return this.#listKeys(session, request.request.offset ?? 0, request.request.limit ?? 100);
      case 'key-info':
        return this.#then(
          this.#opts.keys.resolve(session.operator, request.request.key, { usage: [], status: 'any' }),
          (key) => this.#opts.keys.infoOf(key),
        );
      case 'public-key':
        return this.#then(
          this.#opts.keys.resolve(session.operator, request.request.key, { usage: [], status: 'usable' }),
          (key) => {
            if (!key.record.publicKey) {
              throw new CofferError(
                'ERR_ALGORITHM',
                `Key ${key.index} is a secret key; it has no public key.`,
                {
                  field: 'key',
                },
              );
            }
            return { publicKey: key.record.publicKey };
          },
        );
    }
    if (!isCryptoCommand(request)) throw new CofferError('ERR_INTERNAL', 'No handler for this command.');
    const index = keyIndexOf(request);
    if (index === undefined) return this.#run(request, null);
    const usage = usageFor(request) ?? [];
    return this.#then(this.#opts.keys.resolve(session.operator, index, { usage, status: 'usable' }), (key) =>
      this.#run(request, key),
    );
  }

  #then<T, R>(value: T | Promise<T>, next: (value: T) => R | Promise<R>): R | Promise<R> {
    return value instanceof Promise ? value.then(next) : next(value);
  }

  #run(request: CryptoRequest, key: ServiceKey | null): unknown {
    if (key) assertAlgorithmFits(request, key);
    if (!this.#runsInline(request, key)) return this.#opts.pool.run(request, key);
    // The device draws a missing IV, from a pool: one OpenSSL call per 64 KiB instead of one per request.
    let iv: Buffer | undefined;
    if (
      request.command === 'encrypt' &&
      request.request.iv === undefined &&
      request.request.mode !== 'ecb' &&
      key
    ) {
      iv = this.#ivs.take(request.request.mode === 'gcm' ? 12 : (key.info.blockBytes ?? 16));
    }
    return runOperation(request, key?.operation ?? null, iv);
  }

  /** Inline: no key pair or public key involved, and a small input. */
  #runsInline(request: CryptoRequest, key: ServiceKey | null): boolean {
    if (key?.operation.kind === 'pair') return false;
    switch (request.command) {
      case 'random':
      case 'generate-data-key':
      case 'wrap':
      case 'unwrap':
        return true;
      case 'hash':
        return request.request.data.length <= this.#inlineMax;
      case 'mac':
      case 'verify-mac':
      case 'encrypt':
      case 'decrypt':
        return (
          request.request.data.length + ((request.request as { aad?: Buffer }).aad?.length ?? 0) <=
          this.#inlineMax
        );
      default:
        return false;
    }
  }

  async #listKeys(
    session: ServiceSession,
    offset: number,
    limit: number,
  ): Promise<ServiceResponseOf<'list-keys'>> {
    const keys = await this.#opts.keys.boundKeys(session.operator);
    return {
      total: keys.length,
      keys: keys.slice(offset, offset + limit).map((k) => this.#opts.keys.infoOf(k)),
    };
  }

  /**
   * Executes the items of a batch (one command), concurrently; one refused item does not fail the
   * others. Items that did not decode arrive as their error.
   */
  async executeBatch(
    session: ServiceSession,
    command: SingleCommandName,
    items: readonly ({ readonly request: unknown } | { readonly error: WireError })[],
  ): Promise<BatchItemResult[]> {
    return Promise.all(
      items.map(async (item): Promise<BatchItemResult> => {
        if ('error' in item) {
          session.requests += 1;
          session.errors += 1;
          return { error: item.error };
        }
        try {
          return {
            response: await this.execute(session, { command, request: item.request } as ServiceRequest),
          };
        } catch (error) {
          return { error: wireError(error) };
        }
      }),
    );
  }
}

/** The code and message a refusal travels with; anything that is not a Coffer or protocol error is ERR_INTERNAL. */
export function wireError(error: unknown): WireError & { code: ErrorCode | string } {
  if (isCofferError(error) || isProtocolError(error)) return { code: error.code, message: error.message };
  return { code: 'ERR_INTERNAL', message: 'The device failed to complete this request.' };
}
