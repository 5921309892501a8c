import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openRunningLogFiles } from './running-log.js';
import { checkRunningLogSettings, parseRunningLogSettings } from './running-log-files.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-runlog-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('running log files', () => {
  it('the current file is renamed running-<time>.log when a line would take it past the threshold', async () => {
    const dir = await mkdtemp(join(root, 'rot-'));
    const { log, files } = openRunningLogFiles(dir, { now: () => new Date('2026-03-01T08:00:00Z') });
    files.apply({ level: 'info', retentionDays: 30, backupSizeMb: 1 });
    const pad = 'x'.repeat(1000);
    for (let i = 0; i < 1200; i++) log.info({ i, pad }, 'filler');
    const names = (await readdir(join(dir, 'logs'))).sort();
    assert.deepEqual(names, ['running-20260301T080000000Z.log', 'running.log']);
    const listed = files.list();
    assert.equal(listed[0]?.name, 'running.log');
    assert.ok(listed.every((f) => f.size <= 1024 * 1024));
  });

  it('the level is changed on the live logger', async () => {
    const dir = await mkdtemp(join(root, 'lvl-'));
    const { log, files } = openRunningLogFiles(dir);
    files.apply({ level: 'error', retentionDays: 30, backupSizeMb: 10 });
    assert.equal(log.level, 'error');
    assert.equal(log.isLevelEnabled('info'), false);
  });

  it('rotated files older than the retention by the device clock are deleted; the current file never is', async () => {
    const dir = await mkdtemp(join(root, 'ret-'));
    let now = new Date('2026-03-10T00:00:00Z');
    const { files } = openRunningLogFiles(dir, { now: () => now });
    const logs = join(dir, 'logs');
    await writeFile(join(logs, 'running-20260301T000000000Z.log'), 'old\n');
    await writeFile(join(logs, 'running-20260309T000000000Z.log'), 'new\n');
    await writeFile(join(logs, 'notes.txt'), 'not a running log\n');
    assert.deepEqual(files.apply({ level: 'info', retentionDays: 7, backupSizeMb: 10 }), [
      'running-20260301T000000000Z.log',
    ]);
    now = new Date('2026-12-31T00:00:00Z');
    assert.deepEqual(files.sweep(), ['running-20260309T000000000Z.log']);
    assert.deepEqual((await readdir(logs)).sort(), ['notes.txt', 'running.log']);
  });

  it('only names in the listing resolve to a path: traversal and other files are ERR_NOT_FOUND', async () => {
    const dir = await mkdtemp(join(root, 'path-'));
    const { files } = openRunningLogFiles(dir);
    await writeFile(join(dir, 'logs', 'notes.txt'), 'x');
    assert.equal(files.pathOf('running.log'), join(dir, 'logs', 'running.log'));
    for (const name of ['../device.json', '/etc/passwd', 'notes.txt', 'running.log/..', '']) {
      assert.throws(() => files.pathOf(name), { code: 'ERR_NOT_FOUND' }, name);
    }
  });

  it('settings outside their ranges are refused naming the field; stored garbage gives the defaults', () => {
    assert.throws(() => checkRunningLogSettings({ retentionDays: 0 }), { code: 'ERR_BAD_REQUEST' });
    assert.throws(() => checkRunningLogSettings({ retentionDays: 366 }), { code: 'ERR_BAD_REQUEST' });
    assert.throws(() => checkRunningLogSettings({ backupSizeMb: 0 }), { code: 'ERR_BAD_REQUEST' });
    assert.throws(() => checkRunningLogSettings({ level: 'loud' as never }), { code: 'ERR_BAD_REQUEST' });
    assert.deepEqual(parseRunningLogSettings('{not json'), {
      level: 'info',
      retentionDays: 30,
      backupSizeMb: 10,
    });
    assert.deepEqual(parseRunningLogSettings(null), { level: 'info', retentionDays: 30, backupSizeMb: 10 });
  });
});
