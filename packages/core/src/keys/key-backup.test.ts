import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { deriveKeyring } from '../keyring/keyring.js';
import { type KeyBackupEntry, makeKeyBackup, openKeyBackup, readKeyBackupHeader } from './key-backup.js';

const mk = randomBytes(16);
const keyring = deriveKeyring(mk);
const sameDomain = deriveKeyring(Buffer.from(mk));
const otherDomain = deriveKeyring(randomBytes(16));
const code = (c: string) => (err: unknown) => err instanceof CofferError && err.code === c;

const entry: KeyBackupEntry = {
  index: 21,
  type: 'AES-256',
  creator: 'adminC1',
  status: 'normal',
  invalidReason: null,
  validityDays: 3650,
  description: 'P11_OBJECT_#',
  createdAt: '2020-06-24T09:03:58.000Z',
  expiresAt: '2030-06-22T09:03:58.000Z',
  usage: ['encrypt', 'decrypt'],
  operators: ['app1'],
  material: randomBytes(32).toString('base64'),
};
const meta = { deviceId: 'dev-1', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'adminC1' };

describe('key backup files', () => {
  it('restore on a device of the same key domain (same MK components)', () => {
    const file = makeKeyBackup(keyring, meta, [entry]);
    const opened = openKeyBackup(sameDomain, JSON.parse(JSON.stringify(file)));
    assert.deepEqual(opened.entries, [entry]);
    assert.equal(opened.header.count, 1);
    assert.equal(opened.header.kcv, keyring.kcv);
  });

  it('keep key material out of the clear part of the file', () => {
    const text = JSON.stringify(makeKeyBackup(keyring, meta, [entry]));
    assert.ok(!text.includes(entry.material));
    assert.ok(!text.includes('P11_OBJECT'));
  });

  it('refuse a backup of another key domain with ERR_BACKUP_DOMAIN and its check value', () => {
    const file = makeKeyBackup(keyring, meta, [entry]);
    assert.throws(
      () => openKeyBackup(otherDomain, file),
      (e: unknown) =>
        code('ERR_BACKUP_DOMAIN')(e) &&
        /another key domain \(check value/.test((e as Error).message) &&
        (e as Error).message.includes(keyring.kcv.slice(0, 16)),
    );
  });

  it('refuse a backup whose header was altered with ERR_BACKUP_FORMAT', () => {
    const file = makeKeyBackup(keyring, meta, [entry]);
    assert.throws(() => openKeyBackup(keyring, { ...file, createdBy: 'adminC2' }), code('ERR_BACKUP_FORMAT'));
    assert.throws(() => openKeyBackup(keyring, { ...file, count: 2 }), code('ERR_BACKUP_FORMAT'));
  });

  it('refuse a backup whose ciphertext was altered with ERR_BACKUP_FORMAT', () => {
    const file = makeKeyBackup(keyring, meta, [entry]);
    const ct = Buffer.from(file.ciphertext, 'base64');
    ct[5]! ^= 1;
    assert.throws(
      () => openKeyBackup(keyring, { ...file, ciphertext: ct.toString('base64') }),
      code('ERR_BACKUP_FORMAT'),
    );
  });

  it('refuse what is not a backup, or a backup of another version, with ERR_BACKUP_FORMAT', () => {
    assert.throws(() => readKeyBackupHeader('text'), code('ERR_BACKUP_FORMAT'));
    assert.throws(() => readKeyBackupHeader({ format: 'coffer-key-import' }), code('ERR_BACKUP_FORMAT'));
    const file = makeKeyBackup(keyring, meta, [entry]);
    assert.throws(() => openKeyBackup(keyring, { ...file, version: 2 }), code('ERR_BACKUP_FORMAT'));
  });
});
