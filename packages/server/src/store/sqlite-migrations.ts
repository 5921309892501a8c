/**
 * The SQLite schema as an ordered list of migrations. A migration, once released, is never edited:
 * a change to the schema is a new entry at the end, so that every existing device file can be brought
 * to the current version and a file from a newer build is recognised and left alone.
 */
import type Database from 'better-sqlite3';

export interface SqliteMigration {
  /** 1, 2, 3… in order, with no gaps. */
  readonly version: number;
  readonly name: string;
  /** SQL run as one script inside the migration transaction. */
  readonly up: string;
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    // STRICT tables, so a Buffer stays a BLOB and text stays TEXT whatever a caller binds.
    up: `
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE domain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        initialised_at TEXT NOT NULL,
        kcv TEXT NOT NULL,
        ca_cert_pem TEXT NOT NULL,
        ca_key_sealed BLOB NOT NULL,
        mac TEXT NOT NULL
      ) STRICT;

      CREATE TABLE cards (
        card_id TEXT PRIMARY KEY,
        slot TEXT NOT NULL,
        role TEXT NOT NULL
          CHECK (role IN ('device-manager', 'system-manager', 'safe-manager', 'audit-manager')),
        account TEXT NOT NULL,
        public_key BLOB NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'replaced')),
        factor TEXT,
        created_at TEXT NOT NULL,
        replaced_at TEXT,
        failed_attempts INTEGER NOT NULL CHECK (failed_attempts >= 0),
        blocked INTEGER NOT NULL CHECK (blocked IN (0, 1)),
        mac TEXT NOT NULL
      ) STRICT;
      CREATE INDEX cards_slot ON cards (slot);

      CREATE TABLE shares (
        slot TEXT PRIMARY KEY,
        sealed BLOB NOT NULL
      ) STRICT;

      CREATE TABLE mk_part_pins (
        slot TEXT PRIMARY KEY,
        verifier TEXT NOT NULL
      ) STRICT;

      CREATE TABLE tool_whitelist (
        ip TEXT PRIMARY KEY,
        added_at TEXT NOT NULL,
        added_by TEXT NOT NULL,
        mac TEXT NOT NULL
      ) STRICT;

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        time TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('panel', 'management', 'integrated', 'device')),
        account TEXT NOT NULL,
        client_ip TEXT NOT NULL,
        business_type TEXT NOT NULL,
        result TEXT NOT NULL CHECK (result IN ('success', 'failure')),
        content TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_digest TEXT NOT NULL,
        digest TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_log_time ON audit_log (time);

      -- The log is append-only in the database too, so that no code path (nor a slip in a later
      -- migration) can rewrite history: only an insert of head + 1 is accepted.
      CREATE TRIGGER audit_log_append_only_sequence BEFORE INSERT ON audit_log
        WHEN NEW.seq <> COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1
        BEGIN SELECT RAISE(ABORT, 'audit_log accepts only the next sequence number'); END;
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    `,
  },
  {
    version: 2,
    name: 'operators, licences, service whitelist, keys and bindings',
    // Foreign keys without cascades: the port leaves removing an operator's pairs and bindings to the
    // caller, so a caller that forgets is refused (ERR_CONFLICT) instead of silently tidied up after.
    // Licences name their operator without a foreign key: a deleted operator's licences stay, revoked,
    // so that the service can still tell a revoked certificate from an unknown one.
    up: `
      CREATE TABLE operators (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        creator TEXT NOT NULL,
        created_at TEXT NOT NULL,
        mac TEXT NOT NULL
      ) STRICT;

      CREATE TABLE licences (
        serial TEXT PRIMARY KEY,
        operator TEXT NOT NULL,
        cert_fingerprint TEXT NOT NULL UNIQUE,
        max_connections INTEGER NOT NULL CHECK (max_connections >= 1),
        issued_at TEXT NOT NULL,
        issued_by TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('current', 'superseded', 'revoked')),
        mac TEXT NOT NULL
      ) STRICT;
      CREATE INDEX licences_operator ON licences (operator, issued_at);

      CREATE TABLE service_whitelist (
        ip TEXT NOT NULL,
        operator TEXT NOT NULL REFERENCES operators (name),
        added_at TEXT NOT NULL,
        added_by TEXT NOT NULL,
        mac TEXT NOT NULL,
        PRIMARY KEY (ip, operator)
      ) STRICT;
      CREATE INDEX service_whitelist_operator ON service_whitelist (operator);

      CREATE TABLE keys (
        key_index INTEGER PRIMARY KEY CHECK (key_index >= 1),
        type TEXT NOT NULL,
        key_class TEXT NOT NULL CHECK (key_class IN ('symmetric', 'asymmetric')),
        creator TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('normal', 'discard', 'invalid')),
        invalid_reason TEXT CHECK (invalid_reason IN ('expired', 'manual')),
        validity_days INTEGER NOT NULL,
        description TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        usage TEXT NOT NULL CHECK (json_valid(usage) AND json_type(usage) = 'array'),
        check_value TEXT,
        public_key TEXT,
        sealed BLOB NOT NULL,
        version INTEGER NOT NULL,
        mac TEXT NOT NULL
      ) STRICT;
      CREATE INDEX keys_created_at ON keys (created_at);
      CREATE INDEX keys_expiry ON keys (status, expires_at);

      CREATE TABLE key_bindings (
        key_index INTEGER NOT NULL REFERENCES keys (key_index),
        operator TEXT NOT NULL REFERENCES operators (name),
        bound_at TEXT NOT NULL,
        bound_by TEXT NOT NULL,
        mac TEXT NOT NULL,
        PRIMARY KEY (key_index, operator)
      ) STRICT;
      CREATE INDEX key_bindings_operator ON key_bindings (operator);
    `,
  },
];

/** The schema version this build writes and expects. */
export const SQLITE_SCHEMA_VERSION: number = SQLITE_MIGRATIONS.at(-1)?.version ?? 0;

/** The table that records which migrations a database has had. */
const MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT;
`;

/**
 * What a database holds: `empty` (a new file), `coffer` at a schema version, or `foreign` (tables
 * but no migration record: some other program's database, which must not be written to).
 */
export type SqliteSchemaState = { kind: 'empty' } | { kind: 'coffer'; version: number } | { kind: 'foreign' };

/** Reads the schema state without writing anything. Driver errors propagate to the caller. */
export function readSqliteSchemaState(db: Database.Database): SqliteSchemaState {
  const hasTable = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get();
  if (hasTable === undefined) {
    const objects = db.prepare('SELECT COUNT(*) AS n FROM sqlite_master').get() as { n: number };
    return objects.n === 0 ? { kind: 'empty' } : { kind: 'foreign' };
  }
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as {
    version: number | null;
  };
  return { kind: 'coffer', version: row.version ?? 0 };
}

/**
 * Applies every migration above the database's version, all in one transaction: a failure leaves
 * the database exactly as it was. The caller has already refused foreign and newer databases.
 * Returns the version reached. Driver errors propagate to the caller.
 */
export function migrateSqlite(
  db: Database.Database,
  migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS,
  now: () => Date = () => new Date(),
): number {
  assertOrdered(migrations);
  const target = migrations.at(-1)?.version ?? 0;
  // IMMEDIATE takes the write lock before reading the version, so two processes opening the same new
  // file cannot both apply the same migration.
  const run = db.transaction((): number => {
    db.exec(MIGRATIONS_TABLE);
    const state = readSqliteSchemaState(db);
    const current = state.kind === 'coffer' ? state.version : 0;
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.up);
      record.run(migration.version, migration.name, now().toISOString());
    }
    return Math.max(current, target);
  });
  return run.immediate();
}

function assertOrdered(migrations: readonly SqliteMigration[]): void {
  for (const [index, migration] of migrations.entries()) {
    if (migration.version !== index + 1) {
      // A programming error in this file, not a condition of the database.
      throw new Error(
        `SQLite migration at index ${index} has version ${migration.version}, not ${index + 1}.`,
      );
    }
  }
}
