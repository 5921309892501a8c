import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DevJson } from '@coffer/cli';
import { runCli, spawnCli, stopChild, tempDir } from './support.js';

describe('the coffer command line', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(async () => {
    await tmp.cleanup();
  });

  it('coffer dev initialises, boots and serves a device and writes dev.json (0600) with the fields scripts rely on', async () => {
    const data = join(tmp.dir, 'dev');
    const dev = await spawnCli(
      ['dev', '--data', data, '--panel-port', '0', '--management-port', '0', '--service-port', '0'],
      /dev\.json:\s+(\S+)/,
    );
    try {
      assert.match(dev.output(), /NOT FOR PRODUCTION/);
      const file = dev.match[1]!;
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const json = JSON.parse(readFileSync(file, 'utf8')) as DevJson;
      assert.match(json.panel, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      assert.deepEqual(json.cards.map((c) => c.slot).sort(), ['A1', 'A2', 'A3', 'B1', 'C1', 'D1']);
      for (const c of json.cards) {
        assert.match(c.pin, /^[0-9A-F]{8}$/);
        assert.equal(statSync(c.file).mode & 0o777, 0o600);
        if (c.role === 'device-manager') assert.match(c.mkPartPin ?? '', /^[0-9A-F]{8}$/);
      }
      assert.ok('management' in json && 'service' in json && 'operator' in json && Array.isArray(json.keys));
      const status = await runCli(['status', '--json', '--data', data]);
      assert.equal(status.code, 0);
      assert.equal(JSON.parse(status.stdout).state, 'SERVING');
    } finally {
      await stopChild(dev.child);
    }
  });

  it('coffer panel performs the ceremonies from a terminal with PINs from files, and coffer audit verify checks the chain', async () => {
    const data = join(tmp.dir, 'panel');
    const cards = join(tmp.dir, 'cards');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(cards);
    const run = await spawnCli(['start', '--data', data, '--panel-port', '0'], /front panel: (\S+)/);
    const secret = (name: string, value: string) => {
      const path = join(tmp.dir, name);
      writeFileSync(path, `${value}\n`, { mode: 0o600 });
      return path;
    };
    const panel = (...args: string[]) => runCli(['panel', '--data', data, ...args]);
    const ok = async (...args: string[]) => {
      const r = await panel(...args);
      assert.equal(r.code, 0, `coffer panel ${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    try {
      await ok('init-time');
      for (const [i, slot] of ['A1', 'A2', 'A3'].entries()) {
        await ok(
          'init-card',
          '--slot',
          slot,
          '--new-pin-file',
          secret(`${slot}.pin`, `${i}ABCDEF${i}`),
          '--out',
          join(cards, `${slot}.card`),
        );
        await ok(
          'init-mk-part',
          '--slot',
          slot,
          '--mk-part-file',
          secret(`${slot}.mk`, `${i}`.repeat(32)),
          '--mk-part-pin-file',
          secret(`${slot}.mkpin`, `FEDCBA${i}${i}`),
        );
      }
      for (const [i, slot] of ['A1', 'A2', 'A3'].entries()) {
        await ok(
          'init-write',
          '--card',
          join(cards, `${slot}.card`),
          '--pin-file',
          join(tmp.dir, `${slot}.pin`),
        );
        assert.ok(i >= 0);
      }
      await ok(
        'init-manager',
        '--role',
        'system',
        '--factor',
        '0011AABB',
        '--new-pin-file',
        secret('B1.pin', 'B1B1B1B1'),
        '--out',
        join(cards, 'B1.card'),
      );
      await ok(
        'init-manager',
        '--role',
        'safe',
        '--new-pin-file',
        secret('C1.pin', 'C1C1C1C1'),
        '--out',
        join(cards, 'C1.card'),
      );
      await ok(
        'init-manager',
        '--role',
        'audit',
        '--new-pin-file',
        secret('D1.pin', 'D1D1D1D1'),
        '--out',
        join(cards, 'D1.card'),
      );
      const finished = await ok('init-finish');
      assert.match(finished.stdout, /"state": "LOCKED"/);

      const refused = await panel(
        'auth2boot',
        '--card',
        join(cards, 'A1.card'),
        '--card',
        join(cards, 'A1.card'),
        '--pin-file',
        join(tmp.dir, 'A1.pin'),
        '--pin-file',
        join(tmp.dir, 'A1.pin'),
      );
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /error ERR_CARD_SAME:/);

      await ok(
        'auth2boot',
        '--card',
        join(cards, 'A2.card'),
        '--card',
        join(cards, 'A3.card'),
        '--pin-file',
        join(tmp.dir, 'A2.pin'),
        '--pin-file',
        join(tmp.dir, 'A3.pin'),
      );
      const b = ['--card', join(cards, 'B1.card'), '--pin-file', join(tmp.dir, 'B1.pin')];
      await ok('whitelist-add', '192.0.2.5', ...b);
      const listed = await ok('whitelist-list', ...b);
      assert.match(listed.stdout, /192\.0\.2\.5/);
      const remade = await panel('remake', '--role', 'system', '--out', join(cards, 'B2.card'));
      assert.equal(remade.code, 1);
      assert.match(
        remade.stderr,
        /ERR_REMAKE_SYSTEM_MANAGER: System Manager authentication card cannot be remade\./,
      );
      await ok(
        'remake',
        '--role',
        'device',
        '--mk-part-pin-file',
        join(tmp.dir, 'A2.mkpin'),
        '--new-pin-file',
        secret('A2new.pin', '9ABCDEF9'),
        '--out',
        join(cards, 'A2new.card'),
      );
      await ok(
        'modify-pin',
        '--card',
        join(cards, 'D1.card'),
        '--pin-file',
        join(tmp.dir, 'D1.pin'),
        '--new-pin-file',
        secret('D1new.pin', 'D2D2D2D2'),
      );
      await ok('start-service', ...b, '--m-port', '0', '--a-port', '0');
      const status = await runCli(['status', '--data', data]);
      assert.match(status.stdout, /state:\s+SERVING/);
      assert.match(status.stdout, /● working \(green\)/);
      await ok('stop-service', ...b);
      const info = await ok('device-info');
      assert.match(info.stdout, /"kcv": "[0-9a-f]{64}"/);
      await ok('restart', ...b);
      const wiped = await ok(
        'reinit',
        '--yes',
        '--card',
        join(cards, 'A1.card'),
        '--card',
        join(cards, 'A2new.card'),
        '--pin-file',
        join(tmp.dir, 'A1.pin'),
        '--pin-file',
        join(tmp.dir, 'A2new.pin'),
        '--mk-part-pin-file',
        join(tmp.dir, 'A1.mkpin'),
        '--mk-part-pin-file',
        join(tmp.dir, 'A2.mkpin'),
      );
      assert.match(wiped.stdout, /"state": "UNINITIALISED"/);
      const verify = await runCli(['audit', 'verify', '--data', data]);
      assert.equal(verify.code, 0);
      assert.match(verify.stdout, /audit chain intact: \d+ entries/);
    } finally {
      await stopChild(run.child);
    }
  });

  it('coffer status says OFF and exits 3 when no device owns the directory', async () => {
    const r = await runCli(['status', '--data', join(tmp.dir, 'nothing')]);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /OFF/);
  });
});
