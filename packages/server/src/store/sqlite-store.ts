/**
 * The SQLite adapter of the storage port (DESIGN §9): one file under the data directory, opened with
 * better-sqlite3. The driver is synchronous, so one connection and an async mutex give the port's
 * exclusive transactions: while a transaction's `fn` awaits, every other call on the store waits.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { chmod, open } from 'node:fs/promises';
import type {
  AuditEntry,
  AuditQuery,
  CardRecord,
  DomainRecord,
  KeyBindingRecord,
  KeyQuery,
  KeyRecord,
  LicenceRecord,
  MkPartPinRecord,
  OperatorRecord,
  ServiceWhitelistRecord,
  SettingKey,
  ShareRecord,
  Store,
  StoreTx,
  ToolWhitelistRecord,
} from '@coffer/core';
import { CofferError, isCofferError } from '@coffer/core';
import Database from 'better-sqlite3';
import {
  MANAGEMENT_TABLES,
  prepareManagementStatements,
  SqliteManagementOperations,
} from './sqlite-management-store.js';
import {
  migrateSqlite,
  readSqliteSchemaState,
  SQLITE_SCHEMA_VERSION,
  type SqliteSchemaState,
} from './sqlite-migrations.js';

export interface SqliteStoreOptions {
  /**
   * Open an existing store without writing to it (for `coffer audit verify` on a stopped device):
   * no file is created, no migration runs, and every write fails with ERR_STORE.
   */
  readonly?: boolean;
  /** How long a call waits for another process's lock on the file before failing; default 5000 ms. */
  busyTimeoutMs?: number;
}

/** A store backed by one SQLite file. */
export interface SqliteStore extends Store {
  readonly kind: 'sqlite';
  readonly path: string;
  readonly readonly: boolean;
}

const FILE_MODE = 0o600;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_AUDIT_LIMIT = 100;

/**
 * Opens (creating it when absent, with mode 0600) the SQLite store at `path` and brings its schema
 * to this build's version in one transaction. The database runs in WAL mode with
 * `synchronous = FULL`, so a transaction that has resolved survives a crash or power cut;
 * `secure_delete` zeroes deleted rows and `compact()` removes what is left of them.
 *
 * @throws CofferError `ERR_STORE` when the file cannot be created or opened, is not a SQLite
 *   database, or is a SQLite database of some other program; `ERR_STORE_SCHEMA` when it was written
 *   by a newer Coffer (it is then left untouched), or, opened read-only, needs a migration first.
 */
export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  const readonly = options.readonly ?? false;
  if (!readonly) await createPrivateFile(path);
  let db: Database.Database;
  try {
    db = new Database(path, {
      readonly,
      fileMustExist: true,
      timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
    });
  } catch (error) {
    throw new CofferError('ERR_STORE', `The store file ${path} could not be opened.`, driverDetails(error));
  }
  try {
    prepareConnection(db, path, readonly);
    if (!readonly) await restrictFileModes(path);
    return new SqliteStoreImpl(db, path, readonly);
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Creates the file with mode 0600 before SQLite does, so it is never readable by others. */
async function createPrivateFile(path: string): Promise<void> {
  try {
    const handle = await open(path, 'wx', FILE_MODE);
    await handle.close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new CofferError('ERR_STORE', `The store file ${path} could not be created.`, {
      errno: String((error as NodeJS.ErrnoException).code ?? 'unknown'),
    });
  }
}

/** Chmods the database and its -wal and -shm files (those that exist) to 0600. */
async function restrictFileModes(path: string): Promise<void> {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      await chmod(file, FILE_MODE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new CofferError('ERR_STORE', `The permissions of ${file} could not be restricted.`, {
        errno: String((error as NodeJS.ErrnoException).code ?? 'unknown'),
      });
    }
  }
}

/** Checks what the file holds before writing anything to it, then sets the pragmas and migrates. */
function prepareConnection(db: Database.Database, path: string, readonly: boolean): void {
  let state: SqliteSchemaState;
  try {
    state = readSqliteSchemaState(db);
  } catch (error) {
    const code = driverCode(error);
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new CofferError(
        'ERR_STORE',
        `The file ${path} is not a SQLite database, so it cannot be a store.`,
        {
          driverCode: code,
        },
      );
    }
    throw new CofferError('ERR_STORE', `The store file ${path} could not be read.`, driverDetails(error));
  }
  if (state.kind === 'foreign') {
    throw new CofferError(
      'ERR_STORE',
      `The file ${path} is a SQLite database of some other program; Coffer will not write to it.`,
    );
  }
  const current = state.kind === 'coffer' ? state.version : 0;
  if (current > SQLITE_SCHEMA_VERSION) {
    throw new CofferError(
      'ERR_STORE_SCHEMA',
      `The store ${path} has schema version ${current}, newer than the ${SQLITE_SCHEMA_VERSION} this build knows; it was left untouched.`,
      { current, expected: SQLITE_SCHEMA_VERSION },
    );
  }
  if (readonly && state.kind === 'empty') {
    throw new CofferError('ERR_STORE', `The file ${path} holds no Coffer store.`);
  }
  if (readonly && current !== SQLITE_SCHEMA_VERSION) {
    throw new CofferError(
      'ERR_STORE_SCHEMA',
      `The store ${path} has schema version ${current} and must be opened for writing once to be migrated to ${SQLITE_SCHEMA_VERSION}.`,
      { current, expected: SQLITE_SCHEMA_VERSION },
    );
  }
  try {
    if (readonly) {
      db.pragma('query_only = ON');
    } else {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') {
        throw new CofferError('ERR_STORE', `The store ${path} could not be switched to write-ahead logging.`);
      }
      // FULL: a commit is fsynced before it is acknowledged; WAL's default NORMAL may lose the last ones.
      db.pragma('synchronous = FULL');
    }
    db.pragma('foreign_keys = ON');
    // Deleted rows are overwritten with zeros, and temporary tables (VACUUM, sorts) never reach disk.
    db.pragma('secure_delete = ON');
    db.pragma('temp_store = MEMORY');
    if (!readonly) migrateSqlite(db);
  } catch (error) {
    if (isCofferError(error)) throw error;
    throw new CofferError('ERR_STORE', `The store ${path} could not be prepared.`, driverDetails(error));
  }
}

function driverCode(error: unknown): string | undefined {
  return error instanceof Database.SqliteError ? error.code : undefined;
}

function driverDetails(error: unknown): Record<string, string> {
  const code = driverCode(error);
  return code === undefined ? {} : { driverCode: code };
}

/**
 * Maps a driver failure to the port's codes. The driver's message is dropped: the sentence names
 * the operation and the SQLite code, never a value from the row.
 */
function toStoreError(operation: string, error: unknown, conflictCodes: readonly string[]): CofferError {
  if (isCofferError(error)) return error;
  const code = driverCode(error);
  if (code !== undefined && conflictCodes.includes(code)) {
    return new CofferError(
      'ERR_CONFLICT',
      `The store refused to ${operation}: it conflicts with a stored record.`,
      {
        operation,
        driverCode: code,
      },
    );
  }
  return new CofferError(
    'ERR_STORE',
    `The store could not ${operation}${code === undefined ? '' : ` (${code})`}.`,
    { operation, ...driverDetails(error) },
  );
}

const KEY_CONFLICTS = ['SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE'] as const;
// The audit table's insert trigger refuses anything but head + 1 (see sqlite-migrations.ts).
const AUDIT_CONFLICTS = [...KEY_CONFLICTS, 'SQLITE_CONSTRAINT_TRIGGER'] as const;

interface CardRow {
  card_id: string;
  slot: string;
  role: CardRecord['role'];
  account: string;
  public_key: Buffer;
  status: CardRecord['status'];
  factor: string | null;
  created_at: string;
  replaced_at: string | null;
  failed_attempts: number;
  blocked: number;
  mac: string;
}

interface AuditRow {
  seq: number;
  time: string;
  source: AuditEntry['source'];
  account: string;
  client_ip: string;
  business_type: string;
  result: AuditEntry['result'];
  content: string;
  details: string;
  prev_digest: string;
  digest: string;
}

function cardFromRow(row: CardRow): CardRecord {
  return {
    cardId: row.card_id,
    slot: row.slot,
    role: row.role,
    account: row.account,
    publicKey: row.public_key,
    status: row.status,
    factor: row.factor,
    createdAt: row.created_at,
    replacedAt: row.replaced_at,
    failedAttempts: row.failed_attempts,
    blocked: row.blocked === 1,
    mac: row.mac,
  };
}

function auditFromRow(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    time: row.time,
    source: row.source,
    account: row.account,
    clientIp: row.client_ip,
    businessType: row.business_type,
    result: row.result,
    content: row.content,
    details: row.details,
    prevDigest: row.prev_digest,
    digest: row.digest,
  };
}

const CARD_COLUMNS =
  'card_id, slot, role, account, public_key, status, factor, created_at, replaced_at, failed_attempts, blocked, mac';
const AUDIT_COLUMNS =
  'seq, time, source, account, client_ip, business_type, result, content, details, prev_digest, digest';

/** Every fixed statement, prepared once per connection. */
function prepareStatements(db: Database.Database) {
  // Domain tables only: meta (device identity, schema) and the audit log stay. The management
  // tables go first, children before the operators and keys they name.
  const wipeTables = [
    ...MANAGEMENT_TABLES,
    'domain',
    'cards',
    'shares',
    'mk_part_pins',
    'tool_whitelist',
    'settings',
  ].map((table) => db.prepare(`DELETE FROM ${table}`));
  const deleteToolWhitelistIp = db.prepare<[string]>('DELETE FROM tool_whitelist WHERE ip = ?');
  return {
    management: prepareManagementStatements(db),
    getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare<[string, string]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    getDomain: db.prepare<
      [],
      { initialised_at: string; kcv: string; ca_cert_pem: string; ca_key_sealed: Buffer; mac: string }
    >('SELECT initialised_at, kcv, ca_cert_pem, ca_key_sealed, mac FROM domain WHERE id = 1'),
    putDomain: db.prepare<[string, string, string, Buffer, string]>(
      `INSERT INTO domain (id, initialised_at, kcv, ca_cert_pem, ca_key_sealed, mac) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET initialised_at = excluded.initialised_at, kcv = excluded.kcv,
         ca_cert_pem = excluded.ca_cert_pem, ca_key_sealed = excluded.ca_key_sealed, mac = excluded.mac`,
    ),
    listCards: db.prepare<[], CardRow>(
      `SELECT ${CARD_COLUMNS} FROM cards ORDER BY slot, created_at, card_id`,
    ),
    getCard: db.prepare<[string], CardRow>(`SELECT ${CARD_COLUMNS} FROM cards WHERE card_id = ?`),
    putCard: db.prepare<unknown[]>(
      `INSERT INTO cards (${CARD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (card_id) DO UPDATE SET slot = excluded.slot, role = excluded.role,
         account = excluded.account, public_key = excluded.public_key, status = excluded.status,
         factor = excluded.factor, created_at = excluded.created_at, replaced_at = excluded.replaced_at,
         failed_attempts = excluded.failed_attempts, blocked = excluded.blocked, mac = excluded.mac`,
    ),
    setCardAttempts: db.prepare<[number, number, string]>(
      'UPDATE cards SET failed_attempts = ?, blocked = ? WHERE card_id = ?',
    ),
    listShares: db.prepare<[], ShareRecord>('SELECT slot, sealed FROM shares ORDER BY slot'),
    putShare: db.prepare<[string, Buffer]>(
      'INSERT INTO shares (slot, sealed) VALUES (?, ?) ON CONFLICT (slot) DO UPDATE SET sealed = excluded.sealed',
    ),
    listMkPartPins: db.prepare<[], MkPartPinRecord>('SELECT slot, verifier FROM mk_part_pins ORDER BY slot'),
    putMkPartPin: db.prepare<[string, string]>(
      `INSERT INTO mk_part_pins (slot, verifier) VALUES (?, ?)
       ON CONFLICT (slot) DO UPDATE SET verifier = excluded.verifier`,
    ),
    listToolWhitelist: db.prepare<[], { ip: string; added_at: string; added_by: string; mac: string }>(
      'SELECT ip, added_at, added_by, mac FROM tool_whitelist ORDER BY added_at, ip',
    ),
    addToolWhitelist: db.prepare<[string, string, string, string]>(
      'INSERT INTO tool_whitelist (ip, added_at, added_by, mac) VALUES (?, ?, ?, ?)',
    ),
    getSetting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?'),
    putSetting: db.prepare<[string, string]>(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    auditHead: db.prepare<[], { seq: number; digest: string }>(
      'SELECT seq, digest FROM audit_log ORDER BY seq DESC LIMIT 1',
    ),
    insertAudit: db.prepare<unknown[]>(
      `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // better-sqlite3 runs these as savepoints inside an open transaction, and as their own otherwise.
    wipeDomain: db.transaction(() => {
      for (const statement of wipeTables) statement.run();
    }),
    // Duplicates in `ips` count once: the result is how many listed entries went away.
    deleteToolWhitelist: db.transaction((ips: readonly string[]): number => {
      let removed = 0;
      for (const ip of new Set(ips)) removed += deleteToolWhitelistIp.run(ip).changes;
      return removed;
    }),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

function assertCount(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new CofferError('ERR_BAD_REQUEST', `The audit query's ${name} must be a non-negative integer.`, {
      field: name,
    });
  }
}

/**
 * Builds the audit filter from literal SQL fragments and bound values only, so that the index on
 * `time` and the primary key on `seq` are usable (an `(? IS NULL OR …)` form would defeat them).
 */
function auditFilter(query: Omit<AuditQuery, 'limit' | 'offset' | 'order'>): {
  where: string;
  args: unknown[];
} {
  assertCount('afterSeq', query.afterSeq);
  const clauses: string[] = [];
  const args: unknown[] = [];
  if (query.from !== undefined) {
    clauses.push('time >= ?');
    args.push(query.from);
  }
  if (query.to !== undefined) {
    clauses.push('time <= ?');
    args.push(query.to);
  }
  if (query.afterSeq !== undefined) {
    clauses.push('seq > ?');
    args.push(query.afterSeq);
  }
  if (query.sources !== undefined) {
    // An empty list selects no source, hence no entry.
    clauses.push(query.sources.length === 0 ? '0' : `source IN (${query.sources.map(() => '?').join(', ')})`);
    args.push(...query.sources);
  }
  return { where: clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`, args };
}

/**
 * The port's operations on one connection, without any locking: the store wraps each call in its
 * mutex, and a transaction hands out an instance whose `assertUsable` fails once it has ended.
 */
class SqliteOperations implements StoreTx {
  private readonly management: SqliteManagementOperations;

  constructor(
    private readonly db: Database.Database,
    private readonly sql: Statements,
    private readonly dynamic: Map<string, Database.Statement>,
    private readonly assertUsable: () => void,
  ) {
    this.management = new SqliteManagementOperations(sql.management, {
      run: (operation, body, conflictCodes) => this.run(operation, body, conflictCodes),
      cached: (text) => this.cached(text),
    });
  }

  private run<T>(operation: string, body: () => T, conflictCodes: readonly string[] = KEY_CONFLICTS): T {
    this.assertUsable();
    try {
      return body();
    } catch (error) {
      throw toStoreError(operation, error, conflictCodes);
    }
  }

  private cached(sql: string): Database.Statement {
    let statement = this.dynamic.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.dynamic.set(sql, statement);
    }
    return statement;
  }

  async getMeta(key: string): Promise<string | null> {
    return this.run('read a meta value', () => this.sql.getMeta.get(key)?.value ?? null);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.run('write a meta value', () => this.sql.setMeta.run(key, value));
  }

  async getDomain(): Promise<DomainRecord | null> {
    return this.run('read the key domain', () => {
      const row = this.sql.getDomain.get();
      if (row === undefined) return null;
      return {
        initialisedAt: row.initialised_at,
        kcv: row.kcv,
        caCertPem: row.ca_cert_pem,
        caKeySealed: row.ca_key_sealed,
        mac: row.mac,
      };
    });
  }

  async putDomain(record: DomainRecord): Promise<void> {
    this.run('write the key domain', () =>
      this.sql.putDomain.run(
        record.initialisedAt,
        record.kcv,
        record.caCertPem,
        record.caKeySealed,
        record.mac,
      ),
    );
  }

  async listCards(): Promise<CardRecord[]> {
    return this.run('list the cards', () => this.sql.listCards.all().map(cardFromRow));
  }

  async getCard(cardId: string): Promise<CardRecord | null> {
    return this.run('read a card', () => {
      const row = this.sql.getCard.get(cardId);
      return row === undefined ? null : cardFromRow(row);
    });
  }

  async putCard(record: CardRecord): Promise<void> {
    this.run('write a card', () =>
      this.sql.putCard.run(
        record.cardId,
        record.slot,
        record.role,
        record.account,
        record.publicKey,
        record.status,
        record.factor,
        record.createdAt,
        record.replacedAt,
        record.failedAttempts,
        record.blocked ? 1 : 0,
        record.mac,
      ),
    );
  }

  /** @throws CofferError `ERR_NOT_FOUND` when no card has this id. */
  async setCardAttempts(cardId: string, failedAttempts: number, blocked: boolean): Promise<void> {
    const changes = this.run(
      'record wrong PIN attempts',
      () => this.sql.setCardAttempts.run(failedAttempts, blocked ? 1 : 0, cardId).changes,
    );
    if (changes === 0) {
      throw new CofferError('ERR_NOT_FOUND', 'No card with this id is registered.', { field: 'cardId' });
    }
  }

  async listShares(): Promise<ShareRecord[]> {
    return this.run('list the shares', () => this.sql.listShares.all());
  }

  async putShare(record: ShareRecord): Promise<void> {
    this.run('write a share', () => this.sql.putShare.run(record.slot, record.sealed));
  }

  async listMkPartPins(): Promise<MkPartPinRecord[]> {
    return this.run('list the MK-part PIN verifiers', () => this.sql.listMkPartPins.all());
  }

  async putMkPartPin(record: MkPartPinRecord): Promise<void> {
    this.run('write an MK-part PIN verifier', () => this.sql.putMkPartPin.run(record.slot, record.verifier));
  }

  async listToolWhitelist(): Promise<ToolWhitelistRecord[]> {
    return this.run('list the tool whitelist', () =>
      this.sql.listToolWhitelist
        .all()
        .map((row) => ({ ip: row.ip, addedAt: row.added_at, addedBy: row.added_by, mac: row.mac })),
    );
  }

  async addToolWhitelist(record: ToolWhitelistRecord): Promise<void> {
    this.run('add a tool whitelist entry', () =>
      this.sql.addToolWhitelist.run(record.ip, record.addedAt, record.addedBy, record.mac),
    );
  }

  async deleteToolWhitelist(ips: string[]): Promise<number> {
    return this.run('remove tool whitelist entries', () => this.sql.deleteToolWhitelist.immediate(ips));
  }

  async getSetting(key: SettingKey): Promise<string | null> {
    return this.run('read a setting', () => this.sql.getSetting.get(key)?.value ?? null);
  }

  async putSetting(key: SettingKey, value: string): Promise<void> {
    this.run('write a setting', () => this.sql.putSetting.run(key, value));
  }

  async auditHead(): Promise<{ seq: number; digest: string } | null> {
    return this.run('read the audit head', () => this.sql.auditHead.get() ?? null);
  }

  async insertAudit(entry: AuditEntry): Promise<void> {
    this.run(
      'append an audit entry',
      () => {
        // Checked here for a clear refusal; the insert trigger enforces the same rule for any writer.
        const head = this.sql.auditHead.get();
        if (entry.seq !== (head?.seq ?? 0) + 1) {
          throw new CofferError(
            'ERR_CONFLICT',
            `The audit entry ${entry.seq} is not the next one (the head is ${head?.seq ?? 0}).`,
            { seq: entry.seq, head: head?.seq ?? 0 },
          );
        }
        this.sql.insertAudit.run(
          entry.seq,
          entry.time,
          entry.source,
          entry.account,
          entry.clientIp,
          entry.businessType,
          entry.result,
          entry.content,
          entry.details,
          entry.prevDigest,
          entry.digest,
        );
      },
      AUDIT_CONFLICTS,
    );
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.run('list audit entries', () => {
      assertCount('limit', query.limit);
      assertCount('offset', query.offset);
      const { where, args } = auditFilter(query);
      const order = query.order === 'desc' ? 'DESC' : 'ASC';
      const statement = this.cached(
        `SELECT ${AUDIT_COLUMNS} FROM audit_log${where} ORDER BY seq ${order} LIMIT ? OFFSET ?`,
      );
      const rows = statement.all(
        ...args,
        query.limit ?? DEFAULT_AUDIT_LIMIT,
        query.offset ?? 0,
      ) as AuditRow[];
      return rows.map(auditFromRow);
    });
  }

  async countAudit(query: Omit<AuditQuery, 'limit' | 'offset' | 'order'>): Promise<number> {
    return this.run('count audit entries', () => {
      const { where, args } = auditFilter(query);
      const row = this.cached(`SELECT COUNT(*) AS n FROM audit_log${where}`).get(...args) as { n: number };
      return row.n;
    });
  }

  async wipeDomain(): Promise<void> {
    this.run('wipe the key domain', () => this.sql.wipeDomain.immediate());
  }

  // Operators, licences, service whitelist, keys and bindings: see sqlite-management-store.ts.
  listOperators(query: { limit?: number; offset?: number }): Promise<OperatorRecord[]> {
    return this.management.listOperators(query);
  }
  countOperators(): Promise<number> {
    return this.management.countOperators();
  }
  getOperator(name: string): Promise<OperatorRecord | null> {
    return this.management.getOperator(name);
  }
  insertOperator(record: OperatorRecord): Promise<void> {
    return this.management.insertOperator(record);
  }
  deleteOperator(name: string): Promise<boolean> {
    return this.management.deleteOperator(name);
  }
  listLicences(operator: string): Promise<LicenceRecord[]> {
    return this.management.listLicences(operator);
  }
  getLicence(serial: string): Promise<LicenceRecord | null> {
    return this.management.getLicence(serial);
  }
  putLicence(record: LicenceRecord): Promise<void> {
    return this.management.putLicence(record);
  }
  listServiceWhitelist(query?: { ip?: string; operator?: string }): Promise<ServiceWhitelistRecord[]> {
    return this.management.listServiceWhitelist(query);
  }
  addServiceWhitelist(record: ServiceWhitelistRecord): Promise<void> {
    return this.management.addServiceWhitelist(record);
  }
  deleteServiceWhitelist(ip: string, operator?: string): Promise<number> {
    return this.management.deleteServiceWhitelist(ip, operator);
  }
  deleteServiceWhitelistForOperator(operator: string): Promise<number> {
    return this.management.deleteServiceWhitelistForOperator(operator);
  }
  nextKeyIndex(): Promise<number> {
    return this.management.nextKeyIndex();
  }
  getKey(index: number): Promise<KeyRecord | null> {
    return this.management.getKey(index);
  }
  insertKey(record: KeyRecord): Promise<void> {
    return this.management.insertKey(record);
  }
  updateKey(record: KeyRecord): Promise<void> {
    return this.management.updateKey(record);
  }
  deleteKey(index: number): Promise<boolean> {
    return this.management.deleteKey(index);
  }
  listKeys(query: KeyQuery): Promise<KeyRecord[]> {
    return this.management.listKeys(query);
  }
  countKeys(query: Omit<KeyQuery, 'limit' | 'offset' | 'order'>): Promise<number> {
    return this.management.countKeys(query);
  }
  listExpiredKeys(now: string): Promise<KeyRecord[]> {
    return this.management.listExpiredKeys(now);
  }
  listBindings(query: { keyIndex?: number; operator?: string }): Promise<KeyBindingRecord[]> {
    return this.management.listBindings(query);
  }
  addBinding(record: KeyBindingRecord): Promise<void> {
    return this.management.addBinding(record);
  }
  deleteBinding(keyIndex: number, operator: string): Promise<boolean> {
    return this.management.deleteBinding(keyIndex, operator);
  }
  deleteBindingsForKey(keyIndex: number): Promise<number> {
    return this.management.deleteBindingsForKey(keyIndex);
  }
  deleteBindingsForOperator(operator: string): Promise<number> {
    return this.management.deleteBindingsForOperator(operator);
  }
}

/** Serialises async critical sections: each runs after the previous one has settled. */
class AsyncMutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** Marks the async context of a running transaction, to catch calls that would wait on themselves. */
interface TransactionScope {
  active: boolean;
}

class SqliteStoreImpl implements SqliteStore {
  readonly kind = 'sqlite';
  private readonly mutex = new AsyncMutex();
  private readonly scopes = new AsyncLocalStorage<TransactionScope>();
  private readonly sql: Statements;
  private readonly dynamic = new Map<string, Database.Statement>();
  private readonly ops: SqliteOperations;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
    readonly readonly: boolean,
  ) {
    try {
      this.sql = prepareStatements(db);
    } catch (error) {
      throw toStoreError('prepare its statements', error, []);
    }
    this.ops = new SqliteOperations(db, this.sql, this.dynamic, () => this.assertOpen());
  }

  private assertOpen(): void {
    if (this.closed) throw new CofferError('ERR_STORE', 'The store is closed.');
  }

  /**
   * Runs `fn` when no other call holds the store. A call made from inside one of this store's own
   * transactions would wait for that transaction forever, so it is refused at once instead.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.scopes.getStore()?.active === true) {
      return Promise.reject(
        new CofferError(
          'ERR_INTERNAL',
          'The store was called directly inside one of its own transactions; use the transaction object.',
        ),
      );
    }
    return this.mutex.run(fn);
  }

  /**
   * Runs `fn` with the store to itself: BEGIN IMMEDIATE, then COMMIT when `fn` resolves, or
   * ROLLBACK when it throws (its error is rethrown unchanged). `fn` must use the `tx` it is given;
   * calling the store itself from inside `fn` is refused with ERR_INTERNAL.
   *
   * @throws CofferError `ERR_STORE` when the store is closed or the database cannot begin or commit.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.assertOpen();
      const scope: TransactionScope = { active: true };
      const tx = new SqliteOperations(this.db, this.sql, this.dynamic, () => {
        this.assertOpen();
        if (!scope.active) throw new CofferError('ERR_STORE', 'This transaction has already ended.');
      });
      try {
        // A read-only connection cannot take the write lock that IMMEDIATE asks for.
        this.db.exec(this.readonly ? 'BEGIN' : 'BEGIN IMMEDIATE');
      } catch (error) {
        throw toStoreError('begin a transaction', error, []);
      }
      try {
        const result = await this.scopes.run(scope, () => fn(tx));
        scope.active = false;
        if (!this.db.inTransaction) {
          throw new CofferError(
            'ERR_STORE',
            'The database abandoned the transaction after an earlier failure, so nothing was written.',
          );
        }
        try {
          this.db.exec('COMMIT');
        } catch (error) {
          throw toStoreError('commit a transaction', error, []);
        }
        return result;
      } catch (error) {
        scope.active = false;
        if (this.db.inTransaction) {
          try {
            this.db.exec('ROLLBACK');
          } catch {
            // The error that made us roll back is the one worth reporting.
          }
        }
        throw error;
      }
    });
  }

  /** @throws CofferError `ERR_STORE` when the store is closed or cannot be read. */
  schemaVersion(): Promise<{ current: number; expected: number }> {
    return this.exclusive(async () => {
      this.assertOpen();
      try {
        const state = readSqliteSchemaState(this.db);
        return { current: state.kind === 'coffer' ? state.version : 0, expected: SQLITE_SCHEMA_VERSION };
      } catch (error) {
        throw toStoreError('read its schema version', error, []);
      }
    });
  }

  /**
   * Moves everything into the main file and truncates the write-ahead log, rebuilds the file without
   * its free pages (VACUUM), and truncates the log again: with `secure_delete` on, no deleted row
   * survives in the database, -wal or -shm files. What the file system itself keeps of old blocks
   * is beyond the reach of any database.
   *
   * @throws CofferError `ERR_STORE` when the store is closed or read-only, or when another connection
   *   (another process reading the file) keeps the log from being truncated.
   */
  compact(): Promise<void> {
    return this.exclusive(async () => {
      this.assertOpen();
      if (this.readonly) throw new CofferError('ERR_STORE', 'A read-only store cannot be compacted.');
      try {
        this.checkpoint();
        this.db.exec('VACUUM');
        this.checkpoint();
      } catch (error) {
        throw toStoreError('compact its file', error, []);
      }
      await restrictFileModes(this.path);
    });
  }

  private checkpoint(): void {
    const row = this.db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
    if (row.busy !== 0) {
      throw new CofferError(
        'ERR_STORE',
        'The store could not be compacted because another connection is using the file.',
      );
    }
  }

  /** Waits for calls in progress, then closes the connection. Closing twice is harmless. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      if (this.closed) return;
      this.closed = true;
      this.db.close();
    });
  }

  getMeta(key: string): Promise<string | null> {
    return this.exclusive(() => this.ops.getMeta(key));
  }
  setMeta(key: string, value: string): Promise<void> {
    return this.exclusive(() => this.ops.setMeta(key, value));
  }
  getDomain(): Promise<DomainRecord | null> {
    return this.exclusive(() => this.ops.getDomain());
  }
  putDomain(record: DomainRecord): Promise<void> {
    return this.exclusive(() => this.ops.putDomain(record));
  }
  listCards(): Promise<CardRecord[]> {
    return this.exclusive(() => this.ops.listCards());
  }
  getCard(cardId: string): Promise<CardRecord | null> {
    return this.exclusive(() => this.ops.getCard(cardId));
  }
  putCard(record: CardRecord): Promise<void> {
    return this.exclusive(() => this.ops.putCard(record));
  }
  setCardAttempts(cardId: string, failedAttempts: number, blocked: boolean): Promise<void> {
    return this.exclusive(() => this.ops.setCardAttempts(cardId, failedAttempts, blocked));
  }
  listShares(): Promise<ShareRecord[]> {
    return this.exclusive(() => this.ops.listShares());
  }
  putShare(record: ShareRecord): Promise<void> {
    return this.exclusive(() => this.ops.putShare(record));
  }
  listMkPartPins(): Promise<MkPartPinRecord[]> {
    return this.exclusive(() => this.ops.listMkPartPins());
  }
  putMkPartPin(record: MkPartPinRecord): Promise<void> {
    return this.exclusive(() => this.ops.putMkPartPin(record));
  }
  listToolWhitelist(): Promise<ToolWhitelistRecord[]> {
    return this.exclusive(() => this.ops.listToolWhitelist());
  }
  addToolWhitelist(record: ToolWhitelistRecord): Promise<void> {
    return this.exclusive(() => this.ops.addToolWhitelist(record));
  }
  deleteToolWhitelist(ips: string[]): Promise<number> {
    return this.exclusive(() => this.ops.deleteToolWhitelist(ips));
  }
  getSetting(key: SettingKey): Promise<string | null> {
    return this.exclusive(() => this.ops.getSetting(key));
  }
  putSetting(key: SettingKey, value: string): Promise<void> {
    return this.exclusive(() => this.ops.putSetting(key, value));
  }
  auditHead(): Promise<{ seq: number; digest: string } | null> {
    return this.exclusive(() => this.ops.auditHead());
  }
  insertAudit(entry: AuditEntry): Promise<void> {
    // Outside a transaction the head check and the insert still run as one unit, under the mutex and
    // behind the insert trigger.
    return this.exclusive(() => this.ops.insertAudit(entry));
  }
  listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.exclusive(() => this.ops.listAudit(query));
  }
  countAudit(query: Omit<AuditQuery, 'limit' | 'offset' | 'order'>): Promise<number> {
    return this.exclusive(() => this.ops.countAudit(query));
  }
  wipeDomain(): Promise<void> {
    return this.exclusive(() => this.ops.wipeDomain());
  }
  listOperators(query: { limit?: number; offset?: number }): Promise<OperatorRecord[]> {
    return this.exclusive(() => this.ops.listOperators(query));
  }
  countOperators(): Promise<number> {
    return this.exclusive(() => this.ops.countOperators());
  }
  getOperator(name: string): Promise<OperatorRecord | null> {
    return this.exclusive(() => this.ops.getOperator(name));
  }
  insertOperator(record: OperatorRecord): Promise<void> {
    return this.exclusive(() => this.ops.insertOperator(record));
  }
  deleteOperator(name: string): Promise<boolean> {
    return this.exclusive(() => this.ops.deleteOperator(name));
  }
  listLicences(operator: string): Promise<LicenceRecord[]> {
    return this.exclusive(() => this.ops.listLicences(operator));
  }
  getLicence(serial: string): Promise<LicenceRecord | null> {
    return this.exclusive(() => this.ops.getLicence(serial));
  }
  putLicence(record: LicenceRecord): Promise<void> {
    return this.exclusive(() => this.ops.putLicence(record));
  }
  listServiceWhitelist(query?: { ip?: string; operator?: string }): Promise<ServiceWhitelistRecord[]> {
    return this.exclusive(() => this.ops.listServiceWhitelist(query));
  }
  addServiceWhitelist(record: ServiceWhitelistRecord): Promise<void> {
    return this.exclusive(() => this.ops.addServiceWhitelist(record));
  }
  deleteServiceWhitelist(ip: string, operator?: string): Promise<number> {
    return this.exclusive(() => this.ops.deleteServiceWhitelist(ip, operator));
  }
  deleteServiceWhitelistForOperator(operator: string): Promise<number> {
    return this.exclusive(() => this.ops.deleteServiceWhitelistForOperator(operator));
  }
  nextKeyIndex(): Promise<number> {
    return this.exclusive(() => this.ops.nextKeyIndex());
  }
  getKey(index: number): Promise<KeyRecord | null> {
    return this.exclusive(() => this.ops.getKey(index));
  }
  insertKey(record: KeyRecord): Promise<void> {
    return this.exclusive(() => this.ops.insertKey(record));
  }
  updateKey(record: KeyRecord): Promise<void> {
    return this.exclusive(() => this.ops.updateKey(record));
  }
  deleteKey(index: number): Promise<boolean> {
    return this.exclusive(() => this.ops.deleteKey(index));
  }
  listKeys(query: KeyQuery): Promise<KeyRecord[]> {
    return this.exclusive(() => this.ops.listKeys(query));
  }
  countKeys(query: Omit<KeyQuery, 'limit' | 'offset' | 'order'>): Promise<number> {
    return this.exclusive(() => this.ops.countKeys(query));
  }
  listExpiredKeys(now: string): Promise<KeyRecord[]> {
    return this.exclusive(() => this.ops.listExpiredKeys(now));
  }
  listBindings(query: { keyIndex?: number; operator?: string }): Promise<KeyBindingRecord[]> {
    return this.exclusive(() => this.ops.listBindings(query));
  }
  addBinding(record: KeyBindingRecord): Promise<void> {
    return this.exclusive(() => this.ops.addBinding(record));
  }
  deleteBinding(keyIndex: number, operator: string): Promise<boolean> {
    return this.exclusive(() => this.ops.deleteBinding(keyIndex, operator));
  }
  deleteBindingsForKey(keyIndex: number): Promise<number> {
    return this.exclusive(() => this.ops.deleteBindingsForKey(keyIndex));
  }
  deleteBindingsForOperator(operator: string): Promise<number> {
    return this.exclusive(() => this.ops.deleteBindingsForOperator(operator));
  }
}
