import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DevJson } from '@coffer/cli';
import { runCli, spawnCli, stopChild, tempDir } from './support.js';

describe('coffer admin against a coffer dev device', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dev: Awaited<ReturnType<typeof spawnCli>>;
  let data: string;
  let json: DevJson & { ca: string | null };
  let auditArgs: string[];

  before(async () => {
    tmp = await tempDir();
    data = join(tmp.dir, 'dev');
    dev = await spawnCli(
      ['dev', '--data', data, '--panel-port', '0', '--management-port', '0', '--service-port', '0'],
      /dev\.json:\s+(\S+)/,
    );
    json = JSON.parse(readFileSync(join(data, 'dev.json'), 'utf8'));
    const d1 = json.cards.find((c) => c.slot === 'D1')!;
    const pinFile = join(tmp.dir, 'd1.pin');
    writeFileSync(pinFile, `${d1.pin}\n`, { mode: 0o600 });
    auditArgs = [
      'admin',
      '--url',
      json.management!,
      '--ca',
      json.ca!,
      '--card',
      d1.file,
      '--pin-file',
      pinFile,
    ];
  });
  after(async () => {
    if (dev) await stopChild(dev.child);
    await tmp?.cleanup();
  });

  const ok = async (...args: string[]) => {
    const r = await runCli(args);
    assert.equal(r.code, 0, `coffer ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  it('dev.json names the real bound management URL and the CA file the CLI pins', () => {
    assert.match(json.management ?? '', /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.notEqual(new URL(json.management!).port, '0');
    assert.match(readFileSync(json.ca!, 'utf8'), /BEGIN CERTIFICATE/);
  });

  it('whoami with --url, --ca, --card and --pin-file logs in as the Audit Manager', async () => {
    const r = await ok('--json', ...auditArgs, 'whoami');
    const who = JSON.parse(r.stdout);
    assert.equal(who.account, 'adminD1');
    assert.equal(who.role, 'audit-manager');
  });

  it('logs manager prints the manual’s table with the paging line and the chain status', async () => {
    const r = await ok(...auditArgs, 'logs', 'manager', '--size', '5');
    assert.match(r.stdout, /^seq\s+source\s+account\s+clientIp\s+businessType\s+result\s+time\s+content/m);
    assert.match(r.stdout, /From 1 To 5 Total \d+ rows/);
    assert.match(r.stdout, /audit chain: verified/);
  });

  it('logs operator --json gives the page for scripts', async () => {
    const r = await ok('--json', ...auditArgs, 'logs', 'operator');
    const page = JSON.parse(r.stdout);
    assert.equal(page.log, 'operator');
    assert.ok(Array.isArray(page.entries));
  });

  it('logs export writes a CSV and a JSON file; logs verify reports the chain', async () => {
    const csv = join(tmp.dir, 'log.csv');
    await ok(...auditArgs, 'logs', 'export', '--format', 'csv', '--out', csv);
    assert.match(readFileSync(csv, 'utf8'), /^seq,source,account,.*,prevDigest,digest\r\n/);
    const out = join(tmp.dir, 'log.json');
    await ok(...auditArgs, 'logs', 'export', '--format', 'json', '--seq', '1', '--seq', '2', '--out', out);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(
      doc.entries.map((e: { seq: number }) => e.seq),
      [1, 2],
    );
    const v = await ok(...auditArgs, 'logs', 'verify');
    assert.match(v.stdout, /audit chain: verified/);
  });

  it('log-settings set and get; running-logs list and get; network; device-info', async () => {
    await ok(
      ...auditArgs,
      'log-settings',
      'set',
      '--level',
      'warn',
      '--retention-days',
      '60',
      '--size-mb',
      '20',
    );
    const got = JSON.parse((await ok('--json', ...auditArgs, 'log-settings', 'get')).stdout);
    assert.deepEqual(got, { level: 'warn', retentionDays: 60, backupSizeMb: 20 });
    const list = await ok(...auditArgs, 'running-logs', 'list');
    assert.match(list.stdout, /running\.log/);
    const out = join(tmp.dir, 'running.log');
    await ok(...auditArgs, 'running-logs', 'get', 'running.log', '--out', out);
    assert.ok(readFileSync(out, 'utf8').length > 0);
    const net = JSON.parse((await ok('--json', ...auditArgs, 'network')).stdout);
    assert.equal(net.network.mNet0.ip, '127.0.0.1');
    const info = JSON.parse((await ok('--json', ...auditArgs, 'device-info')).stdout);
    assert.match(info.kcv, /^[0-9a-f]{64}$/);
  });

  it('--data DIR --as SLOT finds the URL, the CA and the card of a dev device', async () => {
    const r = await ok('--json', 'admin', '--data', data, '--as', 'C1', 'whoami');
    assert.equal(JSON.parse(r.stdout).role, 'safe-manager');
  });

  it('a refused command prints "error CODE: message" and exits non-zero', async () => {
    const r = await runCli(['admin', '--data', data, '--as', 'B1', 'logs', 'manager']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error ERR_FORBIDDEN: logs\.manager is a function of the Audit Manager/m);
    const bad = await runCli([...auditArgs, 'log-settings', 'set', '--retention-days', '400']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error ERR_BAD_REQUEST: /m);
    const wrongPin = join(tmp.dir, 'wrong.pin');
    writeFileSync(wrongPin, '0000AAAA\n');
    const refused = await runCli([...auditArgs.slice(0, -1), wrongPin, 'whoami']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error ERR_PIN_WRONG: /m);
  });
});
