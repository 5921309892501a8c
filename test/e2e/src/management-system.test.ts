import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AdminClient } from '@coffer/cli';
import { isServiceAllowed, type LicenceFile, openLicence } from '@coffer/core';
import { type ServingDevice, startServingDevice } from './management-support.js';
import { refusal, runCli } from './support.js';

/*
 * The System Manager (manual §4.4.1) over real HTTPS against a running device: operators, licence
 * files and the service whitelist, each change audited, and every refusal with its code.
 */

const PIN = '12AB34CD';

interface OperatorDetail {
  operator: { name: string; description: string; creator: string; createdAt: string };
  whitelist: { ip: string }[];
  keys: { index: number }[];
  licence: { serial: string; certFingerprint: string; maxConnections: number; status: string } | null;
  licencesIssued: number;
}

interface WhitelistEntry {
  ip: string;
  operators: { name: string; addedBy: string }[];
}

describe('System Manager over HTTPS', () => {
  let dev: ServingDevice;
  let b1: AdminClient;

  before(async () => {
    dev = await startServingDevice();
    b1 = await dev.admin('B1');
  });
  after(async () => {
    await dev?.close();
  });

  async function lastAudit() {
    return (await dev.daemon.device.store.listAudit({ order: 'desc', limit: 1 }))[0]!;
  }

  test('adds operators, recording the creator, and audits each addition', async () => {
    const reply = await b1.post<{ operator: OperatorDetail['operator'] }>('/api/operators', {
      name: 'payments',
      description: 'the payments application',
    });
    assert.equal(reply.operator.name, 'payments');
    assert.equal(reply.operator.creator, 'adminB1');
    const entry = await lastAudit();
    assert.equal(entry.source, 'management');
    assert.equal(entry.account, 'adminB1');
    assert.equal(entry.businessType, 'add');
    assert.equal(entry.result, 'success');
    assert.equal(entry.content, 'Add operator [payments];');
    for (const name of ['billing', 'app_3.eu-west', 'zeta'])
      await b1.post('/api/operators', { name, description: '' });
  });

  test('lists operators by name, a page at a time, with the total', async () => {
    const first = await b1.get<{
      operators: { name: string }[];
      page: { total: number; from: number; to: number };
    }>('/api/operators', { page: 1, size: 2 });
    assert.deepEqual(
      first.operators.map((o) => o.name),
      ['app_3.eu-west', 'billing'],
    );
    assert.deepEqual([first.page.total, first.page.from, first.page.to], [4, 1, 2]);
    const second = await b1.get<{ operators: { name: string }[] }>('/api/operators', { page: 2, size: 2 });
    assert.deepEqual(
      second.operators.map((o) => o.name),
      ['payments', 'zeta'],
    );
  });

  test('refuses bad names, duplicates, wrong types and unknown fields, changing nothing', async () => {
    await refusal(b1.post('/api/operators', { name: 'has space' }), 'ERR_OPERATOR_NAME');
    await refusal(b1.post('/api/operators', { name: 'x'.repeat(33) }), 'ERR_OPERATOR_NAME');
    await refusal(b1.post('/api/operators', { name: '..' }), 'ERR_OPERATOR_NAME');
    await refusal(b1.post('/api/operators', { name: 'payments', description: 'again' }), 'ERR_CONFLICT');
    await refusal(b1.post('/api/operators', { name: 5 }), 'ERR_BAD_REQUEST');
    await refusal(b1.post('/api/operators', { name: 'extra', admin: true }), 'ERR_BAD_REQUEST');
    await refusal(
      b1.post('/api/operators', { name: 'long', description: 'd'.repeat(257) }),
      'ERR_BAD_REQUEST',
    );
    const failed = await lastAudit();
    assert.equal(failed.result, 'failure');
    assert.match(failed.details, /^ERR_BAD_REQUEST/);
    assert.equal((await b1.get<{ page: { total: number } }>('/api/operators')).page.total, 4);
  });

  test('the Safe and Audit Managers are refused the System Manager’s functions with ERR_FORBIDDEN', async () => {
    const c1 = await dev.admin('C1');
    const d1 = await dev.admin('D1');
    await refusal(c1.get('/api/operators'), 'ERR_FORBIDDEN');
    await refusal(c1.post('/api/operators', { name: 'sneaky' }), 'ERR_FORBIDDEN');
    await refusal(
      c1.post('/api/operators/payments/licence', { pin: PIN, pinConfirm: PIN, maxConnections: 1 }),
      'ERR_FORBIDDEN',
    );
    await refusal(d1.get('/api/whitelist'), 'ERR_FORBIDDEN');
    await refusal(d1.delete('/api/operators/payments'), 'ERR_FORBIDDEN');
    assert.equal(await dev.daemon.device.store.getOperator('sneaky'), null);
  });

  let firstLicence: LicenceFile;

  test('downloads a licence file that opens with its PIN and chains to the device CA', async () => {
    const reply = await b1.download('POST', '/api/operators/payments/licence', {
      pin: PIN,
      pinConfirm: PIN,
      maxConnections: 16,
    });
    assert.match(String(reply.headers['content-disposition']), /attachment; filename="payments\.license"/);
    firstLicence = JSON.parse(reply.body.toString('utf8')) as LicenceFile;
    assert.equal(firstLicence.format, 'coffer-licence');
    assert.equal(firstLicence.deviceId, dev.daemon.device.deviceId);
    const aNet1 = dev.daemon.device.status().network!.aNet1;
    // The bound port once the crypto service listens; the default while nothing has bound port 0.
    assert.deepEqual(firstLicence.service, { host: '127.0.0.1', port: aNet1.boundPort || 1813 });
    assert.equal(firstLicence.caCertificate, dev.caPem);
    assert.ok(!reply.body.toString('utf8').includes('PRIVATE KEY'), 'the key is only ever sealed');

    const opened = await openLicence(reply.body, PIN);
    assert.equal(opened.operator, 'payments');
    assert.equal(opened.maxConnections, 16);
    const ca = new X509Certificate(dev.caPem);
    const cert = new X509Certificate(opened.certPem);
    assert.ok(cert.verify(ca.publicKey));
    assert.ok(cert.checkIssued(ca));
    assert.ok(cert.checkPrivateKey(opened.privateKey));
    assert.match(cert.subject, /CN=payments/);
    await refusal(openLicence(reply.body, '12AB34CE'), 'ERR_PIN_WRONG');

    const entry = await lastAudit();
    assert.deepEqual(
      [entry.businessType, entry.content, entry.result],
      ['download', 'Download license file [payments];', 'success'],
    );
    assert.ok(!entry.details.includes(PIN));
    const detail = await b1.get<OperatorDetail>('/api/operators/payments');
    assert.equal(detail.licence?.serial, opened.serial);
    assert.equal(detail.licence?.status, 'current');
    assert.equal(detail.licence?.certFingerprint, cert.fingerprint256.replaceAll(':', '').toLowerCase());
  });

  test('a second download re-keys the operator: the first licence is superseded', async () => {
    const second = await b1.post<LicenceFile>('/api/operators/payments/licence', {
      pin: '9F8E7D6C',
      pinConfirm: '9F8E7D6C',
      maxConnections: 2,
    });
    assert.notEqual(second.serial, firstLicence.serial);
    assert.notEqual(second.certificate, firstLicence.certificate);
    assert.equal((await dev.daemon.device.store.getLicence(firstLicence.serial))?.status, 'superseded');
    assert.equal((await dev.daemon.device.store.getLicence(second.serial))?.status, 'current');
    const detail = await b1.get<OperatorDetail>('/api/operators/payments');
    assert.equal(detail.licence?.serial, second.serial);
    assert.equal(detail.licence?.maxConnections, 2);
    assert.equal(detail.licencesIssued, 2);
    assert.equal((await openLicence(second, '9f8e7d6c')).serial, second.serial);
  });

  test('refuses licence downloads with a bad PIN, a mismatch, a bad limit or an unknown operator', async () => {
    const before = await dev.daemon.device.store.listLicences('payments');
    const licence = (body: Record<string, unknown>) =>
      b1.post('/api/operators/payments/licence', { pin: PIN, pinConfirm: PIN, maxConnections: 4, ...body });
    await refusal(licence({ pin: '12345678', pinConfirm: '12345678' }), 'ERR_PIN_RULE');
    await refusal(licence({ pinConfirm: '12AB34CE' }), 'ERR_PIN_MISMATCH');
    await refusal(licence({ maxConnections: 0 }), 'ERR_BAD_REQUEST');
    await refusal(licence({ maxConnections: 10_001 }), 'ERR_BAD_REQUEST');
    await refusal(licence({ maxConnections: '4' }), 'ERR_BAD_REQUEST');
    await refusal(licence({ extra: 1 }), 'ERR_BAD_REQUEST');
    await refusal(
      b1.post('/api/operators/nobody/licence', { pin: PIN, pinConfirm: PIN, maxConnections: 4 }),
      'ERR_NOT_FOUND',
    );
    assert.deepEqual(await dev.daemon.device.store.listLicences('payments'), before);
  });

  test('whitelists an IP for several operators, lists it grouped and shows its detail', async () => {
    const added = await b1.post<WhitelistEntry>('/api/whitelist', {
      ip: '192.0.2.10',
      operators: ['payments', 'billing'],
    });
    assert.deepEqual(
      added.operators.map((o) => [o.name, o.addedBy]),
      [
        ['billing', 'adminB1'],
        ['payments', 'adminB1'],
      ],
    );
    const entry = await lastAudit();
    assert.deepEqual([entry.businessType, entry.content], ['add', 'Add white list [192.0.2.10];']);
    assert.match(entry.details, /billing, payments|payments, billing/);
    await b1.post('/api/whitelist', { ip: '127.0.0.1', operators: ['payments'] });
    const list = await b1.get<{ entries: WhitelistEntry[] }>('/api/whitelist');
    assert.deepEqual(
      list.entries.map((e) => [e.ip, e.operators.map((o) => o.name)]),
      [
        ['127.0.0.1', ['payments']],
        ['192.0.2.10', ['billing', 'payments']],
      ],
    );
    const detail = await b1.get<WhitelistEntry>('/api/whitelist/192.0.2.10');
    assert.deepEqual(detail, added);
    const operator = await b1.get<OperatorDetail>('/api/operators/payments');
    assert.deepEqual(
      operator.whitelist.map((w) => w.ip),
      ['127.0.0.1', '192.0.2.10'],
    );
    const { store } = dev.daemon.device;
    const keyring = dev.daemon.device.keyring();
    assert.equal(await isServiceAllowed(store, keyring, '192.0.2.10', 'billing'), true);
    assert.equal(await isServiceAllowed(store, keyring, '192.0.2.10', 'zeta'), false);
  });

  test('refuses whitelist additions that are malformed, name unknown operators or repeat a pair', async () => {
    await refusal(b1.post('/api/whitelist', { ip: '192.0.2', operators: ['payments'] }), 'ERR_IP_FORMAT');
    await refusal(b1.post('/api/whitelist', { ip: '192.0.2.11', operators: [] }), 'ERR_BAD_REQUEST');
    await refusal(b1.post('/api/whitelist', { ip: '192.0.2.11', operators: 'payments' }), 'ERR_BAD_REQUEST');
    const unknown = await refusal(
      b1.post('/api/whitelist', { ip: '192.0.2.11', operators: ['payments', 'ghost'] }),
      'ERR_NOT_FOUND',
    );
    assert.deepEqual(unknown.details['operators'], ['ghost']);
    const repeated = await refusal(
      b1.post('/api/whitelist', { ip: '192.0.2.10', operators: ['zeta', 'billing'] }),
      'ERR_CONFLICT',
    );
    assert.deepEqual(repeated.details['operators'], ['billing']);
    await refusal(b1.get('/api/whitelist/192.0.2.11'), 'ERR_NOT_FOUND');
    await refusal(b1.get('/api/whitelist/not-an-ip'), 'ERR_IP_FORMAT');
  });

  test('deletes one pair of an IP, then the IP with all its operators', async () => {
    const one = await b1.delete<{ removed: number }>('/api/whitelist/192.0.2.10?operator=billing');
    assert.equal(one.removed, 1);
    assert.equal((await lastAudit()).content, 'Delete white list [192.0.2.10];Operator [billing];');
    await refusal(b1.delete('/api/whitelist/192.0.2.10?operator=billing'), 'ERR_NOT_FOUND');
    await b1.post('/api/whitelist', { ip: '192.0.2.10', operators: ['zeta'] });
    const all = await b1.delete<{ removed: number }>('/api/whitelist/192.0.2.10');
    assert.equal(all.removed, 2);
    assert.equal((await lastAudit()).content, 'Delete white list [192.0.2.10];');
    await refusal(b1.get('/api/whitelist/192.0.2.10'), 'ERR_NOT_FOUND');
  });

  test('deleting an operator removes its whitelist pairs, revokes its licence and bans it at once', async () => {
    const current = (await b1.get<OperatorDetail>('/api/operators/payments')).licence!;
    const result = await b1.delete<{ deleted: string; whitelistRemoved: number; licencesRevoked: number }>(
      '/api/operators/payments',
    );
    // Both licences: the superseded one is revoked too.
    assert.deepEqual([result.deleted, result.whitelistRemoved, result.licencesRevoked], ['payments', 1, 2]);
    const entry = await lastAudit();
    assert.deepEqual(
      [entry.businessType, entry.content, entry.account],
      ['delete', 'Delete operator [payments];', 'adminB1'],
    );
    await refusal(b1.get('/api/operators/payments'), 'ERR_NOT_FOUND');
    await refusal(b1.delete('/api/operators/payments'), 'ERR_NOT_FOUND');
    const { store } = dev.daemon.device;
    assert.equal((await store.getLicence(current.serial))?.status, 'revoked');
    assert.equal((await store.getLicence(firstLicence.serial))?.status, 'revoked');
    assert.equal(await isServiceAllowed(store, dev.daemon.device.keyring(), '127.0.0.1', 'payments'), false);
    assert.deepEqual(
      (await b1.get<{ entries: WhitelistEntry[] }>('/api/whitelist')).entries.map((e) => e.ip),
      [],
    );
  });

  test('the audit chain verifies after all of it', async () => {
    const verified = await dev.daemon.device.verifyAudit();
    assert.equal(verified.ok, true);
  });
});

describe('coffer admin for the System Manager', () => {
  let dev: ServingDevice;
  let admin: (...args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

  before(async () => {
    dev = await startServingDevice();
    const pinFile = join(dev.dir, 'b1.pin');
    writeFileSync(pinFile, `${dev.init.card('B1').pin}\n`);
    const base = [
      '--url',
      dev.url,
      '--ca',
      dev.daemon.caFile,
      '--card',
      dev.init.card('B1').file,
      '--pin-file',
      pinFile,
    ];
    admin = (...args) => runCli(['--json', 'admin', ...base, ...args]);
  });
  after(async () => {
    await dev?.close();
  });

  test('operators add, list and show', async () => {
    const added = await admin('operators', 'add', 'cli-app', '--description', 'added from the CLI');
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).operator.creator, 'adminB1');
    const list = await admin('operators', 'list');
    assert.equal(list.code, 0, list.stderr);
    const page = JSON.parse(list.stdout) as { operators: { name: string }[]; page: { total: number } };
    assert.deepEqual(
      page.operators.map((o) => o.name),
      ['cli-app'],
    );
    const show = await admin('operators', 'show', 'cli-app');
    assert.equal(JSON.parse(show.stdout).operator.description, 'added from the CLI');
  });

  test('a refused command exits non-zero with the error code', async () => {
    const duplicate = await admin('operators', 'add', 'cli-app');
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /error ERR_CONFLICT:/);
    assert.equal(JSON.parse(duplicate.stdout).error.code, 'ERR_CONFLICT');
    const badName = await admin('operators', 'add', 'bad name');
    assert.match(badName.stderr, /error ERR_OPERATOR_NAME:/);
  });

  test('licence download writes a licence file that opens with the chosen PIN', async () => {
    const pinFile = join(dev.dir, 'licence.pin');
    writeFileSync(pinFile, '5E6F7A8B\n');
    const out = join(dev.dir, 'cli-app.license');
    const download = await admin(
      'licence',
      'download',
      'cli-app',
      '--max-connections',
      '3',
      '--licence-pin-file',
      pinFile,
      '--out',
      out,
    );
    assert.equal(download.code, 0, download.stderr);
    const info = JSON.parse(download.stdout.trim().split('\n').at(-1)!) as {
      serial: string;
      maxConnections: number;
    };
    assert.equal(info.maxConnections, 3);
    const opened = await openLicence(readFileSync(out), '5e6f7a8b');
    assert.equal(opened.serial, info.serial);
    assert.equal(opened.maxConnections, 3);
  });

  test('whitelist add, list, show and delete', async () => {
    const added = await admin('whitelist', 'add', '192.0.2.50', '--operator', 'cli-app');
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(
      JSON.parse(added.stdout).operators.map((o: { name: string }) => o.name),
      ['cli-app'],
    );
    const list = await admin('whitelist', 'list');
    assert.deepEqual(
      JSON.parse(list.stdout).entries.map((e: { ip: string }) => e.ip),
      ['192.0.2.50'],
    );
    const show = await admin('whitelist', 'show', '192.0.2.50');
    assert.equal(JSON.parse(show.stdout).ip, '192.0.2.50');
    const unknown = await admin('whitelist', 'add', '192.0.2.51', '--operator', 'ghost');
    assert.match(unknown.stderr, /error ERR_NOT_FOUND:/);
    const removed = await admin('whitelist', 'delete', '192.0.2.50', '--operator', 'cli-app');
    assert.equal(JSON.parse(removed.stdout).removed, 1);
  });

  test('operators delete asks for confirmation: without a terminal it needs --yes', async () => {
    const refused = await admin('operators', 'delete', 'cli-app');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--yes/);
    assert.notEqual(await dev.daemon.device.store.getOperator('cli-app'), null);
    const deleted = await admin('operators', 'delete', 'cli-app', '--yes');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(JSON.parse(deleted.stdout).licencesRevoked, 1);
    assert.equal(await dev.daemon.device.store.getOperator('cli-app'), null);
  });
});
