import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CofferError, type ErrorCode, isCofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import { operatorIntact } from '../operators/operator-records.js';
import type { KeyRecord, KeyUsage, StoreTx } from '../store/port.js';
import {
  type KeyBackupEntry,
  type KeyBackupFile,
  type KeyBackupHeader,
  makeKeyBackup,
} from './key-backup.js';
import {
  type ImportEntry,
  type ImportOptions,
  type ImportSource,
  type ParsedImport,
  resolveImportEntry,
} from './key-import.js';
import {
  collectKeyIndexes,
  DEFAULT_VALIDITY_DAYS,
  insertKey,
  type KeyActor,
  type KeyDeps,
  type KeyListQuery,
  keyAuditContent,
  type Progress,
  requireKey,
} from './key-lifecycle.js';
import { describePrivateKey, describeSecret, type KeyMaterial } from './key-material.js';
import {
  checkKeyFields,
  checkKeyIndex,
  effectiveStatus,
  macBinding,
  openKeyMaterial,
  sealKeyRecord,
  verifyKeyRecord,
} from './key-record.js';
import { keyTypeInfo, resolveUsage } from './key-types.js';
import { type KeyWrapAlgorithm, unwrapKey } from './key-wrap.js';

/**
 * Key backup, restore and import (manual §4.4.2 "Key back up", "Import key"; DESIGN §7).
 *
 * Import and restore are all-or-nothing per file as far as the file is concerned: every entry is
 * read and checked (type, length, pairwise consistency, usage, validity, index) before anything is
 * written, and a file with any refused entry changes nothing; the report lists every entry with its
 * outcome, so all problems show at once. The keys are then written in transactions of 100, each
 * with its audit entry, so that a file of thousands of keys never holds the store for long. Should
 * writing itself fail part-way (a store error, or a chosen index taken meanwhile by another
 * manager), the keys already written stay and the report says which (`committed: false`).
 *
 * Index clashes on restore: a key keeps the index it had in the backup when that index is free. If
 * the index holds the same key (same type and check value or public key), the entry is skipped (a
 * restore can be repeated). If it holds another key, the entry is refused — unless `renumber` is
 * asked for, in which case it gets the next free index and the report says so (applications that
 * use the old index must be told).
 */

export type EntryOutcomeKind = 'imported' | 'restored' | 'renumbered' | 'skipped' | 'refused' | 'ready';

/** What happened to one entry of an import or backup file. */
export interface EntryOutcome {
  position: number;
  where: string;
  /** The index written (or planned); null when refused before one was known. */
  index: number | null;
  /** Restore: the index the key had in the backup. */
  sourceIndex?: number;
  type: string | null;
  outcome: EntryOutcomeKind;
  code?: ErrorCode;
  message: string;
}

export interface TransferReport {
  /** True when every key was written; false when an entry was refused (and so nothing was written) or writing stopped part-way (see `written`). */
  committed: boolean;
  total: number;
  written: number;
  skipped: number;
  refused: number;
  entries: EntryOutcome[];
}

/** The Safe Manager's defaults for imported keys whose entries do not say otherwise. */
export interface ImportDefaults extends ImportOptions {
  /** For a file with one key: its index. */
  index?: number;
  validityDays?: number;
  description?: string;
  usage?: readonly unknown[];
}

interface Planned {
  outcome: EntryOutcome;
  material: KeyMaterial;
  index?: number;
  validityDays: number;
  description: string;
  usage: KeyUsage[];
}

function refused(base: Omit<EntryOutcome, 'outcome' | 'message' | 'code'>, error: unknown): EntryOutcome {
  return {
    ...base,
    outcome: 'refused',
    code: isCofferError(error) ? error.code : 'ERR_INTERNAL',
    message: isCofferError(error) ? error.message : 'This entry could not be read.',
  };
}

function report(entries: EntryOutcome[], committed: boolean): TransferReport {
  const count = (k: EntryOutcomeKind[]) => entries.filter((e) => k.includes(e.outcome)).length;
  return {
    committed,
    total: entries.length,
    written: count(['imported', 'restored', 'renumbered']),
    skipped: count(['skipped']),
    refused: count(['refused']),
    entries: entries.sort((a, b) => a.position - b.position),
  };
}

/**
 * The unwrapper for wrapped imports: the KEK is a stored AES key, normal and not expired, with
 * usage `unwrap`. Its material is opened once per import and wiped by `close`.
 */
function kekUnwrapper(deps: KeyDeps) {
  const opened = new Map<number, Buffer>();
  return {
    async unwrap(kek: number, wrapped: Buffer, alg?: KeyWrapAlgorithm): Promise<Buffer> {
      let material = opened.get(kek);
      if (!material) {
        const record = await deps.store.transaction((tx) => requireKey(tx, deps.keyring, kek));
        const info = keyTypeInfo(record.type);
        if (info.family !== 'aes') {
          throw new CofferError(
            'ERR_KEY_TYPE',
            `Key ${kek} is ${record.type}; a key-encryption key for AES key wrap is an AES key.`,
            {
              field: 'kek',
            },
          );
        }
        const status = effectiveStatus(record, deps.now()).status;
        if (status !== 'normal') {
          throw new CofferError(
            'ERR_KEY_STATUS',
            `Key-encryption key ${kek} is ${status === 'discard' ? 'discarded' : status}; it cannot unwrap.`,
            {
              field: 'kek',
              status,
            },
          );
        }
        if (!record.usage.includes('unwrap')) {
          throw new CofferError(
            'ERR_KEY_USAGE',
            `Key ${kek} may not be used to unwrap (its usage is ${record.usage.join(', ')}).`,
            {
              field: 'kek',
            },
          );
        }
        material = openKeyMaterial(deps.keyring, record);
        opened.set(kek, material);
      }
      return unwrapKey(material, wrapped, alg).plaintext;
    },
    close() {
      for (const m of opened.values()) m.fill(0);
      opened.clear();
    },
  };
}

function wipeSource(source: ImportSource) {
  if (source.kind === 'secret') source.bytes.fill(0);
  else if (source.kind === 'pkcs8') source.der.fill(0);
}

/**
 * Import key (manual §4.4.2; DESIGN §7): takes a key file read by `parseImportFile` (which refuses
 * a file that cannot be read as a whole), checks every key, and writes them all or none. Entry
 * problems are reported, not thrown. Audit: "Import key;Key index number:N" per key.
 */
export async function importKeys(
  deps: KeyDeps,
  actor: KeyActor,
  parsed: ParsedImport,
  defaults: ImportDefaults,
  progress: Progress = () => undefined,
): Promise<TransferReport> {
  const total = parsed.entries.length + parsed.errors.length;
  const outcomes: EntryOutcome[] = parsed.errors.map((e) => ({
    position: e.position,
    where: e.where,
    index: null,
    type: null,
    outcome: 'refused',
    code: e.code,
    message: e.message,
  }));
  const planned: Planned[] = [];
  const unwrapper = kekUnwrapper(deps);
  const single = total === 1;
  const takenInFile = new Map<number, string>();
  let done = parsed.errors.length;
  progress(done, total);
  try {
    for (const entry of parsed.entries) {
      const base = { position: entry.position, where: entry.where, index: null, type: entry.type ?? null };
      try {
        const plan = await planImport(entry, defaults, single, unwrapper.unwrap);
        const index = plan.index;
        if (index !== undefined) {
          const other = takenInFile.get(index);
          if (other)
            throw new CofferError(
              'ERR_CONFLICT',
              `Index ${index} is also asked for by ${other} of this file.`,
              { index },
            );
          takenInFile.set(index, entry.where);
          if (await deps.store.getKey(index)) {
            throw new CofferError('ERR_CONFLICT', `Key index ${index} is in use.`, { field: 'index', index });
          }
        }
        plan.outcome = {
          ...base,
          index: index ?? null,
          type: plan.material.type,
          outcome: 'ready',
          message: '',
        };
        planned.push(plan);
      } catch (error) {
        outcomes.push(refused(base, error));
      } finally {
        wipeSource(entry.source);
      }
      progress(++done, total);
      await yieldToLoop();
    }
  } finally {
    unwrapper.close();
  }
  return commitPlanned(deps, actor, planned, outcomes);
}

async function planImport(
  entry: ImportEntry,
  defaults: ImportDefaults,
  single: boolean,
  unwrap: (kek: number, wrapped: Buffer, alg?: KeyWrapAlgorithm) => Promise<Buffer>,
): Promise<Planned> {
  const index = entry.index ?? (single ? defaults.index : undefined);
  if (index !== undefined) checkKeyIndex(index);
  const validityDays = entry.validityDays ?? defaults.validityDays ?? DEFAULT_VALIDITY_DAYS;
  const description = entry.description ?? defaults.description ?? '';
  checkKeyFields({ index: index ?? 1, validityDays, description });
  const material = await resolveImportEntry(entry, unwrap);
  try {
    const usage = resolveUsage(material.type, entry.usage ?? defaults.usage);
    return {
      outcome: {} as EntryOutcome,
      material,
      ...(index !== undefined ? { index } : {}),
      validityDays,
      description,
      usage,
    };
  } catch (error) {
    material.material.fill(0);
    throw error;
  }
}

/** Writes every planned entry in one transaction, or nothing when any entry was refused. */
async function commitPlanned(
  deps: KeyDeps,
  actor: KeyActor,
  planned: Planned[],
  outcomes: EntryOutcome[],
): Promise<TransferReport> {
  try {
    if (outcomes.some((o) => o.outcome === 'refused')) {
      for (const p of planned)
        outcomes.push({ ...p.outcome, message: 'Not imported: other entries of the file were refused.' });
      return report(outcomes, false);
    }
    const complete = await writeInChunks(
      deps,
      planned,
      async (tx, p) => {
        const record = await insertKey(
          deps,
          actor,
          p.material,
          {
            ...(p.index !== undefined ? { index: p.index } : {}),
            validityDays: p.validityDays,
            description: p.description,
            usage: p.usage,
          },
          (index) => ({
            businessType: 'add',
            content: keyAuditContent('Import key', index),
            details: `type=${p.material.type}; ${p.outcome.where}`,
          }),
          tx,
        );
        return {
          ...p.outcome,
          index: record.index,
          outcome: 'imported',
          message: `Imported as key ${record.index}.`,
        };
      },
      'Not imported: writing stopped at an earlier entry.',
    );
    for (const p of planned) outcomes.push(p.outcome);
    return report(outcomes, complete);
  } finally {
    for (const p of planned) p.material.material.fill(0);
  }
}

/** Keys written per transaction: short transactions keep the store free for other requests. */
const WRITE_CHUNK = 100;

/**
 * Writes planned entries in transactions of {@link WRITE_CHUNK}, each entry with its audit entry,
 * yielding to the event loop between transactions. Sets each entry's outcome once its transaction
 * has committed. If a write fails (a store error, or a chosen index taken by another manager since
 * the file was checked), that entry is refused with the error, the entries after it are not written
 * (`notWritten`), those already committed stay, and it returns false.
 */
async function writeInChunks<P extends { outcome: EntryOutcome }>(
  deps: KeyDeps,
  items: P[],
  write: (tx: StoreTx, item: P) => Promise<EntryOutcome>,
  notWritten: string,
): Promise<boolean> {
  for (let start = 0; start < items.length; start += WRITE_CHUNK) {
    const chunk = items.slice(start, start + WRITE_CHUNK);
    let current: P | null = null;
    try {
      const done = await deps.store.transaction(async (tx) => {
        const out: EntryOutcome[] = [];
        for (const item of chunk) {
          current = item;
          out.push(await write(tx, item));
        }
        return out;
      });
      chunk.forEach((item, i) => {
        item.outcome = done[i]!;
      });
    } catch (error) {
      const failed = current as P | null;
      for (const item of items.slice(start)) {
        const base = item.outcome;
        item.outcome =
          item === failed
            ? refused(
                { position: base.position, where: base.where, index: base.index, type: base.type },
                error,
              )
            : { ...base, outcome: 'ready', message: notWritten };
      }
      return false;
    }
    await yieldToLoop();
  }
  return true;
}

/** Which keys a backup takes: the selected indexes, or every key of the current query. */
export type BackupSelection =
  | { indexes: number[] }
  | { query: Omit<KeyListQuery, 'page' | 'size' | 'indexes'> };

/**
 * The indexes a backup takes: the selected ones (each must exist), or every key of the query.
 *
 * @throws CofferError ERR_BAD_REQUEST (empty selection), ERR_KEY_INDEX, ERR_NOT_FOUND (a selected
 *   key does not exist, or nothing matches), ERR_TIME_FORMAT.
 */
export async function resolveBackupSelection(deps: KeyDeps, selection: BackupSelection): Promise<number[]> {
  let indexes: number[];
  if ('indexes' in selection) {
    if (!Array.isArray(selection.indexes) || selection.indexes.length === 0) {
      throw new CofferError('ERR_BAD_REQUEST', 'Select one or more keys to back up.', { field: 'indexes' });
    }
    indexes = [...new Set(selection.indexes.map((i) => checkKeyIndex(i)))].sort((a, b) => a - b);
    const found = new Set(
      (await deps.store.listKeys({ indexes, limit: indexes.length })).map((r) => r.index),
    );
    const missing = indexes.filter((i) => !found.has(i));
    if (missing.length > 0) {
      throw new CofferError('ERR_NOT_FOUND', `There is no key with index ${describeIndexes(missing)}.`, {
        field: 'indexes',
      });
    }
  } else {
    indexes = await collectKeyIndexes(deps, selection.query);
  }
  if (indexes.length === 0)
    throw new CofferError('ERR_NOT_FOUND', 'No key matches; there is nothing to back up.');
  return indexes;
}

/**
 * Key back up (manual §4.4.2): the selected keys, or all keys of the current query, into one file
 * encrypted under the key domain's backup subkey (see `key-backup.ts`). Each key carries its status
 * as the device sees it now (an expired key is invalid in the backup) and its bound operators.
 * Audit: "Back up keys;" (business type download) with the count and indexes in the details.
 *
 * @throws CofferError ERR_NOT_FOUND (a key was deleted meanwhile), ERR_INTEGRITY (a tampered
 *   record is never backed up).
 */
export async function backupKeys(
  deps: KeyDeps & { deviceId: string },
  actor: KeyActor,
  indexes: number[],
  progress: Progress = () => undefined,
): Promise<KeyBackupFile> {
  const entries: KeyBackupEntry[] = [];
  const now = deps.now();
  progress(0, indexes.length);
  const missing: number[] = [];
  for (const index of indexes) {
    const record = await deps.store.getKey(index);
    if (!record) {
      missing.push(index);
      continue;
    }
    entries.push(await backupEntry(deps.store, deps.keyring, verifyKeyRecord(deps.keyring, record), now));
    progress(entries.length, indexes.length);
    if (entries.length % 20 === 0) await yieldToLoop();
  }
  if (missing.length > 0) {
    throw new CofferError('ERR_NOT_FOUND', `There is no key with index ${missing.join(', ')}.`, {
      field: 'indexes',
    });
  }
  const file = makeKeyBackup(
    deps.keyring,
    { deviceId: deps.deviceId, createdAt: now.toISOString(), createdBy: actor.account },
    entries,
  );
  await deps.store.transaction((tx) =>
    actor.audit(tx, {
      businessType: 'download',
      content: keyAuditContent('Back up keys'),
      details: `${entries.length} keys: ${describeIndexes(indexes)}`,
    }),
  );
  return file;
}

async function backupEntry(
  store: KeyDeps['store'],
  keyring: Keyring,
  record: KeyRecord,
  now: Date,
): Promise<KeyBackupEntry> {
  const material = openKeyMaterial(keyring, record);
  try {
    const s = effectiveStatus(record, now);
    const operators = (await store.listBindings({ keyIndex: record.index })).map((b) => b.operator);
    return {
      index: record.index,
      type: record.type,
      creator: record.creator,
      status: s.status,
      invalidReason: s.invalidReason,
      validityDays: record.validityDays,
      description: record.description,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      usage: [...record.usage],
      operators,
      material: material.toString('base64'),
    };
  } finally {
    material.fill(0);
  }
}

/** "1-5, 8, 10" — at most about 400 characters, then "… (N more)". */
export function describeIndexes(indexes: number[]): string {
  const sorted = [...indexes].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  let text = '';
  for (let k = 0; k < parts.length; k++) {
    if (text.length > 400) return `${text}, … (${parts.length - k} more ranges)`;
    text += (k ? ', ' : '') + parts[k];
  }
  return text;
}

interface PlannedRestore {
  outcome: EntryOutcome;
  entry: KeyBackupEntry;
  material: KeyMaterial;
  /** Keep `entry.index`, or take the next free one. */
  renumber: boolean;
}

/**
 * Restore a backup file (made on any device of the same key domain, opened by `openKeyBackup`,
 * which refuses a file of another domain or a damaged one): each key is checked again
 * (length, pairwise consistency, check value or public key) and re-sealed under this device's KEK
 * with all of its metadata (creator, status, creation time, expiry, usage). Operators bound on the
 * source device are bound again where an operator of that name exists here. See the top of this
 * file for index clashes. Audit: "Restore key;Key index number:N" per key.
 */
export async function restoreKeys(
  deps: KeyDeps,
  actor: KeyActor,
  backup: { header: KeyBackupHeader; entries: KeyBackupEntry[] },
  options: { renumber?: boolean },
  progress: Progress = () => undefined,
): Promise<TransferReport> {
  const { header, entries } = backup;
  const outcomes: EntryOutcome[] = [];
  const planned: PlannedRestore[] = [];
  progress(0, entries.length);
  for (const [i, entry] of entries.entries()) {
    const base = {
      position: i + 1,
      where: `key ${entry.index}`,
      index: entry.index,
      sourceIndex: entry.index,
      type: entry.type,
    };
    try {
      checkKeyFields(entry);
      const info = keyTypeInfo(entry.type);
      const raw = Buffer.from(entry.material, 'base64');
      const material =
        info.keyClass === 'symmetric' ? describeSecret(info, raw) : await describePrivateKey(info, raw);
      const existing = await deps.store.getKey(entry.index);
      if (existing) {
        const same =
          existing.type === material.type &&
          existing.checkValue === material.checkValue &&
          existing.publicKey === material.publicKey;
        material.material.fill(0);
        if (same) {
          outcomes.push({
            ...base,
            outcome: 'skipped',
            message: `Key ${entry.index} is already on this device.`,
          });
        } else if (options.renumber) {
          const again =
            info.keyClass === 'symmetric'
              ? describeSecret(info, Buffer.from(entry.material, 'base64'))
              : await describePrivateKey(info, Buffer.from(entry.material, 'base64'));
          planned.push({
            outcome: { ...base, outcome: 'ready', message: '' },
            entry,
            material: again,
            renumber: true,
          });
        } else {
          throw new CofferError(
            'ERR_CONFLICT',
            `Index ${entry.index} holds another key on this device; restore with renumbering to give this key the next free index.`,
            { index: entry.index },
          );
        }
      } else {
        planned.push({
          outcome: { ...base, outcome: 'ready', message: '' },
          entry,
          material,
          renumber: false,
        });
      }
    } catch (error) {
      outcomes.push(refused(base, error));
    }
    progress(i + 1, entries.length);
    await yieldToLoop();
  }
  try {
    if (outcomes.some((o) => o.outcome === 'refused')) {
      for (const p of planned)
        outcomes.push({ ...p.outcome, message: 'Not restored: other entries of the backup were refused.' });
      return report(outcomes, false);
    }
    const complete = await writeInChunks(
      deps,
      planned,
      (tx, p) => writeRestored(deps, actor, tx, p, header),
      'Not restored: writing stopped at an earlier entry.',
    );
    for (const p of planned) outcomes.push(p.outcome);
    return report(outcomes, complete);
  } finally {
    for (const p of planned) p.material.material.fill(0);
  }
}

async function writeRestored(
  deps: KeyDeps,
  actor: KeyActor,
  tx: StoreTx,
  p: PlannedRestore,
  header: { deviceId: string; createdAt: string },
): Promise<EntryOutcome> {
  const { entry } = p;
  let index = entry.index;
  if (p.renumber) index = await tx.nextKeyIndex();
  else if (await tx.getKey(index)) {
    throw new CofferError(
      'ERR_CONFLICT',
      `Key index ${index} was taken while the backup was being restored.`,
      { index },
    );
  }
  const record = sealKeyRecord(
    deps.keyring,
    {
      index,
      creator: entry.creator,
      status: entry.status,
      invalidReason: entry.status === 'invalid' ? (entry.invalidReason ?? 'manual') : null,
      validityDays: entry.validityDays,
      description: entry.description,
      createdAt: entry.createdAt,
      expiresAt: entry.expiresAt,
      usage: resolveUsage(entry.type, entry.usage),
      version: 1,
    },
    p.material,
  );
  await tx.insertKey(record);
  const bound: string[] = [];
  const absent: string[] = [];
  const now = deps.now().toISOString();
  for (const name of entry.operators) {
    const operator = await tx.getOperator(name);
    if (!operator || !operatorIntact(deps.keyring, operator)) {
      absent.push(name);
      continue;
    }
    await tx.addBinding(
      macBinding(
        deps.keyring,
        { keyIndex: index, operator: name, boundAt: now, boundBy: actor.account },
        record,
      ),
    );
    bound.push(name);
  }
  await actor.audit(tx, {
    businessType: 'add',
    content: keyAuditContent('Restore key', index),
    details: `type=${entry.type}; from a backup of device ${header.deviceId} made ${header.createdAt}${index !== entry.index ? `; was key ${entry.index}` : ''}${bound.length ? `; bound: ${bound.join(', ')}` : ''}`,
  });
  const notes = [
    index !== entry.index
      ? `Restored as key ${index} (index ${entry.index} holds another key).`
      : `Restored as key ${index}.`,
    bound.length ? `Bound to ${bound.join(', ')}.` : '',
    absent.length ? `Not bound to ${absent.join(', ')} (no such operator here).` : '',
  ].filter(Boolean);
  return {
    ...p.outcome,
    index,
    outcome: index !== entry.index ? 'renumbered' : 'restored',
    message: notes.join(' '),
  };
}
