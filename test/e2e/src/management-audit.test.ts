import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AdminClient } from '@coffer/cli';
import { computeAuditDigest } from '@coffer/core';
import { type ServingDevice, startServingDevice } from './management-support.js';
import { refusal } from './support.js';

interface Entry {
  seq: number;
  time: string;
  source: string;
  account: string;
  clientIp: string;
  businessType: string;
  result: string;
  content: string;
  details: string;
  prevDigest: string;
  digest: string;
}
interface LogPage {
  log: string;
  entries: Entry[];
  page: { page: number; size: number; from: number; to: number; total: number };
  chain: { ok: boolean; count?: number };
}

describe('the Audit Manager (§4.4.3): logs, export, verification, running-log parameters and files, network', () => {
  let dev: ServingDevice;
  let audit: AdminClient;
  before(async () => {
    dev = await startServingDevice();
    // Operator entries come from the crypto service; write a few directly for the operator log.
    for (let i = 1; i <= 3; i++) {
      await dev.daemon.device.auditLog.append({
        source: 'integrated',
        account: 'app1',
        clientIp: '192.0.2.10',
        businessType: 'init',
        result: 'success',
        content: `Operator init;${i}`,
      });
    }
    audit = await dev.admin('D1');
  });
  after(async () => {
    await dev?.close();
  });

  it('the manager log pages newest first with "From 1 To 10 Total N rows" and verifies the chain with every query', async () => {
    const first = await audit.get<LogPage>('/api/logs/manager', { size: 10 });
    assert.ok(first.page.total > 10, `enough entries to page (${first.page.total})`);
    assert.deepEqual([first.page.from, first.page.to, first.entries.length], [1, 10, 10]);
    assert.ok(first.entries.every((e) => ['management', 'panel', 'device'].includes(e.source)));
    assert.ok(first.entries[0]!.seq > first.entries[9]!.seq, 'newest first');
    assert.equal(first.chain.ok, true);
    const second = await audit.get<LogPage>('/api/logs/manager', { size: 10, page: 2 });
    assert.equal(second.page.from, 11);
    assert.ok(second.entries[0]!.seq < first.entries[9]!.seq);
    const beyond = await audit.get<LogPage>('/api/logs/manager', { size: 10, page: 1000 });
    assert.deepEqual([beyond.entries.length, beyond.page.from, beyond.page.to], [0, 0, 0]);
  });

  it('the operator log holds only operator (integrated) entries; a time range narrows both logs', async () => {
    const ops = await audit.get<LogPage>('/api/logs/operator');
    assert.equal(ops.page.total, 3);
    assert.deepEqual(
      ops.entries.map((e) => e.content),
      ['Operator init;3', 'Operator init;2', 'Operator init;1'],
    );
    const future = await audit.get<LogPage>('/api/logs/operator', { from: '2199-01-01' });
    assert.equal(future.page.total, 0);
    const mid = ops.entries[1]!.time;
    const upTo = await audit.get<LogPage>('/api/logs/operator', { to: mid });
    assert.ok(upTo.entries.every((e) => e.time <= mid));
    await refusal(
      audit.get('/api/logs/operator', { from: '2026-03-02', to: '2026-03-01' }),
      'ERR_BAD_REQUEST',
    );
  });

  it('entry details: an entry of the other log is not found there', async () => {
    const ops = await audit.get<LogPage>('/api/logs/operator');
    const seq = ops.entries[0]!.seq;
    const detail = await audit.get<Entry>(`/api/logs/operator/${seq}`);
    assert.equal(detail.account, 'app1');
    assert.match(detail.digest, /^[0-9a-f]{64}$/);
    await refusal(audit.get(`/api/logs/manager/${seq}`), 'ERR_NOT_FOUND');
    await refusal(audit.get('/api/logs/manager/999999'), 'ERR_NOT_FOUND');
  });

  it('exports the selected entries as CSV with both digests, and the export is audited as a download', async () => {
    const page = await audit.get<LogPage>('/api/logs/manager', { size: 3 });
    const seqs = page.entries.map((e) => e.seq);
    const reply = await audit.download('POST', '/api/logs/export', { log: 'manager', format: 'csv', seqs });
    assert.match(String(reply.headers['content-type']), /^text\/csv/);
    assert.match(
      String(reply.headers['content-disposition']),
      /attachment; filename="coffer-manager-log-.*\.csv"/,
    );
    const lines = reply.body.toString().trim().split('\r\n');
    assert.equal(
      lines[0],
      'seq,source,account,clientIp,businessType,result,time,content,details,prevDigest,digest',
    );
    assert.equal(lines.length, 4);
    for (const e of page.entries)
      assert.ok(lines.some((l) => l.startsWith(`${e.seq},`) && l.endsWith(`,${e.prevDigest},${e.digest}`)));
    const after = await audit.get<LogPage>('/api/logs/manager', { size: 1 });
    assert.equal(after.entries[0]!.businessType, 'download');
    assert.equal(after.entries[0]!.content, 'Export manager log;3 entries');
  });

  it('exports the whole query as JSON; each entry’s digest recomputes from its fields and the previous digest', async () => {
    const reply = await audit.download('POST', '/api/logs/export', { log: 'operator', format: 'json' });
    const doc = JSON.parse(reply.body.toString()) as {
      format: string;
      log: string;
      count: number;
      chain: { ok: boolean };
      entries: Entry[];
    };
    assert.equal(doc.format, 'coffer-audit-export');
    assert.equal(doc.count, 3);
    assert.equal(doc.chain.ok, true);
    for (const e of doc.entries) {
      const { prevDigest, digest, ...fields } = e;
      assert.equal(computeAuditDigest(prevDigest, fields as never), digest);
    }
  });

  it('exporting an entry of the other log, or both a selection and a range, is refused', async () => {
    const ops = await audit.get<LogPage>('/api/logs/operator');
    await refusal(
      audit.download('POST', '/api/logs/export', {
        log: 'manager',
        format: 'csv',
        seqs: [ops.entries[0]!.seq],
      }),
      'ERR_NOT_FOUND',
    );
    await refusal(
      audit.download('POST', '/api/logs/export', {
        log: 'manager',
        format: 'csv',
        seqs: [1],
        from: '2026-01-01',
      }),
      'ERR_BAD_REQUEST',
    );
    await refusal(
      audit.download('POST', '/api/logs/export', { log: 'manager', format: 'xml' }),
      'ERR_BAD_REQUEST',
    );
  });

  it('verifies the whole chain', async () => {
    const chain = await audit.get<{ ok: boolean; count: number }>('/api/logs/verify');
    assert.equal(chain.ok, true);
    assert.ok(chain.count > 20);
  });

  it('the running-log level is obeyed at once, and the change is audited', async () => {
    const reply = await audit.put<{ settings: { level: string } }>('/api/running-log/settings', {
      level: 'error',
    });
    assert.equal(reply.settings.level, 'error');
    assert.equal(dev.daemon.log.level, 'error');
    assert.deepEqual(await audit.get('/api/running-log/settings'), {
      level: 'error',
      retentionDays: 30,
      backupSizeMb: 10,
    });
    const last = (await audit.get<LogPage>('/api/logs/manager', { size: 1 })).entries[0]!;
    assert.deepEqual(
      [last.businessType, last.content, last.details],
      ['update', 'Configure running log parameters', 'level=error;retentionDays=30;backupSizeMb=10'],
    );
    await audit.put('/api/running-log/settings', { level: 'info' });
    assert.equal(dev.daemon.log.level, 'info');
  });

  it('the running log rotates past the size threshold, and rotated files past the retention are deleted by the device clock', async () => {
    await audit.put('/api/running-log/settings', { backupSizeMb: 1, retentionDays: 30 });
    const pad = 'x'.repeat(1000);
    for (let i = 0; i < 1200; i++) dev.daemon.log.info({ i, pad }, 'filler');
    const listed = await audit.get<{ files: { name: string; size: number; current: boolean }[] }>(
      '/api/running-logs',
    );
    const rotated = listed.files.filter((f) => !f.current);
    assert.ok(rotated.length >= 1, 'a rotated file exists');
    assert.ok(listed.files.every((f) => f.size <= 1024 * 1024));
    assert.match(rotated[0]!.name, /^running-\d{8}T\d{9}Z(-\d+)?\.log$/);

    const clock = dev.daemon.device.clock;
    const offset = clock.offsetMs;
    clock.setOffset(offset + 31 * 86_400_000);
    try {
      const later = await audit.get<{ files: { name: string }[] }>('/api/running-logs');
      assert.deepEqual(
        later.files.map((f) => f.name),
        ['running.log'],
      );
      assert.deepEqual(readdirSync(join(dev.daemon.runningLog.dir)), ['running.log']);
    } finally {
      clock.setOffset(offset);
    }
  });

  it('running logs can be viewed and downloaded by listed name only', async () => {
    const tail = await audit.get<{ lines: string[] }>('/api/running-logs/running.log/tail', { lines: 5 });
    assert.ok(tail.lines.length > 0 && tail.lines.length <= 5);
    JSON.parse(tail.lines.at(-1)!);
    const file = await audit.download('GET', '/api/running-logs/running.log');
    assert.match(String(file.headers['content-type']), /^application\/x-ndjson/);
    assert.ok(file.body.length > 0);
    await refusal(audit.download('GET', '/api/running-logs/device.json'), 'ERR_NOT_FOUND');
    await refusal(audit.download('GET', '/api/running-logs/..%2Fdevice.json'), 'ERR_BAD_REQUEST');
    await refusal(audit.download('GET', '/api/running-logs/..'), 'ERR_NOT_FOUND');
    assert.doesNotMatch(file.body.toString(), /"pin":"[0-9A-F]{8}"|Bearer [A-Za-z0-9_-]{20}/, 'no secrets');
  });

  it('shows the network configuration of M-Net0 and A-Net1 with the bound management port', async () => {
    const net = await audit.get<{
      network: { mNet0: { ip: string; boundPort: number }; aNet1: { ip: string } };
      toolWhitelist: string[];
    }>('/api/network');
    assert.equal(net.network.mNet0.ip, '127.0.0.1');
    assert.equal(net.network.mNet0.boundPort, Number(new URL(dev.url).port));
    assert.equal(net.network.aNet1.ip, '127.0.0.1');
    assert.deepEqual(net.toolWhitelist, ['127.0.0.1']);
  });
});
