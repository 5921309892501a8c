import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CofferError, type ErrorCode, isErrorCode, type KeyFamily } from '@coffer/core';
import type { CryptoRequest } from './operations.js';
import {
  asBuffers,
  detachBytes,
  type FromWorker,
  type ToWorker,
  type WorkerJob,
  type WorkerKeyMaterial,
  type WorkerResult,
} from './worker-messages.js';

/** A stored key as the pool hands it to workers. */
export interface PoolKey {
  /** Unique per key material (index, version, creation time). */
  readonly id: string;
  readonly type: string;
  readonly family: KeyFamily;
  /** Fresh bytes of the material each call (the pool wipes them once posted). */
  exportMaterial(): WorkerKeyMaterial;
}

export interface WorkerPoolOptions {
  /** Workers to run; `os.availableParallelism()` by default. */
  size?: number;
  /** Where the worker script is (tests may point elsewhere). */
  script?: URL;
  /** Called when a worker dies unexpectedly (it is replaced). */
  onWorkerError?: (error: unknown) => void;
}

interface Pending {
  readonly job: WorkerJob;
  readonly key: PoolKey | null;
  readonly cost: number;
  readonly resolve: (response: Record<string, unknown>) => void;
  readonly reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** Jobs posted or waiting to be posted and not yet answered. */
  readonly pending: Map<number, Pending>;
  /** Their estimated cost in microseconds of CPU (see `estimateCost`). */
  pendingCost: number;
  readonly keys: Set<string>;
  outbox: WorkerJob[];
  flushScheduled: boolean;
  online: boolean;
  dead: boolean;
  ready: Promise<void>;
}

const SCRIPT = new URL('./crypto-worker.js', import.meta.url);

/**
 * Worker threads for the operations that would hold the event loop: private-key operations (RSA,
 * ECDSA, SM2, Ed25519 signatures, RSA and SM2 decryption, ECDH), SM2 and other public-key work, and
 * symmetric work on large inputs. One worker per core by default, so that with the main thread (TLS,
 * framing, small symmetric operations) every core is used. Each job goes to the worker with the
 * least work outstanding, by an estimate of each job's cost (preferring one that already holds the
 * key), so a slow RSA-4096 signature occupies one worker while quick jobs flow through the others;
 * jobs posted in one tick travel in one message. Key material goes to a worker once (PKCS#8 or the raw secret) and is
 * cached there as a `KeyObject` until `forget` or `close`.
 */
export class WorkerPool {
  readonly size: number;
  readonly #script: URL;
  readonly #onWorkerError: ((error: unknown) => void) | undefined;
  readonly #slots: Slot[] = [];
  #nextId = 1;
  #closed = false;
  #completed = 0;

  constructor(options: WorkerPoolOptions = {}) {
    this.size = Math.max(1, options.size ?? availableParallelism());
    this.#script = options.script ?? SCRIPT;
    this.#onWorkerError = options.onWorkerError;
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
  }

  /** Resolves once every worker has started (its modules loaded). */
  async ready(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.ready));
  }

  /** Jobs completed since the pool started. */
  get completed(): number {
    return this.#completed;
  }

  /** Jobs outstanding per worker. */
  get load(): number[] {
    return this.#slots.map((s) => s.pending.size);
  }

  #spawn(): Slot {
    const worker = new Worker(this.#script);
    const slot: Slot = {
      worker,
      pending: new Map(),
      pendingCost: 0,
      keys: new Set(),
      outbox: [],
      flushScheduled: false,
      online: false,
      dead: false,
      ready: new Promise<void>((resolve, reject) => {
        worker.once('online', () => {
          slot.online = true;
          resolve();
        });
        worker.once('error', reject);
      }),
    };
    slot.ready.catch(() => undefined);
    worker.on('message', (message: FromWorker) => this.#onResults(slot, message.results));
    worker.on('error', (error) => this.#onDeath(slot, error));
    worker.on('exit', (code) => {
      if (!this.#closed) this.#onDeath(slot, new Error(`crypto worker exited with code ${code}`));
    });
    return slot;
  }

  #onDeath(slot: Slot, error: unknown): void {
    const at = this.#slots.indexOf(slot);
    if (at === -1 || this.#closed || slot.dead) return;
    slot.dead = true;
    this.#onWorkerError?.(error);
    const failed = new CofferError('ERR_INTERNAL', 'A crypto worker of the device failed; try again.');
    for (const p of slot.pending.values()) p.reject(failed);
    slot.pending.clear();
    slot.pendingCost = 0;
    void slot.worker.terminate().catch(() => undefined);
    // A worker that never came up (a broken install) is not restarted in a loop.
    if (slot.online) this.#slots[at] = this.#spawn();
  }

  /**
   * Runs `request` in a worker with `key` (the stored key it names, if any).
   *
   * @throws CofferError as the operation does (ERR_ALGORITHM, ERR_CRYPTO_INPUT, ERR_CIPHERTEXT…);
   *   ERR_SERVICE_STOPPED once the pool is closed; ERR_INTERNAL when a worker dies meanwhile.
   */
  run(request: CryptoRequest, key: PoolKey | null): Promise<Record<string, unknown>> {
    if (this.#closed) {
      return Promise.reject(new CofferError('ERR_SERVICE_STOPPED', 'The crypto service has stopped.'));
    }
    const cost = estimateCost(request, key);
    const slot = this.#pick(key);
    if (!slot) {
      return Promise.reject(new CofferError('ERR_INTERNAL', 'The device has no working crypto worker.'));
    }
    const id = this.#nextId++;
    if (this.#nextId > 0x3fff_ffff) this.#nextId = 1;
    const job: WorkerJob = {
      id,
      request: detachBytes(request),
      ...(key ? { key: this.#keyRef(slot, key) } : {}),
    };
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { job, key, cost, resolve, reject });
      slot.pendingCost += cost;
      this.#post(slot, job);
    });
  }

  #keyRef(slot: Slot, key: PoolKey): WorkerJob['key'] {
    if (slot.keys.has(key.id)) return { id: key.id, type: key.type, family: key.family };
    slot.keys.add(key.id);
    return { id: key.id, type: key.type, family: key.family, material: key.exportMaterial() };
  }

  #pick(key: PoolKey | null): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.#slots) {
      if (slot.dead) continue;
      if (!best) {
        best = slot;
        continue;
      }
      const load = slot.pendingCost;
      const bestLoad = best.pendingCost;
      if (load < bestLoad || (load === bestLoad && key && slot.keys.has(key.id) && !best.keys.has(key.id))) {
        best = slot;
      }
    }
    return best;
  }

  #post(slot: Slot, job: WorkerJob): void {
    slot.outbox.push(job);
    if (slot.flushScheduled) return;
    slot.flushScheduled = true;
    queueMicrotask(() => {
      slot.flushScheduled = false;
      const jobs = slot.outbox;
      slot.outbox = [];
      if (jobs.length === 0) return;
      slot.worker.postMessage({ jobs } satisfies ToWorker);
      // The material was copied into the message: wipe what was sent.
      for (const j of jobs) j.key?.material?.bytes.fill(0);
    });
  }

  #onResults(slot: Slot, results: readonly WorkerResult[]): void {
    for (const result of results) {
      const pending = slot.pending.get(result.id);
      if (!pending) continue;
      if ('needKey' in result) {
        // The worker let the key go (or never had it): send it again with the material.
        if (pending.key) {
          slot.keys.delete(pending.key.id);
          const job: WorkerJob = { ...pending.job, key: this.#keyRef(slot, pending.key) };
          slot.pending.set(result.id, { ...pending, job });
          this.#post(slot, job);
        } else {
          slot.pending.delete(result.id);
          slot.pendingCost -= pending.cost;
          pending.reject(
            new CofferError('ERR_INTERNAL', 'A crypto worker asked for a key it was not given.'),
          );
        }
        continue;
      }
      slot.pending.delete(result.id);
      slot.pendingCost -= pending.cost;
      this.#completed += 1;
      if (result.ok) {
        pending.resolve(asBuffers(result.response));
      } else {
        const code: ErrorCode = isErrorCode(result.error.code) ? result.error.code : 'ERR_INTERNAL';
        pending.reject(new CofferError(code, result.error.message, result.error.details));
      }
    }
  }

  /** Lets every worker drop the key `id` (its material changed or the key went). */
  forget(id: string): void {
    for (const slot of this.#slots) {
      if (slot.keys.delete(id)) slot.worker.postMessage({ forget: [id] } satisfies ToWorker);
    }
  }

  /** Ends every worker (their cached keys go with them); jobs outstanding fail with ERR_SERVICE_STOPPED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const stopped = new CofferError('ERR_SERVICE_STOPPED', 'The crypto service has stopped.');
    await Promise.all(
      this.#slots.map(async (slot) => {
        for (const p of slot.pending.values()) p.reject(stopped);
        slot.pending.clear();
        slot.pendingCost = 0;
        slot.keys.clear();
        for (const job of slot.outbox) job.key?.material?.bytes.fill(0);
        slot.outbox = [];
        await slot.worker.terminate().catch(() => undefined);
      }),
    );
  }
}

/** Rough CPU cost of a private-key operation on this kind of key, in microseconds (measured on the reference machine). */
const PRIVATE_COST: Record<string, number> = {
  'RSA-1024': 80,
  'RSA-2048': 300,
  'RSA-3072': 1200,
  'RSA-4096': 4000,
  'EC-P256': 50,
  'EC-P384': 350,
  SM2: 450,
  Ed25519: 60,
};

/**
 * What a job will cost a worker, roughly, in microseconds: enough to keep slow jobs (RSA-4096, SM2
 * in JavaScript, digests signed with noble) from queueing quick ones behind them. Not a promise.
 */
export function estimateCost(request: CryptoRequest, key: Pick<PoolKey, 'type'> | null): number {
  const r = request.request as { data?: Uint8Array; prehashed?: boolean; algorithm?: string };
  const bytes = r.data?.length ?? 0;
  const type = key?.type ?? '';
  const sm2 = type === 'SM2' || r.algorithm === 'sm2' || r.algorithm === 'sm2-sm3';
  switch (request.command) {
    case 'sign':
      return (PRIVATE_COST[type] ?? 300) * (r.prehashed && type.startsWith('EC-') ? 15 : 1) + bytes / 500;
    case 'asym-decrypt':
    case 'unwrap':
      return sm2 ? 3000 : (PRIVATE_COST[type] ?? 300);
    case 'derive':
      return 150;
    case 'verify':
      return (sm2 ? 2500 : r.prehashed && r.algorithm?.startsWith('ecdsa') ? 3000 : 150) + bytes / 500;
    case 'asym-encrypt':
    case 'wrap':
    case 'generate-data-key':
      return sm2 ? 3700 : 50;
    case 'sm2-digest':
      return 100 + bytes / 500;
    default:
      return 10 + bytes / 1000;
  }
}
