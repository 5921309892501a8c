import { isIpv4 } from '../device/network.js';
import { CofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import type { ServiceWhitelistRecord, StoreTx } from '../store/port.js';
import type { CommitChange, SystemManagerDeps } from './operator-directory.js';
import {
  assertIntact,
  checkOperatorName,
  operatorIntact,
  sealServiceWhitelistRecord,
  serviceWhitelistIntact,
} from './operator-records.js';

/**
 * The service whitelist (manual §4.4.1.2): (IP, operator) pairs. Only a client at a listed IP may
 * use the crypto service, and only as an operator listed with that IP.
 */

/** One IP of the whitelist with its operators (the manual's "detail" of an IP). */
export interface ServiceWhitelistEntry {
  ip: string;
  operators: { name: string; addedAt: string; addedBy: string }[];
}

/** The most operators one request may add to an IP. */
export const MAX_OPERATORS_PER_ADD = 100;

/**
 * Checks a service whitelist IP as the tool whitelist does: a dotted-quad IPv4 address (an
 * IPv4-mapped IPv6 form is unwrapped).
 *
 * @throws CofferError ERR_IP_FORMAT (`details.field = 'ip'`).
 */
export function checkServiceIp(ip: unknown): string {
  const address = String(ip ?? '')
    .trim()
    .replace(/^::ffff:/i, '');
  if (typeof ip !== 'string' || !isIpv4(address)) {
    throw new CofferError('ERR_IP_FORMAT', `'${String(ip)}' is not an IPv4 address like 192.168.25.81.`, {
      field: 'ip',
    });
  }
  return address;
}

function group(records: ServiceWhitelistRecord[]): ServiceWhitelistEntry[] {
  const byIp = new Map<string, ServiceWhitelistEntry>();
  for (const r of records) {
    let entry = byIp.get(r.ip);
    if (!entry) {
      entry = { ip: r.ip, operators: [] };
      byIp.set(r.ip, entry);
    }
    entry.operators.push({ name: r.operator, addedAt: r.addedAt, addedBy: r.addedBy });
  }
  return [...byIp.values()];
}

function assertPairsIntact(keyring: Keyring, records: ServiceWhitelistRecord[]): void {
  for (const r of records) {
    assertIntact(serviceWhitelistIntact(keyring, r), `white list pair ${r.ip} ${r.operator}`);
  }
}

/**
 * Adds an IP with one or more operators ("add white list"). Every operator must exist, and none of
 * the pairs may be listed already; otherwise nothing is added.
 *
 * @throws CofferError ERR_IP_FORMAT; ERR_BAD_REQUEST (`details.field = 'operators'`) for an empty or
 *   oversized list; ERR_OPERATOR_NAME; ERR_NOT_FOUND naming the unknown operators
 *   (`details.operators`); ERR_CONFLICT naming the operators already listed with this IP.
 */
export async function addServiceWhitelist(
  deps: SystemManagerDeps,
  input: { ip: unknown; operators: unknown; addedBy: string },
  commit: CommitChange,
): Promise<ServiceWhitelistEntry> {
  const ip = checkServiceIp(input.ip);
  if (!Array.isArray(input.operators) || input.operators.length === 0) {
    throw new CofferError('ERR_BAD_REQUEST', 'Select one or more operators for this IP address.', {
      field: 'operators',
    });
  }
  if (input.operators.length > MAX_OPERATORS_PER_ADD) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `At most ${MAX_OPERATORS_PER_ADD} operators can be added at once.`,
      {
        field: 'operators',
      },
    );
  }
  const names = [...new Set(input.operators.map((name) => checkOperatorName(name, 'operators') as string))];
  const addedAt = deps.now().toISOString();
  return deps.store.transaction(async (tx) => {
    const missing: string[] = [];
    for (const name of names) {
      const record = await tx.getOperator(name);
      if (!record) missing.push(name);
      else assertIntact(operatorIntact(deps.keyring, record), `operator ${name}`);
    }
    if (missing.length > 0) {
      throw new CofferError('ERR_NOT_FOUND', `No operator named ${missing.join(', ')}.`, {
        field: 'operators',
        operators: missing,
      });
    }
    const listed = new Set((await tx.listServiceWhitelist({ ip })).map((r) => r.operator));
    const already = names.filter((name) => listed.has(name));
    if (already.length > 0) {
      throw new CofferError('ERR_CONFLICT', `${ip} is already on the white list for ${already.join(', ')}.`, {
        field: 'operators',
        operators: already,
      });
    }
    for (const name of names) {
      await tx.addServiceWhitelist(
        sealServiceWhitelistRecord(deps.keyring, { ip, operator: name, addedAt, addedBy: input.addedBy }),
      );
    }
    await commit(tx, `operators: ${names.join(', ')}`);
    const pairs = await tx.listServiceWhitelist({ ip });
    assertPairsIntact(deps.keyring, pairs);
    return group(pairs)[0]!;
  });
}

/**
 * Removes an IP from the whitelist with all its operators ("delete white list"), or only its pair
 * with `operator`. Returns how many pairs went.
 *
 * @throws CofferError ERR_IP_FORMAT, ERR_OPERATOR_NAME; ERR_NOT_FOUND when the IP (or the pair) is
 *   not listed.
 */
export async function deleteServiceWhitelist(
  deps: SystemManagerDeps,
  input: { ip: unknown; operator?: unknown },
  commit: CommitChange,
): Promise<number> {
  const ip = checkServiceIp(input.ip);
  const operator = input.operator === undefined ? undefined : checkOperatorName(input.operator, 'operator');
  return deps.store.transaction(async (tx) => {
    const removed = await tx.deleteServiceWhitelist(ip, operator);
    if (removed === 0) {
      throw new CofferError(
        'ERR_NOT_FOUND',
        operator === undefined
          ? `${ip} is not on the white list.`
          : `${ip} is not on the white list for ${operator}.`,
        { field: operator === undefined ? 'ip' : 'operator' },
      );
    }
    await commit(tx, `pairs removed: ${removed}`);
    return removed;
  });
}

/**
 * The whole whitelist, grouped by IP (IPs and their operators in order).
 *
 * @throws CofferError ERR_INTEGRITY when a pair fails its MAC.
 */
export async function listServiceWhitelist(deps: SystemManagerDeps): Promise<ServiceWhitelistEntry[]> {
  const records = await deps.store.listServiceWhitelist();
  assertPairsIntact(deps.keyring, records);
  return group(records);
}

/**
 * One IP and its operators ("check detail information").
 *
 * @throws CofferError ERR_IP_FORMAT; ERR_NOT_FOUND when the IP is not listed; ERR_INTEGRITY.
 */
export async function getServiceWhitelistEntry(
  deps: SystemManagerDeps,
  ip: unknown,
): Promise<ServiceWhitelistEntry> {
  const address = checkServiceIp(ip);
  const records = await deps.store.listServiceWhitelist({ ip: address });
  if (records.length === 0) {
    throw new CofferError('ERR_NOT_FOUND', `${address} is not on the white list.`, { field: 'ip' });
  }
  assertPairsIntact(deps.keyring, records);
  return group(records)[0]!;
}

/**
 * Whether a client at `ip` may use the crypto service as `operator`: the operator exists and the
 * pair is listed, both records intact. Never throws for a malformed IP or name (the answer is no).
 */
export async function isServiceAllowed(
  store: Pick<StoreTx, 'getOperator' | 'listServiceWhitelist'>,
  keyring: Keyring,
  ip: string,
  operator: string,
): Promise<boolean> {
  let address: string;
  try {
    address = checkServiceIp(ip);
    checkOperatorName(operator);
  } catch {
    return false;
  }
  const record = await store.getOperator(operator);
  if (!record || !operatorIntact(keyring, record)) return false;
  const pairs = await store.listServiceWhitelist({ ip: address, operator });
  return pairs.some((pair) => serviceWhitelistIntact(keyring, pair));
}
