import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { AuditDraft, CardRecord } from '@coffer/core';
import { AuditLog, CofferError } from '@coffer/core';
import Database from 'better-sqlite3';
import { migrateSqlite, SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './sqlite-migrations.js';
import { openSqliteStore } from './sqlite-store.js';
import { runStoreContract } from './store-contract.js';

let root: string;
let counter = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-sqlite-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A new directory under the suite's temp dir, with the path of a store file in it. */
async function freshPath(): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(root, `t${counter++}-`));
  return { dir, path: join(dir, 'coffer.sqlite') };
}

function isCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof CofferError && error.code === code;
}

async function fileOrEmpty(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

const draft: AuditDraft = {
  source: 'device',
  account: '-',
  clientIp: '-',
  businessType: 'boot',
  result: 'success',
  content: 'self-test passed',
};

function card(overrides: Partial<CardRecord> = {}): CardRecord {
  return {
    cardId: 'card-a1',
    slot: 'A1',
    role: 'device-manager',
    account: 'adminA1',
    publicKey: Buffer.from('public key'),
    status: 'active',
    factor: null,
    createdAt: '2025-06-01T08:00:00.000Z',
    replacedAt: null,
    failedAttempts: 0,
    blocked: false,
    mac: 'a'.repeat(64),
    ...overrides,
  };
}

runStoreContract('sqlite', async () => {
  const { dir, path } = await freshPath();
  const store = await openSqliteStore(path);
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite store files', () => {
  it('creates the database, -wal and -shm files with mode 0600', async () => {
    const { path } = await freshPath();
    const store = await openSqliteStore(path);
    await store.setMeta('deviceId', 'coffer-01');
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      assert.equal((await stat(file)).mode & 0o777, 0o600, file);
    }
    await store.close();
  });

  it('tightens an existing store file to mode 0600 when opening it', async () => {
    const { path } = await freshPath();
    await (await openSqliteStore(path)).close();
    await chmod(path, 0o644);
    const store = await openSqliteStore(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await store.close();
  });

  it('keeps its data after close and reopen, with the audit chain intact', async () => {
    const { path } = await freshPath();
    const first = await openSqliteStore(path);
    await first.setMeta('deviceId', 'coffer-01');
    await first.putShare({ slot: 'A1', sealed: Buffer.from([0, 1, 2, 255]) });
    const log = new AuditLog(first, () => new Date('2025-06-01T08:00:00.000Z'));
    await log.append(draft);
    await log.append({ ...draft, content: 'second' });
    await first.close();

    const second = await openSqliteStore(path);
    assert.equal(await second.getMeta('deviceId'), 'coffer-01');
    assert.deepEqual(await second.listShares(), [{ slot: 'A1', sealed: Buffer.from([0, 1, 2, 255]) }]);
    const verified = await new AuditLog(second, () => new Date()).verify();
    assert.equal(verified.ok && verified.count, 2);
    assert.deepEqual(await second.schemaVersion(), {
      current: SQLITE_SCHEMA_VERSION,
      expected: SQLITE_SCHEMA_VERSION,
    });
    await second.close();
  });

  it('compact after wipeDomain leaves no byte of a wiped share or card in the .sqlite, -wal or -shm files', async () => {
    const { path } = await freshPath();
    const store = await openSqliteStore(path);
    const pattern = Buffer.from(`SHARE-PATTERN-${createHash('sha256').update(path).digest('hex')}`);
    const keyPattern = Buffer.from('CARD-KEY-PATTERN-5f3a9c1e7b2d');
    await store.setMeta('deviceId', 'coffer-01');
    await store.putShare({ slot: 'A1', sealed: Buffer.concat([pattern, pattern]) });
    await store.putCard(card({ publicKey: keyPattern }));
    await new AuditLog(store, () => new Date()).append(draft);

    const files = [path, `${path}-wal`, `${path}-shm`];
    const contents = async () => Buffer.concat(await Promise.all(files.map(fileOrEmpty)));
    // The search itself works: before the wipe both patterns are on disk.
    assert.notEqual((await contents()).indexOf(pattern), -1);
    assert.notEqual((await contents()).indexOf(keyPattern), -1);

    await store.wipeDomain();
    await store.compact();
    const after = await contents();
    assert.equal(after.indexOf(pattern), -1);
    assert.equal(after.indexOf(keyPattern), -1);
    // What the wipe keeps is still there.
    assert.equal(await store.getMeta('deviceId'), 'coffer-01');
    assert.equal(await store.countAudit({}), 1);
    await store.close();
    const closed = Buffer.concat(await Promise.all(files.map(fileOrEmpty)));
    assert.equal(closed.indexOf(pattern), -1);
  });

  it('refuses a file of random bytes with ERR_STORE and leaves it as it was', async () => {
    const { path } = await freshPath();
    const garbage = Buffer.alloc(8192, 'not a database, just garbage. ');
    await writeFile(path, garbage);
    await assert.rejects(openSqliteStore(path), (error) => {
      assert.ok(error instanceof CofferError);
      assert.equal(error.code, 'ERR_STORE');
      assert.match(error.message, /not a SQLite database/);
      return true;
    });
    assert.deepEqual(await readFile(path), garbage);
  });

  it('refuses another program’s SQLite database with ERR_STORE and does not write to it', async () => {
    const { path } = await freshPath();
    const other = new Database(path);
    other.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)');
    other.close();
    const before = await sha256(path);
    await assert.rejects(openSqliteStore(path), isCode('ERR_STORE'));
    assert.equal(await sha256(path), before);
  });

  it('refuses a store from a newer schema with ERR_STORE_SCHEMA and leaves the file untouched', async () => {
    const { path } = await freshPath();
    await (await openSqliteStore(path)).close();
    const raw = new Database(path);
    raw
      .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
      .run(SQLITE_SCHEMA_VERSION + 1, 'from the future', '2030-01-01T00:00:00.000Z');
    raw.close();
    const before = await sha256(path);
    await assert.rejects(openSqliteStore(path), (error) => {
      assert.ok(error instanceof CofferError);
      assert.equal(error.code, 'ERR_STORE_SCHEMA');
      assert.equal(error.details['current'], SQLITE_SCHEMA_VERSION + 1);
      return true;
    });
    assert.equal(await sha256(path), before);
  });

  it('refuses a path in a missing directory with ERR_STORE', async () => {
    await assert.rejects(openSqliteStore(join(root, 'missing', 'dir', 'coffer.sqlite')), isCode('ERR_STORE'));
  });

  it('opens read-only: reads work, writes are refused with ERR_STORE, and a missing file is ERR_STORE', async () => {
    const { path } = await freshPath();
    const writer = await openSqliteStore(path);
    await writer.setMeta('deviceId', 'coffer-01');
    await writer.close();

    const reader = await openSqliteStore(path, { readonly: true });
    assert.equal(await reader.getMeta('deviceId'), 'coffer-01');
    assert.equal(await reader.transaction((tx) => tx.getMeta('deviceId')), 'coffer-01');
    await assert.rejects(reader.setMeta('deviceId', 'changed'), isCode('ERR_STORE'));
    await assert.rejects(reader.compact(), isCode('ERR_STORE'));
    await reader.close();

    const { path: missing } = await freshPath();
    await assert.rejects(openSqliteStore(missing, { readonly: true }), isCode('ERR_STORE'));
  });
});

describe('SQLite store behaviour', () => {
  it('refuses UPDATE and DELETE of audit rows in SQL, whoever connects to the file', async () => {
    const { path } = await freshPath();
    const store = await openSqliteStore(path);
    await new AuditLog(store, () => new Date()).append(draft);
    const raw = new Database(path);
    assert.throws(() => raw.prepare("UPDATE audit_log SET content = 'edited'").run(), /append-only/);
    assert.throws(() => raw.prepare('DELETE FROM audit_log').run(), /append-only/);
    assert.throws(
      () =>
        raw
          .prepare(
            `INSERT INTO audit_log (seq, time, source, account, client_ip, business_type, result, content,
               details, prev_digest, digest) VALUES (5, 't', 'panel', '-', '-', 'x', 'success', '', '', '', '')`,
          )
          .run(),
      /next sequence number/,
    );
    raw.close();
    assert.equal(await store.countAudit({}), 1);
    await store.close();
  });

  it('refuses a direct call on the store from inside its own transaction with ERR_INTERNAL instead of hanging', async () => {
    const { path } = await freshPath();
    const store = await openSqliteStore(path);
    await store.transaction(async () => {
      await assert.rejects(store.getMeta('x'), isCode('ERR_INTERNAL'));
      await assert.rejects(
        store.transaction(async () => 1),
        isCode('ERR_INTERNAL'),
      );
    });
    // After the transaction the same async context may use the store again.
    await store.setMeta('x', 'y');
    assert.equal(await store.getMeta('x'), 'y');
    await store.close();
  });

  it('reports a driver failure as ERR_STORE without the values of the row', async () => {
    const { path } = await freshPath();
    const store = await openSqliteStore(path);
    const bad = card({ role: 'role-with-SECRET-VALUE' as CardRecord['role'] });
    await assert.rejects(store.putCard(bad), (error) => {
      assert.ok(error instanceof CofferError);
      assert.equal(error.code, 'ERR_STORE');
      assert.doesNotMatch(JSON.stringify(error), /SECRET/);
      assert.doesNotMatch(String(error.stack), /SECRET/);
      assert.equal(error.cause, undefined);
      return true;
    });
    await store.close();
  });

  it('refuses calls after close with ERR_STORE, and closing twice is harmless', async () => {
    const { path } = await freshPath();
    const store = await openSqliteStore(path);
    const pending = store.setMeta('k', 'v');
    await store.close();
    await pending;
    await store.close();
    await assert.rejects(store.getMeta('k'), isCode('ERR_STORE'));
    await assert.rejects(
      store.transaction(async () => 1),
      isCode('ERR_STORE'),
    );
  });

  it('refuses audit queries with a negative or fractional limit, offset or afterSeq with ERR_BAD_REQUEST', async () => {
    const { path } = await freshPath();
    const store = await openSqliteStore(path);
    for (const query of [{ limit: -1 }, { offset: 1.5 }, { afterSeq: -2 }]) {
      await assert.rejects(store.listAudit(query), isCode('ERR_BAD_REQUEST'));
    }
    await store.close();
  });

  it('keeps every acknowledged audit entry when the process is killed with SIGKILL mid-stream', async () => {
    const { dir, path } = await freshPath();
    const script = join(dir, 'writer.mjs');
    await writeFile(
      script,
      `import { openSqliteStore } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'sqlite-store.js')).href)};
       import { AuditLog } from ${JSON.stringify(import.meta.resolve('@coffer/core'))};
       const store = await openSqliteStore(${JSON.stringify(path)});
       const log = new AuditLog(store, () => new Date());
       for (;;) {
         const entry = await log.append({ source: 'device', account: '-', clientIp: '-', businessType: 'boot', result: 'success', content: 'tick' });
         process.stdout.write(entry.seq + '\\n');
       }`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acknowledged = 0;
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', () => resolve());
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) acknowledged = Math.max(acknowledged, Number(line));
        if (acknowledged >= 40 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
    });
    assert.ok(acknowledged >= 40);
    await sleep(10);
    const store = await openSqliteStore(path);
    const verified = await new AuditLog(store, () => new Date()).verify();
    assert.ok(verified.ok, 'the chain verifies after the crash');
    assert.ok(verified.count >= acknowledged, `${verified.count} entries kept, ${acknowledged} acknowledged`);
    await store.close();
  });
});

describe('SQLite migrations', () => {
  it('are numbered 1, 2, 3… and the last is the version this build expects', () => {
    assert.deepEqual(
      SQLITE_MIGRATIONS.map((migration) => migration.version),
      Array.from({ length: SQLITE_MIGRATIONS.length }, (_, i) => i + 1),
    );
    assert.equal(SQLITE_SCHEMA_VERSION, SQLITE_MIGRATIONS.at(-1)?.version);
  });

  it('apply only the migrations above the current version, and record each', async () => {
    const { path } = await freshPath();
    await (await openSqliteStore(path)).close();
    const raw = new Database(path);
    const next = [
      ...SQLITE_MIGRATIONS,
      {
        version: SQLITE_SCHEMA_VERSION + 1,
        name: 'add notes',
        up: 'CREATE TABLE notes (id INTEGER PRIMARY KEY) STRICT;',
      },
    ];
    assert.equal(migrateSqlite(raw, next), SQLITE_SCHEMA_VERSION + 1);
    assert.equal(migrateSqlite(raw, next), SQLITE_SCHEMA_VERSION + 1);
    const recorded = raw.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(recorded.at(-1), { version: SQLITE_SCHEMA_VERSION + 1, name: 'add notes' });
    assert.equal(recorded.length, SQLITE_SCHEMA_VERSION + 1);
    raw.close();
  });

  it('roll back entirely when one migration fails', async () => {
    const { path } = await freshPath();
    const raw = new Database(path);
    const broken = [
      { version: 1, name: 'good', up: 'CREATE TABLE a (id INTEGER PRIMARY KEY);' },
      { version: 2, name: 'bad', up: 'CREATE TABLE b (id INTEGER PRIMARY KEY); THIS IS NOT SQL;' },
    ];
    assert.throws(() => migrateSqlite(raw, broken));
    assert.deepEqual(raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all(), []);
    raw.close();
  });

  it('refuse a list that is not numbered 1, 2, 3…', async () => {
    const raw = new Database(':memory:');
    assert.throws(() => migrateSqlite(raw, [{ version: 2, name: 'skips one', up: '' }]));
    raw.close();
  });
});
