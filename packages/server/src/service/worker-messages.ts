import type { KeyFamily } from '@coffer/core';
import type { CryptoRequest } from './operations.js';

/**
 * The messages between the worker pool and its crypto workers. Jobs travel in arrays (one
 * `postMessage` per burst, not per job); key material travels once per key and worker.
 */

/** Key material as sent to a worker: a raw secret, or a PKCS#8 DER private key. Wiped by the sender after posting. */
export interface WorkerKeyMaterial {
  readonly kind: 'secret' | 'pkcs8';
  readonly bytes: Uint8Array;
}

export interface WorkerKeyRef {
  /** Unique per key material: index, version and creation time. */
  readonly id: string;
  readonly type: string;
  readonly family: KeyFamily;
  /** Present the first time this worker sees the key (or after it asked for it again). */
  readonly material?: WorkerKeyMaterial;
}

export interface WorkerJob {
  readonly id: number;
  readonly request: CryptoRequest;
  readonly key?: WorkerKeyRef;
}

export type ToWorker = { readonly jobs: readonly WorkerJob[] } | { readonly forget: readonly string[] };

export interface WireErrorDetail {
  readonly code: string;
  readonly message: string;
  readonly details: Record<string, string | number | boolean | string[]>;
}

export type WorkerResult =
  | { readonly id: number; readonly ok: true; readonly response: Record<string, unknown> }
  | { readonly id: number; readonly ok: false; readonly error: WireErrorDetail }
  /** The worker does not hold the key (it was never sent, or the worker's cache let it go): resend with material. */
  | { readonly id: number; readonly needKey: true };

export interface FromWorker {
  readonly results: readonly WorkerResult[];
}

/**
 * A copy of `value` whose byte fields own their memory. Structured cloning a `Uint8Array` copies
 * its whole `ArrayBuffer`, and a small Buffer is usually a view into Node's 8 KiB pool or a TLS
 * record: without this, every 64-byte field would cost a kilobytes-long copy.
 */
export function detachBytes<T>(value: T): T {
  if (value instanceof Uint8Array) {
    return (value.byteLength === value.buffer.byteLength ? value : new Uint8Array(value)) as T;
  }
  if (Array.isArray(value)) return value.map(detachBytes) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = detachBytes(v);
    return out as T;
  }
  return value;
}

/** Turns the plain `Uint8Array`s a message arrives with back into Buffers (views, no copy). */
export function asBuffers<T>(value: T): T {
  if (value instanceof Uint8Array) {
    return (
      Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    ) as T;
  }
  if (Array.isArray(value)) return value.map(asBuffers) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = asBuffers(v);
    return out as T;
  }
  return value;
}
