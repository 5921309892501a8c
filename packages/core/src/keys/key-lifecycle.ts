import { availableParallelism } from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CofferError, isCofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import { requireOperator } from '../operators/operator-directory.js';
import type {
  KeyBindingRecord,
  KeyClass,
  KeyQuery,
  KeyRecord,
  KeyStatus,
  KeyUsage,
  Store,
  StoreTx,
} from '../store/port.js';
import { generateKeyMaterial, type KeyMaterial } from './key-material.js';
import {
  bindingIntact,
  checkDeletable,
  checkDescription,
  checkKeyFields,
  checkKeyIndex,
  effectiveStatus,
  expiryOf,
  type KeyStatusChange,
  macBinding,
  macKeyRecord,
  nextKeyStatus,
  sealKeyRecord,
  verifyKeyRecord,
} from './key-record.js';
import { keyTypeInfo, resolveUsage } from './key-types.js';

/**
 * The Safe Manager's key functions (manual §4.4.2) over the storage port: query, add, status
 * changes, delete, bind/unbind, and the expiry sweep. The management routes parse and hand in an
 * audit writer; these decide and write, each change in one transaction with its audit entry.
 */

/** What the key functions work with: the store, the booted keyring, the device clock. */
export interface KeyDeps {
  store: Store;
  keyring: Keyring;
  now(): Date;
}

/** One audit entry of a key change (manual §4.4.3 log: business type, content, details). */
export interface KeyAuditEntry {
  businessType: 'add' | 'update' | 'delete' | 'download';
  content: string;
  details?: string;
}

/**
 * Who makes a change and how it is recorded: `audit` writes the entry inside the transaction `tx`
 * that makes the change, so that if it cannot be written, nothing is.
 */
export interface KeyActor {
  account: string;
  audit(tx: StoreTx, entry: KeyAuditEntry): Promise<void>;
}

/** A key as the Safe Manager sees it: everything but the sealed material and the MAC. */
export interface KeyView {
  index: number;
  type: string;
  keyClass: KeyClass;
  creator: string;
  /** The status as the device treats it now: a key past its expiry is invalid even before the sweep. */
  status: KeyStatus;
  invalidReason: 'expired' | 'manual' | null;
  validityDays: number;
  description: string;
  createdAt: string;
  expiresAt: string;
  usage: KeyUsage[];
  checkValue: string | null;
  publicKey: string | null;
}

export interface KeyBindingView {
  operator: string;
  boundAt: string;
  boundBy: string;
}

/** The key detail window (manual §4.4.2 "Check key detail information"). */
export interface KeyDetail extends KeyView {
  operators: KeyBindingView[];
}

export interface AddKeyRequest {
  type: string;
  /** Chosen index; the next free one when absent. */
  index?: number;
  validityDays?: number;
  description?: string;
  usage?: readonly unknown[];
}

export interface KeyListQuery {
  from?: string;
  to?: string;
  keyClass?: KeyClass;
  status?: KeyStatus;
  indexes?: number[];
  /** 1-based. */
  page?: number;
  size?: number;
}

/** Validity of a new key when the Safe Manager gives none (the manual's examples show 3650). */
export const DEFAULT_VALIDITY_DAYS = 3650;

export function keyView(record: KeyRecord, now: Date): KeyView {
  const s = effectiveStatus(record, now);
  return {
    index: record.index,
    type: record.type,
    keyClass: record.keyClass,
    creator: record.creator,
    status: s.status,
    invalidReason: s.invalidReason,
    validityDays: record.validityDays,
    description: record.description,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    usage: [...record.usage],
    checkValue: record.checkValue,
    publicKey: record.publicKey,
  };
}

/** Content of the manual's audit entries, e.g. "Set key status;Key index number:21". */
export function keyAuditContent(what: string, index?: number): string {
  return index === undefined ? `${what};` : `${what};Key index number:${index}`;
}

/**
 * Reads one key and checks its MAC.
 *
 * @throws CofferError ERR_KEY_INDEX for a malformed index, ERR_NOT_FOUND when there is no such
 *   key, ERR_INTEGRITY when its record was changed outside the device.
 */
export async function requireKey(tx: StoreTx, keyring: Keyring, index: unknown): Promise<KeyRecord> {
  const checked = checkKeyIndex(index);
  const record = await tx.getKey(checked);
  if (!record)
    throw new CofferError('ERR_NOT_FOUND', `There is no key with index ${checked}.`, { index: checked });
  return verifyKeyRecord(keyring, record);
}

/**
 * The query of manual §4.4.2 ("Key query"): by creation time range, class and status, newest
 * first, one page at a time, with the total. The expiry sweep runs first (as the device account),
 * so that a status filter never lists a key that has just expired under its old status.
 *
 * @throws CofferError ERR_TIME_FORMAT for an unreadable time bound; ERR_INTEGRITY for a tampered record.
 */
export async function listKeys(
  deps: KeyDeps,
  query: KeyListQuery,
  sweepAudit: KeyActor['audit'],
): Promise<{ total: number; keys: KeyView[] }> {
  await sweepExpiredKeys(deps, sweepAudit);
  const page = query.page ?? 1;
  const size = query.size ?? 10;
  const filter: Omit<KeyQuery, 'limit' | 'offset' | 'order'> = {
    ...(query.from !== undefined ? { from: isoTime(query.from, 'from') } : {}),
    ...(query.to !== undefined ? { to: isoTime(query.to, 'to') } : {}),
    ...(query.keyClass ? { keyClass: query.keyClass } : {}),
    ...(query.status ? { status: query.status } : {}),
    ...(query.indexes ? { indexes: query.indexes } : {}),
  };
  const now = deps.now();
  return deps.store.transaction(async (tx) => {
    const total = await tx.countKeys(filter);
    const records = await tx.listKeys({ ...filter, limit: size, offset: (page - 1) * size, order: 'desc' });
    return { total, keys: records.map((r) => keyView(verifyKeyRecord(deps.keyring, r), now)) };
  });
}

/** Every key matching a filter, in pages (for backups of "the current query"). */
export async function collectKeyIndexes(
  deps: KeyDeps,
  query: Omit<KeyListQuery, 'page' | 'size' | 'indexes'>,
): Promise<number[]> {
  const filter = {
    ...(query.from !== undefined ? { from: isoTime(query.from, 'from') } : {}),
    ...(query.to !== undefined ? { to: isoTime(query.to, 'to') } : {}),
    ...(query.keyClass ? { keyClass: query.keyClass } : {}),
    ...(query.status ? { status: query.status } : {}),
  };
  const indexes: number[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await deps.store.listKeys({ ...filter, limit: 1000, offset, order: 'asc' });
    indexes.push(...page.map((r) => r.index));
    if (page.length < 1000) return indexes;
  }
}

/**
 * The key detail: the key and the operators bound to it.
 *
 * @throws CofferError ERR_KEY_INDEX, ERR_NOT_FOUND, ERR_INTEGRITY (the key or one of its bindings).
 */
export async function getKeyDetail(deps: KeyDeps, index: unknown): Promise<KeyDetail> {
  return deps.store.transaction(async (tx) => {
    const record = await requireKey(tx, deps.keyring, index);
    const bindings = await tx.listBindings({ keyIndex: record.index });
    return {
      ...keyView(record, deps.now()),
      operators: bindings.map((b) => bindingView(deps.keyring, b, record)),
    };
  });
}

function bindingView(keyring: Keyring, b: KeyBindingRecord, key: KeyRecord): KeyBindingView {
  if (!bindingIntact(keyring, b, key)) {
    throw new CofferError(
      'ERR_INTEGRITY',
      `The binding of key ${key.index} to operator ${b.operator} failed its integrity check; it was changed outside the device.`,
      { index: key.index },
    );
  }
  return { operator: b.operator, boundAt: b.boundAt, boundBy: b.boundBy };
}

/**
 * Checks the fields of an add request that do not need the store, before any key is generated.
 *
 * @throws CofferError ERR_KEY_TYPE, ERR_KEY_USAGE, ERR_KEY_INDEX, ERR_BAD_REQUEST.
 */
export function checkAddRequest(request: AddKeyRequest): {
  validityDays: number;
  description: string;
  usage: KeyUsage[];
} {
  keyTypeInfo(request.type);
  if (request.index !== undefined) checkKeyIndex(request.index);
  const validityDays = request.validityDays ?? DEFAULT_VALIDITY_DAYS;
  const description = checkDescription(request.description ?? '');
  checkKeyFields({ index: request.index ?? 1, validityDays, description });
  return { validityDays, description, usage: resolveUsage(request.type, request.usage) };
}

/**
 * Stores key material as a new key, at `index` or the next free index, with its audit entry
 * (`content(index)`), in one transaction. Wipes `material.material`.
 *
 * @throws CofferError ERR_CONFLICT when the chosen index is in use.
 */
export async function insertKey(
  deps: KeyDeps,
  actor: KeyActor,
  material: KeyMaterial,
  fields: {
    index?: number;
    validityDays: number;
    description: string;
    usage: KeyUsage[];
    createdAt?: string;
  },
  content: (index: number) => KeyAuditEntry,
  tx?: StoreTx,
): Promise<KeyRecord> {
  const write = async (t: StoreTx) => {
    const index = fields.index ?? (await t.nextKeyIndex());
    if (fields.index !== undefined && (await t.getKey(fields.index))) {
      throw new CofferError(
        'ERR_CONFLICT',
        `Key index ${fields.index} is in use; choose another or leave it to the device.`,
        {
          field: 'index',
          index: fields.index,
        },
      );
    }
    const createdAt = fields.createdAt ?? deps.now().toISOString();
    const record = sealKeyRecord(
      deps.keyring,
      {
        index,
        creator: actor.account,
        status: 'normal',
        invalidReason: null,
        validityDays: fields.validityDays,
        description: fields.description,
        createdAt,
        expiresAt: expiryOf(createdAt, fields.validityDays),
        usage: fields.usage,
        version: 1,
      },
      material,
    );
    await t.insertKey(record);
    await actor.audit(t, content(index));
    return record;
  };
  try {
    return tx ? await write(tx) : await deps.store.transaction(write);
  } finally {
    material.material.fill(0);
  }
}

/**
 * Add key (manual §4.4.2): generates a key of `type` inside the device (pairwise consistency test
 * for key pairs) and stores it at the chosen or next free index. Audit: "Add key;Key index number:N".
 *
 * @throws CofferError ERR_KEY_TYPE, ERR_KEY_USAGE, ERR_KEY_INDEX, ERR_BAD_REQUEST (validity,
 *   description), ERR_CONFLICT (index in use), ERR_KEY_MATERIAL (consistency test).
 */
export async function addKey(deps: KeyDeps, actor: KeyActor, request: AddKeyRequest): Promise<KeyView> {
  const fields = checkAddRequest(request);
  if (request.index !== undefined) {
    // Refuse an index in use before spending seconds on an RSA-4096 key; checked again when written.
    if (await deps.store.getKey(request.index)) {
      throw new CofferError(
        'ERR_CONFLICT',
        `Key index ${request.index} is in use; choose another or leave it to the device.`,
        {
          field: 'index',
          index: request.index,
        },
      );
    }
  }
  const material = await generateKeyMaterial(request.type);
  const record = await insertKey(
    deps,
    actor,
    material,
    { ...fields, ...(request.index !== undefined ? { index: request.index } : {}) },
    (index) => ({
      businessType: 'add',
      content: keyAuditContent('Add key', index),
      details: `type=${request.type}`,
    }),
  );
  return keyView(record, deps.now());
}

/** Progress of a long operation: `done` of `total` items. */
export type Progress = (done: number, total: number) => void;

/**
 * Adds `count` keys of one type at the next free indexes (batch add, a long operation): keys are
 * generated on as many threads as the machine has cores and each is stored as soon as it is made,
 * in its own transaction with its audit entry, so other requests run in between. If one fails, the
 * keys stored before it stay and the error says how many.
 *
 * @throws CofferError as {@link addKey}; ERR_BAD_REQUEST for a count outside 1–10,000 or with an index.
 */
export async function addKeys(
  deps: KeyDeps,
  actor: KeyActor,
  request: AddKeyRequest & { count: number },
  progress: Progress = () => undefined,
): Promise<{ indexes: number[] }> {
  if (!Number.isSafeInteger(request.count) || request.count < 1 || request.count > 10_000) {
    throw new CofferError('ERR_BAD_REQUEST', 'A batch adds 1 to 10,000 keys.', { field: 'count' });
  }
  if (request.index !== undefined && request.count > 1) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      'A batch takes the next free indexes; choose an index only for one key.',
      {
        field: 'index',
      },
    );
  }
  if (request.count === 1) {
    const view = await addKey(deps, actor, request);
    progress(1, 1);
    return { indexes: [view.index] };
  }
  const fields = checkAddRequest(request);
  const indexes: number[] = [];
  const parallel = Math.max(1, Math.min(availableParallelism(), 4));
  let started = 0;
  let failure: unknown = null;
  progress(0, request.count);
  const worker = async () => {
    while (failure === null && started < request.count) {
      started++;
      try {
        const material = await generateKeyMaterial(request.type);
        if (failure !== null) {
          material.material.fill(0);
          return;
        }
        const record = await insertKey(deps, actor, material, fields, (index) => ({
          businessType: 'add',
          content: keyAuditContent('Add key', index),
          details: `type=${request.type}; batch of ${request.count}`,
        }));
        indexes.push(record.index);
        progress(indexes.length, request.count);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  if (failure !== null) {
    const e = failure as Error;
    throw new CofferError(
      isCofferError(e) ? e.code : 'ERR_INTERNAL',
      `${isCofferError(e) ? e.message : 'A key could not be generated.'} ${indexes.length} of ${request.count} keys were added before this.`,
      { added: indexes.length, indexes: indexes.map(String) },
      { cause: failure },
    );
  }
  return { indexes: indexes.sort((a, b) => a - b) };
}

const CHANGE_WORDS: Record<KeyStatusChange, string> = {
  discard: 'discard',
  restore: 'restore',
  invalidate: 'invalidate',
  expire: 'expired',
};

/**
 * Discard / restore / invalidate (manual §4.4.2), as `nextKeyStatus` allows. Audit: "Set key
 * status;Key index number:N" with the transition in the details.
 *
 * @throws CofferError ERR_KEY_INDEX, ERR_NOT_FOUND, ERR_INTEGRITY, ERR_KEY_STATUS.
 */
export async function changeKeyStatus(
  deps: KeyDeps,
  actor: KeyActor,
  index: unknown,
  change: Exclude<KeyStatusChange, 'expire'>,
): Promise<KeyView> {
  return deps.store.transaction(async (tx) => {
    const record = await requireKey(tx, deps.keyring, index);
    const now = deps.now();
    const next = nextKeyStatus(record, change, now);
    const updated = macKeyRecord(deps.keyring, { ...record, ...next });
    await tx.updateKey(updated);
    await actor.audit(tx, {
      businessType: 'update',
      content: keyAuditContent('Set key status', record.index),
      details: `${CHANGE_WORDS[change]}: ${record.status} → ${next.status}`,
    });
    return keyView(updated, now);
  });
}

/**
 * Delete key (manual §4.4.2): only an invalid key (a key past its expiry counts); its bindings go
 * with it. Audit: "Delete key;Key index number:N".
 *
 * @throws CofferError ERR_KEY_INDEX, ERR_NOT_FOUND, ERR_KEY_STATUS. A key whose record fails its
 *   MAC can still be deleted once its stored status is invalid: deleting is how it is cleared away.
 */
export async function deleteKey(
  deps: KeyDeps,
  actor: KeyActor,
  index: unknown,
): Promise<{ bindingsRemoved: number }> {
  return deps.store.transaction(async (tx) => {
    const checked = checkKeyIndex(index);
    const record = await tx.getKey(checked);
    if (!record)
      throw new CofferError('ERR_NOT_FOUND', `There is no key with index ${checked}.`, { index: checked });
    checkDeletable(record, deps.now());
    const bindingsRemoved = await tx.deleteBindingsForKey(checked);
    await tx.deleteKey(checked);
    await actor.audit(tx, {
      businessType: 'delete',
      content: keyAuditContent('Delete key', checked),
      details: `type=${record.type}; bindings removed: ${bindingsRemoved}`,
    });
    return { bindingsRemoved };
  });
}

function operatorList(operators: readonly unknown[]): string[] {
  if (!Array.isArray(operators) || operators.length === 0) {
    throw new CofferError('ERR_BAD_REQUEST', 'Select one or more operators.', { field: 'operators' });
  }
  const names = [...new Set(operators.map(String))];
  if (names.length > 1000)
    throw new CofferError('ERR_BAD_REQUEST', 'Select at most 1000 operators at once.', {
      field: 'operators',
    });
  return names;
}

/**
 * Bind key with operator (manual §4.4.2): only bound operators may use the key. Every operator must
 * exist and not be bound yet; an invalid key is not bound. Audit: "Bind key with operator;Key index
 * number:N" with the operators in the details.
 *
 * @throws CofferError ERR_KEY_INDEX, ERR_NOT_FOUND (key or operator), ERR_OPERATOR_NAME,
 *   ERR_CONFLICT (already bound), ERR_KEY_STATUS (invalid key), ERR_INTEGRITY.
 */
export async function bindKey(
  deps: KeyDeps,
  actor: KeyActor,
  index: unknown,
  operators: readonly unknown[],
): Promise<KeyDetail> {
  const names = operatorList(operators);
  return deps.store.transaction(async (tx) => {
    const record = await requireKey(tx, deps.keyring, index);
    const now = deps.now();
    if (effectiveStatus(record, now).status === 'invalid') {
      throw new CofferError(
        'ERR_KEY_STATUS',
        `Key ${record.index} is invalid; an invalid key is not bound to operators.`,
        {
          index: record.index,
          status: 'invalid',
        },
      );
    }
    const bound = new Set((await tx.listBindings({ keyIndex: record.index })).map((b) => b.operator));
    for (const name of names) {
      const operator = await requireOperator(tx, deps.keyring, name);
      if (bound.has(operator.name)) {
        throw new CofferError(
          'ERR_CONFLICT',
          `Operator ${operator.name} is already bound to key ${record.index}.`,
          {
            field: 'operators',
            operator: operator.name,
          },
        );
      }
      await tx.addBinding(
        macBinding(
          deps.keyring,
          {
            keyIndex: record.index,
            operator: operator.name,
            boundAt: now.toISOString(),
            boundBy: actor.account,
          },
          record,
        ),
      );
    }
    await actor.audit(tx, {
      businessType: 'update',
      content: keyAuditContent('Bind key with operator', record.index),
      details: `operators: ${names.join(', ')}`,
    });
    const bindings = await tx.listBindings({ keyIndex: record.index });
    return { ...keyView(record, now), operators: bindings.map((b) => bindingView(deps.keyring, b, record)) };
  });
}

/**
 * Unbind (manual §4.4.2): the operators stop being able to use the key at once. Audit: "Unbind key
 * with operator;Key index number:N".
 *
 * @throws CofferError ERR_KEY_INDEX, ERR_NOT_FOUND (key, or an operator not bound to it), ERR_INTEGRITY.
 */
export async function unbindKey(
  deps: KeyDeps,
  actor: KeyActor,
  index: unknown,
  operators: readonly unknown[],
): Promise<KeyDetail> {
  const names = operatorList(operators);
  return deps.store.transaction(async (tx) => {
    const record = await requireKey(tx, deps.keyring, index);
    const bound = new Set((await tx.listBindings({ keyIndex: record.index })).map((b) => b.operator));
    const missing = names.filter((n) => !bound.has(n));
    if (missing.length > 0) {
      throw new CofferError('ERR_NOT_FOUND', `Not bound to key ${record.index}: ${missing.join(', ')}.`, {
        field: 'operators',
        operators: missing,
      });
    }
    for (const name of names) await tx.deleteBinding(record.index, name);
    await actor.audit(tx, {
      businessType: 'update',
      content: keyAuditContent('Unbind key with operator', record.index),
      details: `operators: ${names.join(', ')}`,
    });
    const bindings = await tx.listBindings({ keyIndex: record.index });
    return {
      ...keyView(record, deps.now()),
      operators: bindings.map((b) => bindingView(deps.keyring, b, record)),
    };
  });
}

/**
 * The expiry sweep (manual §4.4.2: "Any key that has expired is automatically updated to be
 * invalid. Any key data that is automatically invalidated cannot be recovered"): every normal or
 * discarded key at or past its expiry becomes invalid (reason `expired`), each in its own
 * transaction with its audit entry. A record that fails its MAC is skipped and reported, never
 * obeyed. Returns the indexes made invalid and those skipped.
 */
export async function sweepExpiredKeys(
  deps: KeyDeps,
  audit: KeyActor['audit'],
): Promise<{ expired: number[]; skipped: { index: number; code: string }[] }> {
  const now = deps.now();
  const expired: number[] = [];
  const skipped: { index: number; code: string }[] = [];
  const due = await deps.store.listExpiredKeys(now.toISOString());
  for (const candidate of due) {
    try {
      const changed = await deps.store.transaction(async (tx) => {
        const record = await tx.getKey(candidate.index);
        if (!record || record.status === 'invalid' || Date.parse(record.expiresAt) > now.getTime())
          return false;
        verifyKeyRecord(deps.keyring, record);
        const next = nextKeyStatus(record, 'expire', now);
        await tx.updateKey(macKeyRecord(deps.keyring, { ...record, ...next }));
        await audit(tx, {
          businessType: 'update',
          content: keyAuditContent('Set key status', record.index),
          details: `expired at ${record.expiresAt}: ${record.status} → invalid`,
        });
        return true;
      });
      if (changed) expired.push(candidate.index);
    } catch (error) {
      skipped.push({ index: candidate.index, code: isCofferError(error) ? error.code : 'ERR_INTERNAL' });
    }
    if ((expired.length + skipped.length) % 50 === 0) await yieldToLoop();
  }
  return { expired, skipped };
}

/** An ISO time bound; a date alone is that day from 00:00 UTC (`from`) or to its last millisecond (`to`). */
export function isoTime(value: string, field: string): string {
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new CofferError(
      'ERR_TIME_FORMAT',
      `'${field}' is not a time (use ISO 8601, e.g. 2026-03-01T00:00:00Z).`,
      {
        field,
      },
    );
  }
  // A date alone as the upper bound means the whole of that day.
  const endOfDay = field === 'to' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? 86_400_000 - 1 : 0;
  return new Date(ms + endOfDay).toISOString();
}
