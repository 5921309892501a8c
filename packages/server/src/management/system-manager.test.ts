import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import {
  AuditLog,
  addOperator,
  addServiceWhitelist,
  CofferError,
  type CommitChange,
  deleteOperator,
  deleteServiceWhitelist,
  deriveKeyring,
  findCurrentLicence,
  getOperatorDetail,
  getServiceWhitelistEntry,
  type IssueLicenceInput,
  isServiceAllowed,
  issueLicence,
  type Keyring,
  listOperators,
  listServiceWhitelist,
  openLicence,
  type Store,
  type SystemManagerDeps,
  sealOperatorRecord,
} from '@coffer/core';
import { issueClientCertificate, makeDeviceCa } from '../daemon/device-ca.js';
import { openSqliteStore } from '../store/sqlite-store.js';

/*
 * The System Manager's domain logic (`operators/` in @coffer/core) over the real SQLite adapter and
 * the real device CA: what the routes call, without HTTP. The end-to-end suite drives the same over
 * HTTPS.
 */

const PIN = '12AB34CD';

function isCode(code: string, field?: string): (error: unknown) => boolean {
  return (error) =>
    error instanceof CofferError &&
    error.code === code &&
    (field === undefined || error.details['field'] === field);
}

let root: string;
let ca: { certPem: string; keyPkcs8: Buffer };

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-system-manager-'));
  ca = await makeDeviceCa(new Date(), 'coffer-test-01');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('System Manager domain logic', () => {
  let store: Store;
  let keyring: Keyring;
  let deps: SystemManagerDeps;
  let log: AuditLog;
  let counter = 0;
  let certificatesIssued = 0;

  /** The audit entry a route would write, inside the change's transaction. */
  function commitAs(content: string): CommitChange {
    return (tx, details) =>
      log
        .append(
          {
            source: 'management',
            account: 'adminB1',
            clientIp: '127.0.0.1',
            businessType: 'test',
            result: 'success',
            content,
            details,
          },
          tx,
        )
        .then(() => undefined);
  }

  function licenceInput(overrides: Partial<IssueLicenceInput> = {}): IssueLicenceInput {
    return {
      operator: 'payments',
      pin: PIN,
      pinConfirm: PIN,
      maxConnections: 8,
      issuedBy: 'adminB1',
      deviceId: 'coffer-test-01',
      service: { host: '127.0.0.1', port: 1813 },
      caCertPem: ca.certPem,
      iterations: 1_000,
      issueCertificate: async (operator) => {
        certificatesIssued += 1;
        const cert = await issueClientCertificate(
          { certPem: ca.certPem, keyPkcs8: Buffer.from(ca.keyPkcs8) },
          { commonName: operator, validityDays: 730 },
        );
        return { certPem: cert.certPem, keyPkcs8: cert.keyPkcs8 };
      },
      ...overrides,
    };
  }

  beforeEach(async () => {
    store = await openSqliteStore(join(root, `s${counter++}.sqlite`));
    keyring = deriveKeyring(Buffer.alloc(16, counter));
    deps = { store, keyring, now: () => new Date('2026-03-01T08:00:00.000Z') };
    log = new AuditLog(store, () => new Date());
    certificatesIssued = 0;
  });

  afterEach(async () => {
    await store.close();
  });

  async function add(name: string, description = ''): Promise<void> {
    await addOperator(deps, { name, description, creator: 'adminB1' }, commitAs(`Add operator [${name}];`));
  }

  describe('operators', () => {
    it('add records the creator and time with a MAC, and its audit entry in the same transaction', async () => {
      const view = await addOperator(
        deps,
        { name: 'payments', description: 'the payments app', creator: 'adminB1' },
        commitAs('Add operator [payments];'),
      );
      assert.deepEqual(view, {
        name: 'payments',
        description: 'the payments app',
        creator: 'adminB1',
        createdAt: '2026-03-01T08:00:00.000Z',
      });
      const stored = await store.getOperator('payments');
      assert.deepEqual(stored, sealOperatorRecord(keyring, view));
      const [entry] = await store.listAudit({});
      assert.equal(entry?.content, 'Add operator [payments];');
    });

    it('a name that exists is refused with ERR_CONFLICT and writes no audit success', async () => {
      await add('payments');
      await assert.rejects(
        addOperator(deps, { name: 'payments', description: '', creator: 'adminB2' }, commitAs('again')),
        isCode('ERR_CONFLICT', 'name'),
      );
      assert.equal(await store.countAudit({}), 1);
      assert.equal((await store.getOperator('payments'))?.creator, 'adminB1');
    });

    it('a bad name is refused with ERR_OPERATOR_NAME, a long description with ERR_BAD_REQUEST', async () => {
      await assert.rejects(
        addOperator(deps, { name: 'no spaces', description: '', creator: 'adminB1' }, commitAs('x')),
        isCode('ERR_OPERATOR_NAME'),
      );
      await assert.rejects(
        addOperator(deps, { name: 'ok', description: 'x'.repeat(257), creator: 'adminB1' }, commitAs('x')),
        isCode('ERR_BAD_REQUEST', 'description'),
      );
      assert.equal(await store.countOperators(), 0);
    });

    it('if the audit entry cannot be written the operator is not added', async () => {
      const failing: CommitChange = async () => {
        throw new CofferError('ERR_AUDIT_WRITE', 'The audit log is full.');
      };
      await assert.rejects(
        addOperator(deps, { name: 'payments', description: '', creator: 'adminB1' }, failing),
        isCode('ERR_AUDIT_WRITE'),
      );
      assert.equal(await store.getOperator('payments'), null);
    });

    it('lists by name a page at a time with the total', async () => {
      for (const name of ['delta', 'alpha', 'charlie', 'bravo', 'echo']) await add(name);
      const first = await listOperators(deps, { limit: 2, offset: 0 });
      assert.deepEqual(
        first.operators.map((o) => o.name),
        ['alpha', 'bravo'],
      );
      assert.equal(first.total, 5);
      const last = await listOperators(deps, { limit: 2, offset: 4 });
      assert.deepEqual(
        last.operators.map((o) => o.name),
        ['echo'],
      );
    });

    it('a record edited behind the device’s back is reported with ERR_INTEGRITY', async () => {
      await add('payments');
      const record = await store.getOperator('payments');
      await store.transaction(async (tx) => {
        await tx.deleteOperator('payments');
        await tx.insertOperator({ ...record!, creator: 'mallory' });
      });
      await assert.rejects(listOperators(deps, { limit: 10, offset: 0 }), isCode('ERR_INTEGRITY'));
      await assert.rejects(getOperatorDetail(deps, 'payments'), isCode('ERR_INTEGRITY'));
      await assert.rejects(
        addServiceWhitelist(
          deps,
          { ip: '192.0.2.1', operators: ['payments'], addedBy: 'adminB1' },
          commitAs('x'),
        ),
        isCode('ERR_INTEGRITY'),
      );
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.1', 'payments'), false);
    });

    it('detail shows basic information, whitelisted IPs, bound keys and the current licence', async () => {
      await add('payments', 'the payments app');
      await addServiceWhitelist(
        deps,
        { ip: '192.0.2.1', operators: ['payments'], addedBy: 'adminB1' },
        commitAs('wl'),
      );
      await store.insertKey({
        index: 7,
        type: 'AES-256',
        keyClass: 'symmetric',
        creator: 'adminC1',
        status: 'normal',
        invalidReason: null,
        validityDays: 365,
        description: 'data key',
        createdAt: '2026-03-01T08:00:00.000Z',
        expiresAt: '2027-03-01T08:00:00.000Z',
        usage: ['encrypt', 'decrypt'],
        checkValue: 'abcdef',
        publicKey: null,
        sealed: Buffer.from('sealed'),
        version: 1,
        mac: '0'.repeat(64),
      });
      await store.addBinding({
        keyIndex: 7,
        operator: 'payments',
        boundAt: '2026-03-01T09:00:00.000Z',
        boundBy: 'adminC1',
        mac: '0'.repeat(64),
      });
      assert.equal((await getOperatorDetail(deps, 'payments')).licence, null);
      const issued = await issueLicence(deps, licenceInput(), commitAs('licence'));
      const detail = await getOperatorDetail(deps, 'payments');
      assert.equal(detail.operator.description, 'the payments app');
      assert.deepEqual(detail.whitelist, [
        { ip: '192.0.2.1', addedAt: '2026-03-01T08:00:00.000Z', addedBy: 'adminB1' },
      ]);
      assert.deepEqual(
        detail.keys.map((k) => [k.index, k.type, k.status, k.boundBy]),
        [[7, 'AES-256', 'normal', 'adminC1']],
      );
      assert.deepEqual(detail.licence, issued.licence);
      assert.equal(detail.licencesIssued, 1);
      await assert.rejects(getOperatorDetail(deps, 'nobody'), isCode('ERR_NOT_FOUND'));
    });

    it('delete removes whitelist pairs and bindings, revokes licences, and bans the operator at once', async () => {
      await add('payments');
      await add('billing');
      await addServiceWhitelist(
        deps,
        { ip: '192.0.2.1', operators: ['payments', 'billing'], addedBy: 'adminB1' },
        commitAs('wl'),
      );
      await addServiceWhitelist(
        deps,
        { ip: '192.0.2.2', operators: ['payments'], addedBy: 'adminB1' },
        commitAs('wl'),
      );
      const { licence } = await issueLicence(deps, licenceInput(), commitAs('licence'));
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.1', 'payments'), true);

      const result = await deleteOperator(deps, 'payments', commitAs('Delete operator [payments];'));
      assert.deepEqual(result, { whitelistRemoved: 2, bindingsRemoved: 0, licencesRevoked: 1 });
      assert.equal(await store.getOperator('payments'), null);
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.1', 'payments'), false);
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.1', 'billing'), true);
      assert.equal((await store.getLicence(licence.serial))?.status, 'revoked');
      assert.equal(await findCurrentLicence(store, keyring, licence), null);
      const last = (await store.listAudit({ order: 'desc', limit: 1 }))[0];
      assert.equal(last?.content, 'Delete operator [payments];');
      assert.match(last?.details ?? '', /whitelist pairs removed: 2.*licences revoked: 1/);
      await assert.rejects(deleteOperator(deps, 'payments', commitAs('again')), isCode('ERR_NOT_FOUND'));
    });
  });

  describe('licences', () => {
    beforeEach(async () => {
      await add('payments');
    });

    it('a licence opens with its PIN, chains to the device CA and is the operator’s current licence', async () => {
      const issued = await issueLicence(deps, licenceInput(), commitAs('Download license file [payments];'));
      const opened = await openLicence(issued.text, PIN);
      assert.equal(opened.operator, 'payments');
      assert.equal(opened.maxConnections, 8);
      assert.deepEqual(opened.service, { host: '127.0.0.1', port: 1813 });
      const cert = new X509Certificate(opened.certPem);
      const caCert = new X509Certificate(ca.certPem);
      assert.ok(cert.verify(caCert.publicKey));
      assert.ok(cert.checkIssued(caCert));
      assert.ok(cert.checkPrivateKey(opened.privateKey));
      assert.match(cert.subject, /CN=payments/);
      assert.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'clientAuth');
      assert.equal(cert.serialNumber.toLowerCase(), issued.licence.serial);
      assert.equal(cert.fingerprint256.replaceAll(':', '').toLowerCase(), issued.licence.certFingerprint);
      assert.equal(issued.licence.status, 'current');
      assert.deepEqual(
        await findCurrentLicence(store, keyring, issued.licence),
        await store.getLicence(issued.licence.serial),
      );
      assert.equal(
        await findCurrentLicence(store, keyring, {
          serial: issued.licence.serial,
          certFingerprint: 'ab'.repeat(32),
        }),
        null,
      );
      await assert.rejects(openLicence(issued.text, '12AB34CE'), isCode('ERR_PIN_WRONG'));
    });

    it('a new licence supersedes the current one: the operator is re-keyed', async () => {
      const first = await issueLicence(deps, licenceInput(), commitAs('first'));
      const second = await issueLicence(deps, licenceInput({ maxConnections: 2 }), commitAs('second'));
      assert.deepEqual(second.superseded, [first.licence.serial]);
      assert.notEqual(first.licence.certFingerprint, second.licence.certFingerprint);
      assert.equal((await store.getLicence(first.licence.serial))?.status, 'superseded');
      assert.equal(await findCurrentLicence(store, keyring, first.licence), null);
      assert.notEqual(await findCurrentLicence(store, keyring, second.licence), null);
      assert.equal((await getOperatorDetail(deps, 'payments')).licence?.maxConnections, 2);
      assert.equal((await getOperatorDetail(deps, 'payments')).licencesIssued, 2);
    });

    it('refuses PINs that break the card PIN rules, a confirmation that differs, and bad limits', async () => {
      await assert.rejects(
        issueLicence(deps, licenceInput({ pin: '12345678', pinConfirm: '12345678' }), commitAs('x')),
        isCode('ERR_PIN_RULE', 'pin'),
      );
      await assert.rejects(
        issueLicence(deps, licenceInput({ pin: 'ABC123', pinConfirm: 'ABC123' }), commitAs('x')),
        isCode('ERR_PIN_RULE', 'pin'),
      );
      await assert.rejects(
        issueLicence(deps, licenceInput({ pinConfirm: '12AB34CE' }), commitAs('x')),
        isCode('ERR_PIN_MISMATCH', 'pinConfirm'),
      );
      for (const maxConnections of [0, 10_001, 1.5, '8']) {
        await assert.rejects(
          issueLicence(deps, licenceInput({ maxConnections }), commitAs('x')),
          isCode('ERR_BAD_REQUEST', 'maxConnections'),
        );
      }
      assert.equal(certificatesIssued, 0);
      assert.deepEqual(await store.listLicences('payments'), []);
    });

    it('an unknown operator is refused with ERR_NOT_FOUND before any certificate is made', async () => {
      await assert.rejects(
        issueLicence(deps, licenceInput({ operator: 'nobody' }), commitAs('x')),
        isCode('ERR_NOT_FOUND'),
      );
      await assert.rejects(
        issueLicence(deps, licenceInput({ operator: '../x' }), commitAs('x')),
        isCode('ERR_OPERATOR_NAME'),
      );
      assert.equal(certificatesIssued, 0);
    });

    it('a certificate that does not chain to the device CA is refused and nothing is recorded', async () => {
      const other = await makeDeviceCa(new Date(), 'another-device');
      const input = licenceInput({
        issueCertificate: async (operator) => {
          const cert = await issueClientCertificate(other, { commonName: operator, validityDays: 1 });
          return { certPem: cert.certPem, keyPkcs8: cert.keyPkcs8 };
        },
      });
      await assert.rejects(issueLicence(deps, input, commitAs('x')), isCode('ERR_INTERNAL'));
      assert.deepEqual(await store.listLicences('payments'), []);
    });
  });

  describe('service whitelist', () => {
    beforeEach(async () => {
      for (const name of ['alpha', 'beta', 'gamma']) await add(name);
    });

    it('adds an IP with several operators, and lists and details it grouped by IP', async () => {
      const entry = await addServiceWhitelist(
        deps,
        { ip: '192.0.2.9', operators: ['beta', 'alpha', 'beta'], addedBy: 'adminB1' },
        commitAs('Add white list [192.0.2.9];'),
      );
      assert.deepEqual(
        entry.operators.map((o) => o.name),
        ['alpha', 'beta'],
      );
      await addServiceWhitelist(
        deps,
        { ip: '192.0.2.10', operators: ['gamma'], addedBy: 'adminB1' },
        commitAs('x'),
      );
      assert.deepEqual(
        (await listServiceWhitelist(deps)).map((e) => [e.ip, e.operators.map((o) => o.name)]),
        [
          ['192.0.2.10', ['gamma']],
          ['192.0.2.9', ['alpha', 'beta']],
        ],
      );
      assert.deepEqual(await getServiceWhitelistEntry(deps, '192.0.2.9'), entry);
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.9', 'alpha'), true);
      assert.equal(await isServiceAllowed(store, keyring, '::ffff:192.0.2.9', 'alpha'), true);
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.9', 'gamma'), false);
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.11', 'alpha'), false);
      assert.equal(await isServiceAllowed(store, keyring, 'not an ip', 'alpha'), false);
    });

    it('refuses unknown operators (naming them) and pairs already listed (naming them), adding nothing', async () => {
      await addServiceWhitelist(
        deps,
        { ip: '192.0.2.9', operators: ['alpha'], addedBy: 'adminB1' },
        commitAs('x'),
      );
      await assert.rejects(
        addServiceWhitelist(
          deps,
          { ip: '192.0.2.9', operators: ['beta', 'nobody', 'ghost'], addedBy: 'adminB1' },
          commitAs('x'),
        ),
        (error) =>
          isCode('ERR_NOT_FOUND')(error) &&
          String((error as CofferError).details['operators']) === 'nobody,ghost',
      );
      await assert.rejects(
        addServiceWhitelist(
          deps,
          { ip: '192.0.2.9', operators: ['beta', 'alpha'], addedBy: 'adminB1' },
          commitAs('x'),
        ),
        (error) =>
          isCode('ERR_CONFLICT')(error) && String((error as CofferError).details['operators']) === 'alpha',
      );
      assert.deepEqual(
        (await getServiceWhitelistEntry(deps, '192.0.2.9')).operators.map((o) => o.name),
        ['alpha'],
      );
    });

    it('refuses a malformed IP, an empty operator list and a bad name', async () => {
      await assert.rejects(
        addServiceWhitelist(deps, { ip: '192.0.2', operators: ['alpha'], addedBy: 'adminB1' }, commitAs('x')),
        isCode('ERR_IP_FORMAT'),
      );
      await assert.rejects(
        addServiceWhitelist(deps, { ip: '192.0.2.9', operators: [], addedBy: 'adminB1' }, commitAs('x')),
        isCode('ERR_BAD_REQUEST', 'operators'),
      );
      await assert.rejects(
        addServiceWhitelist(deps, { ip: '192.0.2.9', operators: ['a b'], addedBy: 'adminB1' }, commitAs('x')),
        isCode('ERR_OPERATOR_NAME', 'operators'),
      );
      await assert.rejects(getServiceWhitelistEntry(deps, '192.0.2.9'), isCode('ERR_NOT_FOUND'));
    });

    it('deletes one pair, then the whole IP; deleting what is not listed is ERR_NOT_FOUND', async () => {
      await addServiceWhitelist(
        deps,
        { ip: '192.0.2.9', operators: ['alpha', 'beta', 'gamma'], addedBy: 'adminB1' },
        commitAs('x'),
      );
      assert.equal(
        await deleteServiceWhitelist(deps, { ip: '192.0.2.9', operator: 'beta' }, commitAs('x')),
        1,
      );
      await assert.rejects(
        deleteServiceWhitelist(deps, { ip: '192.0.2.9', operator: 'beta' }, commitAs('x')),
        isCode('ERR_NOT_FOUND', 'operator'),
      );
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.9', 'beta'), false);
      assert.equal(await deleteServiceWhitelist(deps, { ip: '192.0.2.9' }, commitAs('x')), 2);
      await assert.rejects(
        deleteServiceWhitelist(deps, { ip: '192.0.2.9' }, commitAs('x')),
        isCode('ERR_NOT_FOUND', 'ip'),
      );
      assert.deepEqual(await listServiceWhitelist(deps), []);
    });

    it('a pair edited behind the device’s back does not allow the service and is reported', async () => {
      await addServiceWhitelist(
        deps,
        { ip: '192.0.2.9', operators: ['alpha'], addedBy: 'adminB1' },
        commitAs('x'),
      );
      // Someone with the database file copies alpha's pair for beta.
      const [pair] = await store.listServiceWhitelist({ ip: '192.0.2.9' });
      await store.addServiceWhitelist({ ...pair!, operator: 'beta' });
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.9', 'beta'), false);
      assert.equal(await isServiceAllowed(store, keyring, '192.0.2.9', 'alpha'), true);
      await assert.rejects(listServiceWhitelist(deps), isCode('ERR_INTEGRITY'));
    });
  });
});
