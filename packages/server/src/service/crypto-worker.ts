import { createSecretKey } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { isCofferError, loadPrivateKey, publicKeyFromPkcs8 } from '@coffer/core';
import { type OperationKey, runOperation } from './operations.js';
import {
  asBuffers,
  detachBytes,
  type FromWorker,
  type ToWorker,
  type WorkerKeyRef,
  type WorkerResult,
} from './worker-messages.js';

/**
 * A crypto worker of the pool (worker-pool.ts): runs the operations of `operations.ts` off the main
 * thread. Keys arrive once as PKCS#8 (or raw secrets), are loaded into `KeyObject`s, the bytes are
 * wiped, and the objects stay cached here until the pool says to forget them or the worker ends
 * (the service stops). Results go back in bursts: after each millisecond of work or at the end of a
 * burst of jobs, so that a slow job does not hold back the answers of the quick ones before it.
 */

/** Keys held per worker; beyond this the oldest is let go (the pool resends it if needed). */
const MAX_KEYS = 4096;
const FLUSH_AFTER_MS = 1;

const port = parentPort;
if (!port) throw new Error('crypto-worker.js runs as a worker thread of the crypto service');

const keys = new Map<string, OperationKey>();

function load(ref: WorkerKeyRef): OperationKey | null {
  const held = keys.get(ref.id);
  if (held) return held;
  if (!ref.material) return null;
  const bytes = Buffer.from(
    ref.material.bytes.buffer,
    ref.material.bytes.byteOffset,
    ref.material.bytes.byteLength,
  );
  try {
    const key: OperationKey =
      ref.material.kind === 'secret'
        ? { kind: 'secret', type: ref.type, family: ref.family, secret: createSecretKey(bytes) }
        : {
            kind: 'pair',
            type: ref.type,
            family: ref.family,
            privateKey: loadPrivateKey(bytes),
            publicKey: publicKeyFromPkcs8(bytes),
          };
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value as string);
    keys.set(ref.id, key);
    return key;
  } finally {
    bytes.fill(0);
  }
}

port.on('message', (message: ToWorker) => {
  if ('forget' in message) {
    for (const id of message.forget) keys.delete(id);
    return;
  }
  let results: WorkerResult[] = [];
  let since = performance.now();
  for (const job of message.jobs) {
    let result: WorkerResult;
    try {
      const key = job.key ? load(job.key) : null;
      if (job.key && !key) {
        result = { id: job.id, needKey: true };
      } else {
        const response = runOperation(asBuffers(job.request), key);
        result = { id: job.id, ok: true, response: detachBytes(response) as Record<string, unknown> };
      }
    } catch (error) {
      result = {
        id: job.id,
        ok: false,
        error: isCofferError(error)
          ? { code: error.code, message: error.message, details: { ...error.details } }
          : { code: 'ERR_INTERNAL', message: 'The operation failed inside the device.', details: {} },
      };
    }
    results.push(result);
    const now = performance.now();
    if (now - since >= FLUSH_AFTER_MS) {
      port.postMessage({ results } satisfies FromWorker);
      results = [];
      since = now;
    }
  }
  if (results.length > 0) port.postMessage({ results } satisfies FromWorker);
});
