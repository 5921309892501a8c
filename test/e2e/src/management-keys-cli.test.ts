import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DevJson } from '@coffer/cli';
import { runCli, spawnCli, stopChild, tempDir } from './support.js';

/*
 * `coffer admin keys …` (manual §4.4.2) against a `coffer dev` device, and the demo keys that
 * `coffer dev` makes for its demo operator.
 */
describe('coffer admin keys against a coffer dev device', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dev: Awaited<ReturnType<typeof spawnCli>>;
  let data: string;
  let json: DevJson;
  let safe: string[];

  before(async () => {
    tmp = await tempDir();
    data = join(tmp.dir, 'dev');
    dev = await spawnCli(
      ['dev', '--data', data, '--panel-port', '0', '--management-port', '0', '--service-port', '0'],
      /dev\.json:\s+(\S+)/,
    );
    json = JSON.parse(readFileSync(join(data, 'dev.json'), 'utf8'));
    safe = ['admin', '--data', data, '--as', 'C1'];
  });
  after(async () => {
    if (dev) await stopChild(dev.child);
    await tmp?.cleanup();
  });

  const run = async (...args: string[]) => {
    const r = await runCli(args);
    assert.equal(r.code, 0, `coffer ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const refused = async (code: string, ...args: string[]) => {
    const r = await runCli(args);
    assert.notEqual(r.code, 0, `coffer ${args.join(' ')} should fail`);
    assert.match(r.stderr, new RegExp(`error ${code}:`));
    return r;
  };

  it('coffer dev makes the demo keys, bound to the demo operator, and lists them in dev.json', async () => {
    assert.deepEqual(
      json.keys.map((k) => k.type),
      ['AES-256', 'RSA-2048', 'EC-P256', 'SM2', 'Ed25519'],
    );
    for (const key of json.keys) {
      const r = await run('--json', ...safe, 'keys', 'show', String(key.index));
      const detail = JSON.parse(r.stdout);
      assert.equal(detail.type, key.type);
      assert.equal(detail.status, 'normal');
      assert.deepEqual(
        detail.operators.map((o: { operator: string }) => o.operator),
        [json.operator!.name],
      );
    }
  });

  it('keys list prints the manual’s table and the paging line; --json gives the page', async () => {
    const table = await run(...safe, 'keys', 'list', '--class', 'asymmetric');
    assert.match(table.stdout, /^index\s+type\s+creator\s+status\s+validityDays\s+description\s+createdAt/m);
    assert.match(table.stdout, /From 1 To 4 Total 4 rows/);
    const page = JSON.parse((await run('--json', ...safe, 'keys', 'list', '--size', '2')).stdout);
    assert.equal(page.page.total, 5);
    assert.equal(page.keys.length, 2);
  });

  it('keys add makes one key or a batch, keys show details it', async () => {
    const one = JSON.parse(
      (
        await run(
          '--json',
          ...safe,
          'keys',
          'add',
          '--type',
          'HMAC-SHA256',
          '--index',
          '40',
          '--validity-days',
          '30',
        )
      ).stdout,
    );
    assert.deepEqual([one.index, one.type, one.validityDays, one.usage], [40, 'HMAC-SHA256', 30, ['mac']]);
    const batch = await run(
      ...safe,
      'keys',
      'add',
      '--type',
      'EC-P256',
      '--count',
      '3',
      '--usage',
      'sign,verify,derive',
    );
    assert.match(batch.stdout, /3 EC-P256 keys added: 41-43/);
    const show = await run(...safe, 'keys', 'show', '41');
    assert.match(show.stdout, /usage:\s+sign, verify, derive/);
    assert.match(show.stdout, /BEGIN PUBLIC KEY/);
    await refused('ERR_CONFLICT', ...safe, 'keys', 'add', '--type', 'AES-256', '--index', '40');
    await refused('ERR_KEY_TYPE', ...safe, 'keys', 'add', '--type', 'DES');
    await refused('ERR_KEY_USAGE', ...safe, 'keys', 'add', '--type', 'Ed25519', '--usage', 'encrypt');
  });

  it('keys discard, enable, invalidate and delete change the status as the manual says', async () => {
    await run(...safe, 'keys', 'discard', '43');
    await refused('ERR_KEY_STATUS', ...safe, 'keys', 'delete', '43', '--yes');
    assert.match((await run(...safe, 'keys', 'enable', '43')).stdout, /key 43 is normal/);
    await run(...safe, 'keys', 'invalidate', '43');
    await refused('ERR_KEY_STATUS', ...safe, 'keys', 'restore-status', '43');
    await refused('ERR_BAD_REQUEST', ...safe, 'keys', 'delete', '43');
    assert.match((await run(...safe, 'keys', 'delete', '43', '--yes')).stdout, /key 43 deleted/);
  });

  it('keys bind and unbind take operators by name', async () => {
    assert.match((await run(...safe, 'keys', 'operators')).stdout, /^demo$/m);
    assert.match((await run(...safe, 'keys', 'bind', '40', '--operator', 'demo')).stdout, /bound to: demo/);
    assert.match(
      (await run(...safe, 'keys', 'unbind', '40', '--operator', 'demo')).stdout,
      /bound to: \(nobody\)/,
    );
    await refused('ERR_NOT_FOUND', ...safe, 'keys', 'bind', '40', '--operator', 'nobody');
  });

  it('keys import reads PEM, JWK and hex files and reports each key; a bad file changes nothing', async () => {
    const pem = join(tmp.dir, 'keys.pem');
    writeFileSync(
      pem,
      [
        generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
          format: 'pem',
          type: 'pkcs1',
        }),
        generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({
          format: 'pem',
          type: 'pkcs8',
        }),
      ].join('\n'),
    );
    const imported = await run(...safe, 'keys', 'import', pem, '--description', 'migrated');
    assert.match(imported.stdout, /PEM block 1 \(RSA PRIVATE KEY\): imported/);
    assert.match(imported.stdout, /2 keys imported/);
    const jwk = join(tmp.dir, 'key.jwk');
    writeFileSync(jwk, JSON.stringify(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })));
    const report = JSON.parse((await run('--json', ...safe, 'keys', 'import', jwk)).stdout);
    assert.equal(report.written, 1);
    const hex = join(tmp.dir, 'sm4.hex');
    writeFileSync(hex, `${randomBytes(16).toString('hex')}\n${randomBytes(16).toString('hex')}\n`);
    assert.match((await run(...safe, 'keys', 'import', hex, '--type', 'SM4')).stdout, /2 keys imported/);
    const before = JSON.parse((await run('--json', ...safe, 'keys', 'list')).stdout).page.total;
    writeFileSync(hex, `${randomBytes(16).toString('hex')}\n${randomBytes(8).toString('hex')}\n`);
    const bad = await refused('ERR_KEY_MATERIAL', ...safe, 'keys', 'import', hex, '--type', 'SM4');
    assert.match(bad.stderr, /line 2: refused ERR_KEY_MATERIAL/);
    assert.equal(JSON.parse((await run('--json', ...safe, 'keys', 'list')).stdout).page.total, before);
  });

  it('keys backup writes a file that keys restore takes back; the System Manager is refused', async () => {
    const out = join(tmp.dir, 'backup.json');
    await run(...safe, 'keys', 'backup', '--index', '40', '--index', '41', '--out', out);
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).count, 2);
    const all = join(tmp.dir, 'all.json');
    const r = await run(...safe, 'keys', 'backup', '--class', 'symmetric', '--out', all);
    assert.match(r.stdout, /backup of \d+ keys written to/);
    const restored = await run(...safe, 'keys', 'restore', out);
    assert.match(restored.stdout, /0 keys restored, 2 already here/);
    await refused('ERR_FORBIDDEN', 'admin', '--data', data, '--as', 'B1', 'keys', 'list');
  });
});
