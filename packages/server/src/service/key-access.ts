import { createSecretKey } from 'node:crypto';
import {
  bindingIntact,
  CofferError,
  type ErrorCode,
  effectiveStatus,
  type KeyRecord,
  type Keyring,
  type KeyTypeInfo,
  type KeyUsage,
  keyTypeInfo,
  loadPrivateKey,
  openKeyMaterial,
  publicKeyFromPkcs8,
  type Store,
  verifyKeyRecord,
} from '@coffer/core';
import type { OperationKey } from './operations.js';
import type { ServiceResponseOf } from './service-commands.js';
import type { PoolKey } from './worker-pool.js';

/**
 * Which stored keys an operator may use (DESIGN §5), and the keys themselves, opened once.
 *
 * A request may use a key only when, in this order:
 *
 * | check                                              | refusal                     |
 * |----------------------------------------------------|-----------------------------|
 * | a key has this index                               | ERR_KEY_NOT_FOUND           |
 * | it is bound to the operator (binding MAC intact)   | ERR_KEY_NOT_BOUND           |
 * | its status is not discard                          | ERR_KEY_DISCARDED           |
 * | it is not invalid, nor past its expiry (device time) | ERR_KEY_INVALID           |
 * | its usage flags allow the operation                | ERR_KEY_USAGE_NOT_ALLOWED   |
 *
 * The binding is checked before anything else about the key, so that a key of another operator is
 * refused with ERR_KEY_NOT_BOUND and nothing more: not its type, status, usage or whether it would
 * have worked. (That an index is in use is no secret: indexes are one sequence for all keys.) A
 * record whose MAC fails is ERR_INTEGRITY; a binding whose MAC fails counts as no binding.
 *
 * Keys are opened from the store once and kept as `KeyObject`s per (index, version, creation time)
 * while the service runs; the cache is dropped when it stops. Every entry is re-read from the store
 * (record and bindings, not the material) at most `ttlMs` after it was last read, and at once when
 * the management service reports a change (`invalidate`): a discarded, unbound or deleted key stops
 * working within that time, even if nobody reports it. A refusal is re-checked against the store
 * when its entry is older than 50 ms (a missing key always), so a key just made, bound or restored
 * works at once.
 */
export interface ServiceKey extends PoolKey {
  readonly index: number;
  readonly info: KeyTypeInfo;
  readonly record: Omit<KeyRecord, 'sealed' | 'mac'>;
  /** Operators with an intact binding. */
  readonly operators: ReadonlySet<string>;
  /** The opened material: a secret, or a key pair. */
  readonly operation: OperationKey;
  /** `record.expiresAt` in milliseconds. */
  readonly expiresAtMs: number;
}

/** What a request needs of a key: usage flags (any one of them), and whether it must be usable. */
export interface KeyNeed {
  readonly usage: readonly KeyUsage[];
  /** `usable`: normal and not expired (every operation, public-key); `any`: key-info of a bound key. */
  readonly status: 'usable' | 'any';
}

export interface KeyAccessOptions {
  store: () => Store;
  keyring: () => Keyring;
  /** The device clock (expiry is judged on device time). */
  now: () => Date;
  /** How long a key's record and bindings are trusted before re-reading them; 500 ms by default. */
  ttlMs?: number;
  /** Called when a key's material changed or it went: workers drop their copies. */
  forget?: (id: string) => void;
  /** A binding failed its MAC (the store was edited behind the device's back). */
  onBrokenBinding?: (index: number, operator: string) => void;
}

interface Entry {
  readonly key: ServiceKey | null;
  readonly readAt: number;
}

const MAX_ENTRIES = 100_000;
/** How long a refusal may be answered from the cache before the store is asked again. */
const REFUSAL_TTL_MS = 50;

/** A refusal of key access: the code and the key, never more. */
export class KeyAccessError extends CofferError {}

function refuse(code: ErrorCode, message: string, index: number): never {
  throw new KeyAccessError(code, message, { key: index });
}

export class KeyAccess {
  readonly #opts: KeyAccessOptions;
  readonly #ttlMs: number;
  readonly #entries = new Map<number, Entry>();
  readonly #loading = new Map<number, Promise<Entry>>();
  /** Bumped by `invalidate`: a load that started before it must not be cached. */
  #generation = 0;

  constructor(opts: KeyAccessOptions) {
    this.#opts = opts;
    this.#ttlMs = opts.ttlMs ?? 500;
  }

  /** Keys held (with their material). */
  get size(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.key) n += 1;
    return n;
  }

  /**
   * The key `index` for `operator`, if the table above lets the request use it. Synchronous when
   * the entry is fresh (the common case), so a small operation costs no promise.
   *
   * @throws KeyAccessError ERR_KEY_NOT_FOUND, ERR_KEY_NOT_BOUND, ERR_KEY_DISCARDED, ERR_KEY_INVALID,
   *   ERR_KEY_USAGE_NOT_ALLOWED; CofferError ERR_INTEGRITY, ERR_STATE_* (not booted), ERR_STORE.
   */
  resolve(operator: string, index: number, need: KeyNeed): ServiceKey | Promise<ServiceKey> {
    const entry = this.#entries.get(index);
    const age = entry ? performance.now() - entry.readAt : Number.POSITIVE_INFINITY;
    if (entry && age < this.#ttlMs) {
      try {
        return this.#decide(entry, operator, index, need);
      } catch (error) {
        // A refusal from an entry more than a moment old is checked against the store first, so
        // that a key just made, bound or restored works at once (refusing is the rare path).
        // "No such key" is never answered from the cache: the next index may be made any moment.
        if (entry.key && age < REFUSAL_TTL_MS) throw error;
      }
    }
    return this.#load(index).then((fresh) => this.#decide(fresh, operator, index, need));
  }

  #decide(entry: Entry, operator: string, index: number, need: KeyNeed): ServiceKey {
    const key = entry.key;
    if (!key) return refuse('ERR_KEY_NOT_FOUND', `There is no key ${index}.`, index);
    if (!key.operators.has(operator)) {
      return refuse('ERR_KEY_NOT_BOUND', `Key ${index} is not bound to this operator.`, index);
    }
    if (need.status === 'any') return key;
    // The common case first: normal and before its expiry (no date parsing per request).
    if (key.record.status === 'normal' && this.#opts.now().getTime() < key.expiresAtMs) {
      if (need.usage.length === 0 || need.usage.some((u) => key.record.usage.includes(u))) return key;
    }
    const status = effectiveStatus(key.record, this.#opts.now());
    if (status.status === 'discard') return refuse('ERR_KEY_DISCARDED', `Key ${index} is discarded.`, index);
    if (status.status === 'invalid') {
      const why = status.invalidReason === 'expired' ? ' (expired)' : '';
      return refuse('ERR_KEY_INVALID', `Key ${index} is invalid${why}.`, index);
    }
    if (need.usage.length > 0 && !need.usage.some((u) => key.record.usage.includes(u))) {
      return refuse(
        'ERR_KEY_USAGE_NOT_ALLOWED',
        `Key ${index} may not be used to ${need.usage.join(' or ')}; its usage is ${key.record.usage.join(', ') || 'none'}.`,
        index,
      );
    }
    return key;
  }

  #load(index: number): Promise<Entry> {
    const running = this.#loading.get(index);
    if (running) return running;
    const generation = this.#generation;
    const loading = this.#read(index)
      .then((entry) => {
        if (generation === this.#generation) this.#keep(index, entry);
        return entry;
      })
      .finally(() => this.#loading.delete(index));
    this.#loading.set(index, loading);
    return loading;
  }

  async #read(index: number): Promise<Entry> {
    const keyring = this.#opts.keyring();
    const store = this.#opts.store();
    const record = await store.getKey(index);
    const readAt = performance.now();
    if (!record) return { key: null, readAt };
    verifyKeyRecord(keyring, record);
    const operators = new Set<string>();
    for (const binding of await store.listBindings({ keyIndex: index })) {
      if (bindingIntact(keyring, binding, record)) operators.add(binding.operator);
      else this.#opts.onBrokenBinding?.(index, binding.operator);
    }
    const id = `${record.index}:${record.version}:${record.createdAt}`;
    const { sealed: _sealed, mac: _mac, ...metadata } = record;
    const held = this.#entries.get(index)?.key;
    const operation = held?.id === id ? held.operation : this.#open(keyring, record);
    return { key: makeServiceKey(id, metadata, operators, operation), readAt };
  }

  #open(keyring: Keyring, record: KeyRecord): OperationKey {
    const info = keyTypeInfo(record.type);
    const material = openKeyMaterial(keyring, record);
    try {
      if (info.keyClass === 'symmetric') {
        return { kind: 'secret', type: info.name, family: info.family, secret: createSecretKey(material) };
      }
      return {
        kind: 'pair',
        type: info.name,
        family: info.family,
        privateKey: loadPrivateKey(material),
        publicKey: publicKeyFromPkcs8(material),
      };
    } finally {
      material.fill(0);
    }
  }

  #keep(index: number, entry: Entry): void {
    const previous = this.#entries.get(index)?.key;
    if (previous && previous.id !== entry.key?.id) this.#opts.forget?.(previous.id);
    if (this.#entries.size >= MAX_ENTRIES && !this.#entries.has(index)) {
      for (const [i, e] of this.#entries) if (!e.key) this.#entries.delete(i);
      if (this.#entries.size >= MAX_ENTRIES) this.clear();
    }
    this.#entries.set(index, entry);
  }

  /**
   * The keys bound to `operator`, by index ascending (every status), read fresh.
   *
   * @throws CofferError ERR_INTEGRITY, ERR_STATE_*, ERR_STORE.
   */
  async boundKeys(operator: string): Promise<ServiceKey[]> {
    const bindings = await this.#opts.store().listBindings({ operator });
    const indexes = [...new Set(bindings.map((b) => b.keyIndex))].sort((a, b) => a - b);
    const keys: ServiceKey[] = [];
    for (const index of indexes) {
      const entry = await this.#load(index);
      if (entry.key?.operators.has(operator)) keys.push(entry.key);
    }
    return keys;
  }

  /** The key-info body of a key (status as the device treats it now). */
  infoOf(key: ServiceKey): ServiceResponseOf<'key-info'> {
    const r = key.record;
    return {
      index: r.index,
      type: r.type,
      keyClass: r.keyClass,
      status: effectiveStatus(r, this.#opts.now()).status,
      usage: [...r.usage],
      description: r.description,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
      ...(r.checkValue ? { checkValue: r.checkValue } : {}),
      ...(r.publicKey ? { publicKey: r.publicKey } : {}),
    };
  }

  /**
   * Marks the entries of `indexes` (all when null) stale: the next request re-reads record and
   * bindings. The opened material is kept for that re-read and let go only if it changed.
   */
  invalidate(indexes: readonly number[] | null): void {
    this.#generation += 1;
    const stale = (index: number, entry: Entry) =>
      this.#entries.set(index, { key: entry.key, readAt: Number.NEGATIVE_INFINITY });
    if (indexes === null) {
      for (const [index, entry] of this.#entries) stale(index, entry);
      return;
    }
    for (const index of indexes) {
      const entry = this.#entries.get(index);
      if (entry) stale(index, entry);
    }
  }

  /** Drops every key (the service stops). */
  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }
}

function makeServiceKey(
  id: string,
  record: Omit<KeyRecord, 'sealed' | 'mac'>,
  operators: Set<string>,
  operation: OperationKey,
): ServiceKey {
  return {
    id,
    index: record.index,
    type: record.type,
    family: operation.family,
    info: keyTypeInfo(record.type),
    record,
    expiresAtMs: Date.parse(record.expiresAt),
    operators,
    operation,
    exportMaterial() {
      const exported =
        operation.kind === 'secret'
          ? operation.secret.export()
          : operation.privateKey.export({ format: 'der', type: 'pkcs8' });
      const bytes = new Uint8Array(exported);
      exported.fill(0);
      return { kind: operation.kind === 'secret' ? 'secret' : 'pkcs8', bytes };
    },
  };
}
