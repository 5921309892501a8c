import { CofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import type {
  KeyClass,
  KeyStatus,
  KeyUsage,
  LicenceRecord,
  LicenceStatus,
  OperatorRecord,
  Store,
  StoreTx,
} from '../store/port.js';
import {
  assertIntact,
  checkOperatorDescription,
  checkOperatorName,
  licenceIntact,
  operatorIntact,
  sealLicenceRecord,
  sealOperatorRecord,
  serviceWhitelistIntact,
} from './operator-records.js';

/**
 * The System Manager's operators (manual §4.4.1.1): add, list, detail, delete. Pure domain logic
 * over the storage port; the management routes parse and audit, these decide and write.
 */

/** What the System Manager's functions work with: the store, the booted keyring and the device clock. */
export interface SystemManagerDeps {
  store: Store;
  keyring: Keyring;
  now(): Date;
}

/**
 * Records the change in the audit log inside the transaction that makes it (the management
 * context's `step` hands one in): if the entry cannot be written, nothing is.
 */
export type CommitChange = (tx: StoreTx, details?: string) => Promise<void>;

export interface OperatorView {
  name: string;
  description: string;
  creator: string;
  createdAt: string;
}

/** A licence as the System Manager sees it: no secret, nothing of the file. */
export interface LicenceView {
  serial: string;
  certFingerprint: string;
  maxConnections: number;
  issuedAt: string;
  issuedBy: string;
  status: LicenceStatus;
}

export interface BoundKeyView {
  index: number;
  type: string;
  keyClass: KeyClass;
  status: KeyStatus;
  description: string;
  expiresAt: string;
  usage: KeyUsage[];
  boundAt: string;
  boundBy: string;
}

/** An operator's detail page: basic information, whitelisted IPs, bound keys, current licence. */
export interface OperatorDetail {
  operator: OperatorView;
  whitelist: { ip: string; addedAt: string; addedBy: string }[];
  keys: BoundKeyView[];
  licence: LicenceView | null;
  /** How many licences were issued to this operator, the current one included. */
  licencesIssued: number;
}

export interface DeleteOperatorResult {
  whitelistRemoved: number;
  bindingsRemoved: number;
  licencesRevoked: number;
}

export function operatorView(r: OperatorRecord): OperatorView {
  return { name: r.name, description: r.description, creator: r.creator, createdAt: r.createdAt };
}

export function licenceView(r: LicenceRecord): LicenceView {
  return {
    serial: r.serial,
    certFingerprint: r.certFingerprint,
    maxConnections: r.maxConnections,
    issuedAt: r.issuedAt,
    issuedBy: r.issuedBy,
    status: r.status,
  };
}

/**
 * Adds an operator; `creator` is the System Manager's account.
 *
 * @throws CofferError ERR_OPERATOR_NAME for a malformed name; ERR_BAD_REQUEST for a description
 *   over 256 characters or with control characters; ERR_CONFLICT when the name exists.
 */
export async function addOperator(
  deps: SystemManagerDeps,
  input: { name: unknown; description: unknown; creator: string },
  commit: CommitChange,
): Promise<OperatorView> {
  const name = checkOperatorName(input.name);
  const description = checkOperatorDescription(input.description ?? '');
  const record = sealOperatorRecord(deps.keyring, {
    name,
    description,
    creator: input.creator,
    createdAt: deps.now().toISOString(),
  });
  await deps.store.transaction(async (tx) => {
    if (await tx.getOperator(name)) {
      throw new CofferError('ERR_CONFLICT', `An operator named ${name} already exists.`, { field: 'name' });
    }
    await tx.insertOperator(record);
    await commit(tx);
  });
  return operatorView(record);
}

/**
 * One page of operators, by name, and how many there are.
 *
 * @throws CofferError ERR_INTEGRITY when a listed record fails its MAC.
 */
export async function listOperators(
  deps: SystemManagerDeps,
  page: { limit: number; offset: number },
): Promise<{ operators: OperatorView[]; total: number }> {
  const [records, total] = await deps.store.transaction(
    async (tx) => [await tx.listOperators(page), await tx.countOperators()] as const,
  );
  for (const r of records) assertIntact(operatorIntact(deps.keyring, r), `operator ${r.name}`);
  return { operators: records.map(operatorView), total };
}

/**
 * Reads an operator that must exist, checking its MAC.
 *
 * @throws CofferError ERR_OPERATOR_NAME, ERR_NOT_FOUND, ERR_INTEGRITY.
 */
export async function requireOperator(tx: StoreTx, keyring: Keyring, name: unknown): Promise<OperatorRecord> {
  const checked = checkOperatorName(name);
  const record = await tx.getOperator(checked);
  if (!record)
    throw new CofferError('ERR_NOT_FOUND', `There is no operator named ${checked}.`, { field: 'name' });
  assertIntact(operatorIntact(keyring, record), `operator ${checked}`);
  return record;
}

/**
 * An operator's detail (manual §4.4.1.1 "check detail information"): basic information, the IPs
 * whitelisted for it, the keys bound to it, and its current licence (no secret).
 *
 * @throws CofferError ERR_OPERATOR_NAME, ERR_NOT_FOUND, ERR_INTEGRITY.
 */
export async function getOperatorDetail(deps: SystemManagerDeps, name: unknown): Promise<OperatorDetail> {
  return deps.store.transaction(async (tx) => {
    const record = await requireOperator(tx, deps.keyring, name);
    const pairs = await tx.listServiceWhitelist({ operator: record.name });
    for (const p of pairs)
      assertIntact(serviceWhitelistIntact(deps.keyring, p), `white list pair ${p.ip} ${p.operator}`);
    const licences = await tx.listLicences(record.name);
    for (const l of licences) assertIntact(licenceIntact(deps.keyring, l), `licence ${l.serial}`);
    const current = licences.filter((l) => l.status === 'current').at(-1) ?? null;
    const keys: BoundKeyView[] = [];
    for (const binding of await tx.listBindings({ operator: record.name })) {
      const key = await tx.getKey(binding.keyIndex);
      if (!key) continue;
      keys.push({
        index: key.index,
        type: key.type,
        keyClass: key.keyClass,
        status: key.status,
        description: key.description,
        expiresAt: key.expiresAt,
        usage: [...key.usage],
        boundAt: binding.boundAt,
        boundBy: binding.boundBy,
      });
    }
    return {
      operator: operatorView(record),
      whitelist: pairs.map((p) => ({ ip: p.ip, addedAt: p.addedAt, addedBy: p.addedBy })),
      keys,
      licence: current ? licenceView(current) : null,
      licencesIssued: licences.length,
    };
  });
}

/**
 * Deletes an operator (manual §4.4.1.1): removes its service whitelist pairs and key bindings,
 * revokes its licences and removes the operator, all in one transaction with the audit entry. The
 * crypto service sees the licences revoked and the pairs gone, so the operator is banned at once.
 * An operator whose record fails its MAC can still be deleted: deleting is how such a record is
 * cleared away.
 *
 * @throws CofferError ERR_OPERATOR_NAME, ERR_NOT_FOUND.
 */
export async function deleteOperator(
  deps: SystemManagerDeps,
  name: unknown,
  commit: CommitChange,
): Promise<DeleteOperatorResult> {
  const checked = checkOperatorName(name);
  return deps.store.transaction(async (tx) => {
    if (!(await tx.getOperator(checked))) {
      throw new CofferError('ERR_NOT_FOUND', `There is no operator named ${checked}.`, { field: 'name' });
    }
    const whitelistRemoved = await tx.deleteServiceWhitelistForOperator(checked);
    const bindingsRemoved = await tx.deleteBindingsForOperator(checked);
    let licencesRevoked = 0;
    for (const licence of await tx.listLicences(checked)) {
      if (licence.status === 'revoked') continue;
      await tx.putLicence(sealLicenceRecord(deps.keyring, { ...licence, status: 'revoked' }));
      licencesRevoked += 1;
    }
    await tx.deleteOperator(checked);
    const result = { whitelistRemoved, bindingsRemoved, licencesRevoked };
    await commit(
      tx,
      `whitelist pairs removed: ${whitelistRemoved}; key bindings removed: ${bindingsRemoved}; licences revoked: ${licencesRevoked}`,
    );
    return result;
  });
}
