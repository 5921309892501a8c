import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { deriveKeyring } from '../keyring/keyring.js';
import {
  checkOperatorDescription,
  checkOperatorName,
  licenceIntact,
  operatorIntact,
  sealLicenceRecord,
  sealOperatorRecord,
  sealServiceWhitelistRecord,
  serviceWhitelistIntact,
} from './operator-records.js';
import { checkServiceIp } from './service-whitelist.js';

const keyring = deriveKeyring(Buffer.alloc(16, 7));
const otherKeyring = deriveKeyring(Buffer.alloc(16, 8));

function isCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof CofferError && error.code === code;
}

describe('operator account names', () => {
  for (const name of ['a', '3333', 'payments', 'app_1.prod-eu', 'A'.repeat(32), 'x-._']) {
    it(`accepts ${JSON.stringify(name)}`, () => {
      assert.equal(checkOperatorName(name), name);
    });
  }
  for (const [name, why] of [
    ['', 'empty'],
    ['A'.repeat(33), 'longer than 32'],
    ['pay ments', 'a space'],
    ['pay/ments', 'a slash'],
    ['..', 'dots only'],
    ['-flag', 'a leading dash'],
    ['.hidden', 'a leading dot'],
    ['opérateur', 'a non-ASCII letter'],
    [42, 'not a string'],
  ] as const) {
    it(`refuses ${why} with ERR_OPERATOR_NAME`, () => {
      assert.throws(() => checkOperatorName(name), isCode('ERR_OPERATOR_NAME'));
    });
  }
});

describe('operator descriptions', () => {
  it('accept up to 256 characters, counted as characters not bytes', () => {
    assert.equal(checkOperatorDescription(''), '');
    assert.equal(checkOperatorDescription('é'.repeat(256)), 'é'.repeat(256));
  });
  it('refuse more than 256 characters, control characters and non-text with ERR_BAD_REQUEST', () => {
    assert.throws(() => checkOperatorDescription('x'.repeat(257)), isCode('ERR_BAD_REQUEST'));
    assert.throws(() => checkOperatorDescription('two\nlines'), isCode('ERR_BAD_REQUEST'));
    assert.throws(() => checkOperatorDescription(5), isCode('ERR_BAD_REQUEST'));
  });
});

describe('service whitelist IPs', () => {
  it('accept dotted-quad IPv4 and unwrap IPv4-mapped IPv6', () => {
    assert.equal(checkServiceIp('192.168.25.81'), '192.168.25.81');
    assert.equal(checkServiceIp('::ffff:127.0.0.1'), '127.0.0.1');
  });
  for (const ip of ['192.168.25', '192.168.025.1', '256.1.1.1', '::1', 'localhost', '', null]) {
    it(`refuse ${JSON.stringify(ip)} with ERR_IP_FORMAT`, () => {
      assert.throws(() => checkServiceIp(ip), isCode('ERR_IP_FORMAT'));
    });
  }
});

describe('record MACs', () => {
  const operator = sealOperatorRecord(keyring, {
    name: 'payments',
    description: 'the payments application',
    creator: 'adminB1',
    createdAt: '2026-01-01T08:00:00.000Z',
  });
  const licence = sealLicenceRecord(keyring, {
    serial: '5a01',
    operator: 'payments',
    certFingerprint: 'ab'.repeat(32),
    maxConnections: 8,
    issuedAt: '2026-01-01T08:00:00.000Z',
    issuedBy: 'adminB1',
    status: 'current',
  });
  const pair = sealServiceWhitelistRecord(keyring, {
    ip: '192.0.2.10',
    operator: 'payments',
    addedAt: '2026-01-01T08:00:00.000Z',
    addedBy: 'adminB1',
  });

  it('verify as written', () => {
    assert.ok(operatorIntact(keyring, operator));
    assert.ok(licenceIntact(keyring, licence));
    assert.ok(serviceWhitelistIntact(keyring, pair));
  });

  it('fail for any edited field, and under another key domain', () => {
    assert.ok(!operatorIntact(keyring, { ...operator, creator: 'adminB2' }));
    assert.ok(!licenceIntact(keyring, { ...licence, status: 'superseded' }));
    assert.ok(!licenceIntact(keyring, { ...licence, status: 'current', maxConnections: 9 }));
    assert.ok(!serviceWhitelistIntact(keyring, { ...pair, operator: 'billing' }));
    assert.ok(!operatorIntact(otherKeyring, operator));
  });

  it('do not verify a record of one table as another (the table name is under the MAC)', () => {
    const asPair = sealServiceWhitelistRecord(keyring, {
      ip: operator.name,
      operator: operator.description,
      addedAt: operator.creator,
      addedBy: operator.createdAt,
    });
    assert.ok(!operatorIntact(keyring, { ...operator, mac: asPair.mac }));
  });
});
