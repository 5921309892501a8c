import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DevJson, PanelClient } from '@coffer/cli';
import { runCli, spawnCli, stopChild, tempDir } from './support.js';

const card = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

describe('nothing acknowledged is lost when the device process is killed', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(async () => {
    await tmp.cleanup();
  });

  it('SIGKILL in the middle of a stream of writes keeps every acknowledged change and a valid audit chain', async () => {
    const data = join(tmp.dir, 'data');
    const dev = await spawnCli(
      ['dev', '--data', data, '--panel-port', '0', '--management-port', '0', '--service-port', '0'],
      /dev\.json:\s+(\S+)/,
    );
    const info = JSON.parse(readFileSync(dev.match[1]!, 'utf8')) as DevJson;
    const api = new PanelClient(info.panel);
    const b1 = info.cards.find((c) => c.slot === 'B1')!;
    const { token } = await api.post<{ token: string }>('/api/settings/auth', {
      card: card(b1.file),
      pin: b1.pin,
    });

    // Four writers add whitelist entries as fast as they can; the process is killed while they run.
    const acknowledged: string[] = [];
    let n = 0;
    let killed = false;
    const writer = async () => {
      while (!killed) {
        const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n++ & 255}`;
        try {
          await api.post('/api/settings/tool-whitelist', { ip }, token);
          acknowledged.push(ip);
        } catch {
          return;
        }
      }
    };
    const writers = [writer(), writer(), writer(), writer()];
    while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 5));
    killed = true;
    dev.child.kill('SIGKILL');
    await Promise.all(writers);
    await stopChild(dev.child);
    assert.ok(acknowledged.length >= 150);

    const restarted = await spawnCli(['start', '--data', data, '--panel-port', '0'], /front panel: (\S+)/);
    try {
      const again = new PanelClient(restarted.match[1]!);
      const a1 = info.cards.find((c) => c.slot === 'A1')!;
      const a3 = info.cards.find((c) => c.slot === 'A3')!;
      const first = await again.post<{ token: string }>('/api/auth2boot/first', {
        card: card(a1.file),
        pin: a1.pin,
      });
      await again.post('/api/auth2boot/second', { token: first.token, card: card(a3.file), pin: a3.pin });
      const s = await again.post<{ token: string }>('/api/settings/auth', {
        card: card(b1.file),
        pin: b1.pin,
      });
      const listed = new Set(
        (await again.get<{ entries: { ip: string }[] }>('/api/settings/tool-whitelist', s.token)).entries.map(
          (e) => e.ip,
        ),
      );
      const lost = acknowledged.filter((ip) => !listed.has(ip));
      assert.deepEqual(lost, [], `${lost.length} acknowledged entries were lost`);
      const verify = await runCli(['audit', 'verify', '--data', data, '--json']);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.equal(JSON.parse(verify.stdout).ok, true);

      // Power → ShutDown from the terminal ends the device process cleanly.
      const pinFile = join(tmp.dir, 'b1.pin');
      writeFileSync(pinFile, b1.pin, { mode: 0o600 });
      const exited = new Promise<number | null>((done) => restarted.child.once('exit', (code) => done(code)));
      const shutdown = await runCli([
        'panel',
        '--panel',
        restarted.match[1]!,
        'shutdown',
        '--card',
        b1.file,
        '--pin-file',
        pinFile,
      ]);
      assert.equal(shutdown.code, 0, shutdown.stderr);
      assert.equal(await exited, 0);
    } finally {
      await stopChild(restarted.child);
    }
  });
});
