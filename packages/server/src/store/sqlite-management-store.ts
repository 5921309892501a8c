/**
 * The SQLite side of the management issue's records (`ManagementStoreTx` of the storage port):
 * operators, licences, the service whitelist, keys and key bindings. The tables are made by migration
 * 2 (`sqlite-migrations.ts`); `sqlite-store.ts` delegates to this class from its per-connection
 * operations, which hand in their error-mapping `run` so that every failure here surfaces with the
 * port's codes.
 */
import type {
  KeyBindingRecord,
  KeyQuery,
  KeyRecord,
  KeyUsage,
  LicenceRecord,
  ManagementStoreTx,
  OperatorRecord,
  ServiceWhitelistRecord,
} from '@coffer/core';
import { CofferError } from '@coffer/core';
import type Database from 'better-sqlite3';

/** The management tables, children first: the order `wipeDomain` deletes them in. */
export const MANAGEMENT_TABLES = [
  'key_bindings',
  'service_whitelist',
  'licences',
  'keys',
  'operators',
] as const;

/**
 * A duplicate key, and a row naming an operator or key that does not exist (or a delete that would
 * leave such rows behind), are conflicts with stored records.
 */
export const MANAGEMENT_CONFLICTS = [
  'SQLITE_CONSTRAINT_PRIMARYKEY',
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_FOREIGNKEY',
] as const;

const DEFAULT_LIMIT = 100;

/** What the per-connection operations lend: their error-mapping runner and statement cache. */
export interface SqliteRunner {
  run<T>(operation: string, body: () => T, conflictCodes?: readonly string[]): T;
  cached(sql: string): Database.Statement;
}

interface OperatorRow {
  name: string;
  description: string;
  creator: string;
  created_at: string;
  mac: string;
}

interface LicenceRow {
  serial: string;
  operator: string;
  cert_fingerprint: string;
  max_connections: number;
  issued_at: string;
  issued_by: string;
  status: LicenceRecord['status'];
  mac: string;
}

interface WhitelistRow {
  ip: string;
  operator: string;
  added_at: string;
  added_by: string;
  mac: string;
}

interface KeyRow {
  key_index: number;
  type: string;
  key_class: KeyRecord['keyClass'];
  creator: string;
  status: KeyRecord['status'];
  invalid_reason: KeyRecord['invalidReason'];
  validity_days: number;
  description: string;
  created_at: string;
  expires_at: string;
  usage: string;
  check_value: string | null;
  public_key: string | null;
  sealed: Buffer;
  version: number;
  mac: string;
}

interface BindingRow {
  key_index: number;
  operator: string;
  bound_at: string;
  bound_by: string;
  mac: string;
}

const OPERATOR_COLUMNS = 'name, description, creator, created_at, mac';
const LICENCE_COLUMNS =
  'serial, operator, cert_fingerprint, max_connections, issued_at, issued_by, status, mac';
const WHITELIST_COLUMNS = 'ip, operator, added_at, added_by, mac';
const KEY_COLUMNS =
  'key_index, type, key_class, creator, status, invalid_reason, validity_days, description, created_at, expires_at, usage, check_value, public_key, sealed, version, mac';
const BINDING_COLUMNS = 'key_index, operator, bound_at, bound_by, mac';

function operatorFromRow(row: OperatorRow): OperatorRecord {
  return {
    name: row.name,
    description: row.description,
    creator: row.creator,
    createdAt: row.created_at,
    mac: row.mac,
  };
}

function licenceFromRow(row: LicenceRow): LicenceRecord {
  return {
    serial: row.serial,
    operator: row.operator,
    certFingerprint: row.cert_fingerprint,
    maxConnections: row.max_connections,
    issuedAt: row.issued_at,
    issuedBy: row.issued_by,
    status: row.status,
    mac: row.mac,
  };
}

function whitelistFromRow(row: WhitelistRow): ServiceWhitelistRecord {
  return { ip: row.ip, operator: row.operator, addedAt: row.added_at, addedBy: row.added_by, mac: row.mac };
}

function keyFromRow(row: KeyRow): KeyRecord {
  return {
    index: row.key_index,
    type: row.type,
    keyClass: row.key_class,
    creator: row.creator,
    status: row.status,
    invalidReason: row.invalid_reason,
    validityDays: row.validity_days,
    description: row.description,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usage: JSON.parse(row.usage) as KeyUsage[],
    checkValue: row.check_value,
    publicKey: row.public_key,
    sealed: row.sealed,
    version: row.version,
    mac: row.mac,
  };
}

function bindingFromRow(row: BindingRow): KeyBindingRecord {
  return {
    keyIndex: row.key_index,
    operator: row.operator,
    boundAt: row.bound_at,
    boundBy: row.bound_by,
    mac: row.mac,
  };
}

/** The bound values of a key row, in `KEY_COLUMNS` order. */
function keyValues(record: KeyRecord): unknown[] {
  return [
    record.index,
    record.type,
    record.keyClass,
    record.creator,
    record.status,
    record.invalidReason,
    record.validityDays,
    record.description,
    record.createdAt,
    record.expiresAt,
    JSON.stringify(record.usage),
    record.checkValue,
    record.publicKey,
    record.sealed,
    record.version,
    record.mac,
  ];
}

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

/** The management issue's fixed statements (named, so that declaration emit can spell them). */
export interface ManagementStatements {
  listOperators: Statement<[number, number], OperatorRow>;
  countOperators: Statement<[], { n: number }>;
  getOperator: Statement<[string], OperatorRow>;
  insertOperator: Statement<[string, string, string, string, string]>;
  deleteOperator: Statement<[string]>;
  listLicences: Statement<[string], LicenceRow>;
  getLicence: Statement<[string], LicenceRow>;
  putLicence: Statement<unknown[]>;
  addServiceWhitelist: Statement<[string, string, string, string, string]>;
  deleteServiceWhitelistIp: Statement<[string]>;
  deleteServiceWhitelistPair: Statement<[string, string]>;
  deleteServiceWhitelistForOperator: Statement<[string]>;
  nextKeyIndex: Statement<[], { next: number }>;
  getKey: Statement<[number], KeyRow>;
  insertKey: Statement<unknown[]>;
  updateKey: Statement<unknown[]>;
  deleteKey: Statement<[number]>;
  listExpiredKeys: Statement<[string], KeyRow>;
  addBinding: Statement<[number, string, string, string, string]>;
  deleteBinding: Statement<[number, string]>;
  deleteBindingsForKey: Statement<[number]>;
  deleteBindingsForOperator: Statement<[string]>;
}

/** Prepares the management issue's fixed statements, once per connection. */
export function prepareManagementStatements(db: Database.Database): ManagementStatements {
  return {
    listOperators: db.prepare<[number, number], OperatorRow>(
      `SELECT ${OPERATOR_COLUMNS} FROM operators ORDER BY name LIMIT ? OFFSET ?`,
    ),
    countOperators: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM operators'),
    getOperator: db.prepare<[string], OperatorRow>(
      `SELECT ${OPERATOR_COLUMNS} FROM operators WHERE name = ?`,
    ),
    insertOperator: db.prepare<[string, string, string, string, string]>(
      `INSERT INTO operators (${OPERATOR_COLUMNS}) VALUES (?, ?, ?, ?, ?)`,
    ),
    deleteOperator: db.prepare<[string]>('DELETE FROM operators WHERE name = ?'),

    listLicences: db.prepare<[string], LicenceRow>(
      `SELECT ${LICENCE_COLUMNS} FROM licences WHERE operator = ? ORDER BY issued_at, serial`,
    ),
    getLicence: db.prepare<[string], LicenceRow>(`SELECT ${LICENCE_COLUMNS} FROM licences WHERE serial = ?`),
    putLicence: db.prepare<unknown[]>(
      `INSERT INTO licences (${LICENCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (serial) DO UPDATE SET operator = excluded.operator,
         cert_fingerprint = excluded.cert_fingerprint, max_connections = excluded.max_connections,
         issued_at = excluded.issued_at, issued_by = excluded.issued_by, status = excluded.status,
         mac = excluded.mac`,
    ),

    addServiceWhitelist: db.prepare<[string, string, string, string, string]>(
      `INSERT INTO service_whitelist (${WHITELIST_COLUMNS}) VALUES (?, ?, ?, ?, ?)`,
    ),
    deleteServiceWhitelistIp: db.prepare<[string]>('DELETE FROM service_whitelist WHERE ip = ?'),
    deleteServiceWhitelistPair: db.prepare<[string, string]>(
      'DELETE FROM service_whitelist WHERE ip = ? AND operator = ?',
    ),
    deleteServiceWhitelistForOperator: db.prepare<[string]>(
      'DELETE FROM service_whitelist WHERE operator = ?',
    ),

    nextKeyIndex: db.prepare<[], { next: number }>(
      'SELECT COALESCE(MAX(key_index), 0) + 1 AS next FROM keys',
    ),
    getKey: db.prepare<[number], KeyRow>(`SELECT ${KEY_COLUMNS} FROM keys WHERE key_index = ?`),
    insertKey: db.prepare<unknown[]>(
      `INSERT INTO keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // The index is bound last: see `updateKey`.
    updateKey: db.prepare<unknown[]>(
      `UPDATE keys SET type = ?, key_class = ?, creator = ?, status = ?, invalid_reason = ?,
         validity_days = ?, description = ?, created_at = ?, expires_at = ?, usage = ?,
         check_value = ?, public_key = ?, sealed = ?, version = ?, mac = ?
       WHERE key_index = ?`,
    ),
    deleteKey: db.prepare<[number]>('DELETE FROM keys WHERE key_index = ?'),
    listExpiredKeys: db.prepare<[string], KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM keys WHERE status IN ('normal', 'discard') AND expires_at <= ?
       ORDER BY key_index`,
    ),

    addBinding: db.prepare<[number, string, string, string, string]>(
      `INSERT INTO key_bindings (${BINDING_COLUMNS}) VALUES (?, ?, ?, ?, ?)`,
    ),
    deleteBinding: db.prepare<[number, string]>(
      'DELETE FROM key_bindings WHERE key_index = ? AND operator = ?',
    ),
    deleteBindingsForKey: db.prepare<[number]>('DELETE FROM key_bindings WHERE key_index = ?'),
    deleteBindingsForOperator: db.prepare<[string]>('DELETE FROM key_bindings WHERE operator = ?'),
  };
}

function assertCount(what: string, name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new CofferError('ERR_BAD_REQUEST', `The ${what}'s ${name} must be a non-negative integer.`, {
      field: name,
    });
  }
}

/**
 * Builds the key filter from literal SQL fragments and bound values only (so the indexes on
 * `created_at` and `status` stay usable). An empty `indexes` list selects no key.
 */
function keyFilter(query: Omit<KeyQuery, 'limit' | 'offset' | 'order'>): { where: string; args: unknown[] } {
  const clauses: string[] = [];
  const args: unknown[] = [];
  if (query.from !== undefined) {
    clauses.push('created_at >= ?');
    args.push(query.from);
  }
  if (query.to !== undefined) {
    clauses.push('created_at <= ?');
    args.push(query.to);
  }
  if (query.keyClass !== undefined) {
    clauses.push('key_class = ?');
    args.push(query.keyClass);
  }
  if (query.status !== undefined) {
    clauses.push('status = ?');
    args.push(query.status);
  }
  if (query.indexes !== undefined) {
    for (const index of query.indexes) assertCount('key query', 'indexes', index);
    // Bound as one JSON array, so the statement text (and the cache) does not grow with the list.
    clauses.push(query.indexes.length === 0 ? '0' : 'key_index IN (SELECT value FROM json_each(?))');
    if (query.indexes.length > 0) args.push(JSON.stringify(query.indexes));
  }
  return { where: clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`, args };
}

/** `ManagementStoreTx` on one connection, without locking (the caller's operations hold the lock). */
export class SqliteManagementOperations implements ManagementStoreTx {
  constructor(
    private readonly sql: ManagementStatements,
    private readonly runner: SqliteRunner,
  ) {}

  private run<T>(operation: string, body: () => T): T {
    return this.runner.run(operation, body, MANAGEMENT_CONFLICTS);
  }

  async listOperators(query: { limit?: number; offset?: number }): Promise<OperatorRecord[]> {
    return this.run('list the operators', () => {
      assertCount('operator query', 'limit', query.limit);
      assertCount('operator query', 'offset', query.offset);
      return this.sql.listOperators.all(query.limit ?? DEFAULT_LIMIT, query.offset ?? 0).map(operatorFromRow);
    });
  }

  async countOperators(): Promise<number> {
    return this.run('count the operators', () => this.sql.countOperators.get()?.n ?? 0);
  }

  async getOperator(name: string): Promise<OperatorRecord | null> {
    return this.run('read an operator', () => {
      const row = this.sql.getOperator.get(name);
      return row === undefined ? null : operatorFromRow(row);
    });
  }

  async insertOperator(record: OperatorRecord): Promise<void> {
    this.run('add an operator', () =>
      this.sql.insertOperator.run(
        record.name,
        record.description,
        record.creator,
        record.createdAt,
        record.mac,
      ),
    );
  }

  async deleteOperator(name: string): Promise<boolean> {
    return this.run('delete an operator', () => this.sql.deleteOperator.run(name).changes > 0);
  }

  async listLicences(operator: string): Promise<LicenceRecord[]> {
    return this.run('list the licences', () => this.sql.listLicences.all(operator).map(licenceFromRow));
  }

  async getLicence(serial: string): Promise<LicenceRecord | null> {
    return this.run('read a licence', () => {
      const row = this.sql.getLicence.get(serial);
      return row === undefined ? null : licenceFromRow(row);
    });
  }

  async putLicence(record: LicenceRecord): Promise<void> {
    this.run('write a licence', () =>
      this.sql.putLicence.run(
        record.serial,
        record.operator,
        record.certFingerprint,
        record.maxConnections,
        record.issuedAt,
        record.issuedBy,
        record.status,
        record.mac,
      ),
    );
  }

  async listServiceWhitelist(
    query: { ip?: string; operator?: string } = {},
  ): Promise<ServiceWhitelistRecord[]> {
    return this.run('list the service whitelist', () => {
      const clauses: string[] = [];
      const args: string[] = [];
      if (query.ip !== undefined) {
        clauses.push('ip = ?');
        args.push(query.ip);
      }
      if (query.operator !== undefined) {
        clauses.push('operator = ?');
        args.push(query.operator);
      }
      const where = clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`;
      const rows = this.runner
        .cached(`SELECT ${WHITELIST_COLUMNS} FROM service_whitelist${where} ORDER BY ip, operator`)
        .all(...args) as WhitelistRow[];
      return rows.map(whitelistFromRow);
    });
  }

  async addServiceWhitelist(record: ServiceWhitelistRecord): Promise<void> {
    this.run('add a service whitelist pair', () =>
      this.sql.addServiceWhitelist.run(
        record.ip,
        record.operator,
        record.addedAt,
        record.addedBy,
        record.mac,
      ),
    );
  }

  async deleteServiceWhitelist(ip: string, operator?: string): Promise<number> {
    return this.run('remove service whitelist pairs', () =>
      operator === undefined
        ? this.sql.deleteServiceWhitelistIp.run(ip).changes
        : this.sql.deleteServiceWhitelistPair.run(ip, operator).changes,
    );
  }

  async deleteServiceWhitelistForOperator(operator: string): Promise<number> {
    return this.run(
      "remove an operator's service whitelist pairs",
      () => this.sql.deleteServiceWhitelistForOperator.run(operator).changes,
    );
  }

  async nextKeyIndex(): Promise<number> {
    return this.run('find the next key index', () => this.sql.nextKeyIndex.get()?.next ?? 1);
  }

  async getKey(index: number): Promise<KeyRecord | null> {
    return this.run('read a key', () => {
      const row = this.sql.getKey.get(index);
      return row === undefined ? null : keyFromRow(row);
    });
  }

  async insertKey(record: KeyRecord): Promise<void> {
    this.run('add a key', () => this.sql.insertKey.run(...keyValues(record)));
  }

  /** @throws CofferError `ERR_NOT_FOUND` when no key has this index. */
  async updateKey(record: KeyRecord): Promise<void> {
    const changes = this.run(
      'update a key',
      () => this.sql.updateKey.run(...keyValues(record).slice(1), record.index).changes,
    );
    if (changes === 0) {
      throw new CofferError('ERR_NOT_FOUND', `No key has index ${record.index}.`, { index: record.index });
    }
  }

  async deleteKey(index: number): Promise<boolean> {
    return this.run('delete a key', () => this.sql.deleteKey.run(index).changes > 0);
  }

  async listKeys(query: KeyQuery): Promise<KeyRecord[]> {
    return this.run('list keys', () => {
      assertCount('key query', 'limit', query.limit);
      assertCount('key query', 'offset', query.offset);
      const { where, args } = keyFilter(query);
      const order = query.order === 'asc' ? 'ASC' : 'DESC';
      const rows = this.runner
        .cached(`SELECT ${KEY_COLUMNS} FROM keys${where} ORDER BY key_index ${order} LIMIT ? OFFSET ?`)
        .all(...args, query.limit ?? DEFAULT_LIMIT, query.offset ?? 0) as KeyRow[];
      return rows.map(keyFromRow);
    });
  }

  async countKeys(query: Omit<KeyQuery, 'limit' | 'offset' | 'order'>): Promise<number> {
    return this.run('count keys', () => {
      const { where, args } = keyFilter(query);
      const row = this.runner.cached(`SELECT COUNT(*) AS n FROM keys${where}`).get(...args) as { n: number };
      return row.n;
    });
  }

  async listExpiredKeys(now: string): Promise<KeyRecord[]> {
    return this.run('list expired keys', () => this.sql.listExpiredKeys.all(now).map(keyFromRow));
  }

  async listBindings(query: { keyIndex?: number; operator?: string }): Promise<KeyBindingRecord[]> {
    return this.run('list key bindings', () => {
      const clauses: string[] = [];
      const args: unknown[] = [];
      if (query.keyIndex !== undefined) {
        clauses.push('key_index = ?');
        args.push(query.keyIndex);
      }
      if (query.operator !== undefined) {
        clauses.push('operator = ?');
        args.push(query.operator);
      }
      const where = clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`;
      const rows = this.runner
        .cached(`SELECT ${BINDING_COLUMNS} FROM key_bindings${where} ORDER BY key_index, operator`)
        .all(...args) as BindingRow[];
      return rows.map(bindingFromRow);
    });
  }

  async addBinding(record: KeyBindingRecord): Promise<void> {
    this.run('bind a key to an operator', () =>
      this.sql.addBinding.run(record.keyIndex, record.operator, record.boundAt, record.boundBy, record.mac),
    );
  }

  async deleteBinding(keyIndex: number, operator: string): Promise<boolean> {
    return this.run('unbind a key', () => this.sql.deleteBinding.run(keyIndex, operator).changes > 0);
  }

  async deleteBindingsForKey(keyIndex: number): Promise<number> {
    return this.run("remove a key's bindings", () => this.sql.deleteBindingsForKey.run(keyIndex).changes);
  }

  async deleteBindingsForOperator(operator: string): Promise<number> {
    return this.run(
      "remove an operator's key bindings",
      () => this.sql.deleteBindingsForOperator.run(operator).changes,
    );
  }
}
