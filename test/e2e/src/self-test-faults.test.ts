import assert from 'node:assert/strict';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aes256GcmTest, type DeviceStatus, KAT_VECTORS } from '@coffer/core';
import { initialiseDevice, ROOT, runCli, spawnCli, startTestDevice, stopChild, tempDir } from './support.js';

const WORKSPACES = ['protocol', 'core', 'server', 'sdk', 'cli', 'web'];

/** Installs a copy of the built program in `dir`, its node_modules pointing at the real ones. */
function installCopy(dir: string): string {
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(ROOT, 'manifest.json'), join(dir, 'manifest.json'));
  for (const ws of WORKSPACES) {
    const from = join(ROOT, 'packages', ws);
    const to = join(dir, 'packages', ws);
    mkdirSync(to, { recursive: true });
    cpSync(join(from, 'package.json'), join(to, 'package.json'));
    for (const sub of ['dist', 'assets'])
      if (existsSync(join(from, sub))) cpSync(join(from, sub), join(to, sub), { recursive: true });
  }
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@coffer'), { recursive: true });
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === '@coffer' || name.startsWith('.')) continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
  }
  for (const ws of WORKSPACES) symlinkSync(join(dir, 'packages', ws), join(modules, '@coffer', ws));
  return join(dir, 'packages/cli/dist/main.js');
}

async function statusOf(dataDir: string): Promise<DeviceStatus> {
  const r = await runCli(['status', '--json', '--data', dataDir]);
  return JSON.parse(r.stdout) as DeviceStatus;
}

describe('self-tests at start put the device in FAULT with the manual §6 reason and buzzer', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(async () => {
    await tmp.cleanup();
  });

  it('an untouched copy of the program passes its integrity self-test', async () => {
    const cli = installCopy(join(tmp.dir, 'clean'));
    const data = join(tmp.dir, 'clean-data');
    const run = await spawnCli(['start', '--data', data, '--panel-port', '0'], /state:\s+(\w+)/, { cli });
    try {
      assert.equal(run.match[1], 'UNINITIALISED');
    } finally {
      await stopChild(run.child);
    }
  });

  it('a modified program file is "Software tampered — 3 long and 4 short", shown by coffer status', async () => {
    const cli = installCopy(join(tmp.dir, 'tampered'));
    appendFileSync(
      join(tmp.dir, 'tampered', 'packages/core/dist/device/faults.js'),
      '\n// a patch nobody signed\n',
    );
    const data = join(tmp.dir, 'tampered-data');
    const run = await spawnCli(['start', '--data', data, '--panel-port', '0'], /state:\s+(\w+)/, { cli });
    try {
      assert.equal(run.match[1], 'FAULT');
      assert.match(run.output(), /Software tampered — buzzer 3 long and 4 short/);
      const s = await statusOf(data);
      assert.equal(s.state, 'FAULT');
      assert.equal(s.fault?.code, 'SOFTWARE_TAMPERED');
      assert.match(s.fault?.detail ?? '', /packages\/core\/dist\/device\/faults\.js has been modified/);
      assert.deepEqual(s.indicators, { power: true, error: true, waiting: false, working: false });
      const human = await runCli(['status', '--data', data]);
      assert.equal(human.code, 2);
      assert.match(human.stdout, /fault:\s+Software tampered — buzzer 3 long and 4 short/);
    } finally {
      await stopChild(run.child);
    }
  });

  it('a store from another device is "The hard disk is replaced — 2 long & 2 short"', async () => {
    const first = join(tmp.dir, 'first');
    const second = join(tmp.dir, 'second');
    const a = await startTestDevice(first);
    try {
      await initialiseDevice(a.api, first);
    } finally {
      await a.daemon.close();
    }
    const b = await startTestDevice(second);
    await b.daemon.close();
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(join(first, `coffer.sqlite${suffix}`)))
        cpSync(join(first, `coffer.sqlite${suffix}`), join(second, `coffer.sqlite${suffix}`));
    }
    const again = await startTestDevice(second);
    try {
      const s = again.daemon.device.status();
      assert.equal(s.state, 'FAULT');
      assert.equal(s.fault?.reason, 'The hard disk is replaced');
      assert.equal(s.fault?.buzzer, '2 long & 2 short');
      // Nothing is served from a foreign store: the ceremonies are refused in FAULT.
      await assert.rejects(again.api.post('/api/auth2boot/first', { card: {}, pin: 'ABCD1234' }), {
        code: 'ERR_STATE_FAULT',
      });
    } finally {
      await again.daemon.close();
    }
  });

  it('an unreadable store is "Database initialization failed — a long beep, 10 seconds"', async () => {
    const data = join(tmp.dir, 'garbage');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'coffer.sqlite'), Buffer.alloc(8192, 0x5a));
    const { daemon } = await startTestDevice(data);
    try {
      const s = daemon.device.status();
      assert.equal(s.state, 'FAULT');
      assert.equal(s.fault?.code, 'DATABASE_INIT_FAILED');
      assert.equal(s.fault?.buzzer, 'a long beep, 10 seconds');
    } finally {
      await daemon.close();
    }
  });

  it('a failed known-answer test is "Arithmetic-chip is replaced — 3 long and 3 short"', async () => {
    const v = KAT_VECTORS.aes256Gcm;
    const broken = { ...v, ciphertext: v.ciphertext.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
    const { daemon } = await startTestDevice(join(tmp.dir, 'kat'), {
      extraSelfTests: [
        {
          name: 'known-answer test AES-256-GCM (bad engine)',
          fault: 'ARITHMETIC_CHIP_REPLACED',
          run: aes256GcmTest(broken).run,
        },
      ],
    });
    try {
      const s = daemon.device.status();
      assert.equal(s.state, 'FAULT');
      assert.equal(s.fault?.reason, 'Arithmetic-chip is replaced');
      assert.equal(s.fault?.buzzer, '3 long and 3 short');
      assert.match(s.fault?.detail ?? '', /AES-256-GCM/);
    } finally {
      await daemon.close();
    }
  });

  it('a configured service address that the host no longer has is "Network-card is not available — 3 long & 2 short"', async () => {
    const data = join(tmp.dir, 'network');
    const { daemon } = await startTestDevice(data);
    await daemon.device.store.putSetting(
      'network',
      JSON.stringify({
        mNet0: { ip: '192.0.2.200', port: 1812, mask: '255.255.255.0', gateway: null },
        aNet1: { ip: '127.0.0.1', port: 1813, mask: '255.0.0.0', gateway: null },
        macs: { mNet0: '', aNet1: '' },
      }),
    );
    await daemon.close();
    const again = await startTestDevice(data);
    try {
      const s = again.daemon.device.status();
      assert.equal(s.fault?.code, 'NETWORK_CARD_UNAVAILABLE');
      assert.equal(s.fault?.buzzer, '3 long & 2 short');
    } finally {
      await again.daemon.close();
    }
  });
});
