/**
 * The one contract every storage adapter passes (DESIGN §9, STYLE item 6): the SQLite adapter runs it
 * in `sqlite-store.test.ts`, and the PostgreSQL adapter will run it unchanged. It checks the rules
 * written in `@coffer/core`'s store port, plus four the port leaves open and this suite pins so that
 * adapters agree: `setCardAttempts` on an unknown card is ERR_NOT_FOUND; an empty `sources` list
 * selects no audit entry; an IP given twice to `deleteToolWhitelist` counts once; and a
 * transaction's `tx` refuses use (ERR_STORE) after the transaction has ended.
 *
 * This module registers `node:test` suites when called and imports fast-check (a development
 * dependency), so only test files import it: it is not exported from the package's index.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  AuditDraft,
  AuditEntry,
  AuditSource,
  CardRecord,
  DomainRecord,
  KeyBindingRecord,
  KeyRecord,
  LicenceRecord,
  OperatorRecord,
  ServiceWhitelistRecord,
  Store,
  StoreTx,
  ToolWhitelistRecord,
} from '@coffer/core';
import { AuditLog, CofferError } from '@coffer/core';
import fc from 'fast-check';

/** A fresh, empty store and how to dispose of it (close it and delete its files or schema). */
export interface StoreUnderTest {
  store: Store;
  cleanup(): Promise<void>;
}

/** Every byte value, twice, so that a driver that mangles any byte (or stops at NUL) is caught. */
const ALL_BYTES = Buffer.from([
  ...Array.from({ length: 256 }, (_, i) => i),
  ...Array.from({ length: 256 }, (_, i) => 255 - i),
]);

/** The `prevDigest` of the first audit entry (DESIGN §8). */
const GENESIS = '0'.repeat(64);

function makeCard(overrides: Partial<CardRecord> = {}): CardRecord {
  return {
    cardId: 'card-a1-0001',
    slot: 'A1',
    role: 'device-manager',
    account: 'adminA1',
    publicKey: Buffer.concat([Buffer.from([0x30, 0x59, 0x00]), ALL_BYTES]),
    status: 'active',
    factor: null,
    createdAt: '2025-06-01T08:00:00.000Z',
    replacedAt: null,
    failedAttempts: 0,
    blocked: false,
    mac: 'a'.repeat(64),
    ...overrides,
  };
}

function makeDomain(overrides: Partial<DomainRecord> = {}): DomainRecord {
  return {
    initialisedAt: '2025-06-01T08:00:00.000Z',
    kcv: 'c'.repeat(64),
    caCertPem: '-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n',
    caKeySealed: Buffer.concat([ALL_BYTES, Buffer.from([0, 0, 0])]),
    mac: 'd'.repeat(64),
    ...overrides,
  };
}

function makeOperator(name: string, overrides: Partial<OperatorRecord> = {}): OperatorRecord {
  return {
    name,
    description: `the ${name} application`,
    creator: 'adminB1',
    createdAt: '2025-06-01T08:00:00.000Z',
    mac: '1'.repeat(64),
    ...overrides,
  };
}

function makeLicence(
  serial: string,
  operator: string,
  overrides: Partial<LicenceRecord> = {},
): LicenceRecord {
  return {
    serial,
    operator,
    certFingerprint: `${serial}`.padEnd(64, 'f'),
    maxConnections: 16,
    issuedAt: '2025-06-01T08:00:00.000Z',
    issuedBy: 'adminB1',
    status: 'current',
    mac: '2'.repeat(64),
    ...overrides,
  };
}

function makePair(ip: string, operator: string): ServiceWhitelistRecord {
  return { ip, operator, addedAt: '2025-06-01T08:00:00.000Z', addedBy: 'adminB1', mac: '3'.repeat(64) };
}

function makeKey(index: number, overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    index,
    type: 'AES-256',
    keyClass: 'symmetric',
    creator: 'adminC1',
    status: 'normal',
    invalidReason: null,
    validityDays: 365,
    description: `key ${index}`,
    createdAt: '2025-06-01T08:00:00.000Z',
    expiresAt: '2026-06-01T08:00:00.000Z',
    usage: ['encrypt', 'decrypt'],
    checkValue: 'a1b2c3',
    publicKey: null,
    sealed: Buffer.concat([ALL_BYTES, Buffer.from([index & 0xff])]),
    version: 1,
    mac: '4'.repeat(64),
    ...overrides,
  };
}

function makeBinding(keyIndex: number, operator: string): KeyBindingRecord {
  return { keyIndex, operator, boundAt: '2025-06-01T09:00:00.000Z', boundBy: 'adminC1', mac: '5'.repeat(64) };
}

function makeWhitelistEntry(ip: string): ToolWhitelistRecord {
  return { ip, addedAt: '2025-06-01T08:00:00.000Z', addedBy: 'adminB1', mac: 'e'.repeat(64) };
}

const draft: AuditDraft = {
  source: 'management',
  account: 'adminB1',
  clientIp: '192.0.2.10',
  businessType: 'add',
  result: 'success',
  content: 'add tool whitelist;192.0.2.20',
};

/** A clock that reads the given times (ISO strings) in turn. */
function clockOf(times: readonly string[]): () => Date {
  let index = 0;
  return () => {
    const time = times[index++];
    if (time === undefined) throw new Error('The test clock ran out of times.');
    return new Date(time);
  };
}

function tickingClock(): () => Date {
  let tick = 0;
  return () => new Date(Date.UTC(2025, 5, 1) + 1000 * tick++);
}

function isCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof CofferError && error.code === code;
}

function bySlot<T extends { slot: string }>(records: T[]): T[] {
  return [...records].sort((a, b) => (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0));
}

/** Writes one of every record type, in `tx` or straight to the store. */
async function fillDomain(tx: StoreTx): Promise<void> {
  await tx.putDomain(makeDomain());
  await tx.putCard(makeCard());
  await tx.putCard(
    makeCard({ cardId: 'card-c1-0001', slot: 'C1', role: 'safe-manager', account: 'adminC1' }),
  );
  await tx.putShare({ slot: 'A1', sealed: Buffer.from('share-one') });
  await tx.putMkPartPin({ slot: 'A1', verifier: 'scrypt$verifier' });
  await tx.addToolWhitelist(makeWhitelistEntry('192.0.2.20'));
  await tx.putSetting('clockOffsetMs', '1500');
  await tx.insertOperator(makeOperator('payments'));
  await tx.putLicence(makeLicence('01', 'payments'));
  await tx.addServiceWhitelist(makePair('192.0.2.30', 'payments'));
  await tx.insertKey(makeKey(1));
  await tx.addBinding(makeBinding(1, 'payments'));
}

/**
 * Registers the store contract suite under `name`. `makeStore` is called before every test for a
 * new, empty store; its `cleanup` after the test.
 */
export function runStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: Store;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    describe('meta and settings', () => {
      it('reads null for a meta key never written, then the last value written', async () => {
        assert.equal(await store.getMeta('deviceId'), null);
        await store.setMeta('deviceId', 'coffer-01');
        await store.setMeta('deviceId', 'coffer-02');
        assert.equal(await store.getMeta('deviceId'), 'coffer-02');
        assert.equal(await store.getMeta('other'), null);
      });

      it('reads null for a setting never written, then the last value written', async () => {
        assert.equal(await store.getSetting('network'), null);
        await store.putSetting('network', '{"ip":"192.0.2.1"}');
        await store.putSetting('network', '{"ip":"192.0.2.2"}');
        await store.putSetting('runningLog', '');
        assert.equal(await store.getSetting('network'), '{"ip":"192.0.2.2"}');
        assert.equal(await store.getSetting('runningLog'), '');
        assert.equal(await store.getSetting('clockOffsetMs'), null);
      });
    });

    describe('domain', () => {
      it('is null on a new store and round-trips every field, its sealed key byte for byte', async () => {
        assert.equal(await store.getDomain(), null);
        const domain = makeDomain();
        await store.putDomain(domain);
        const read = await store.getDomain();
        assert.ok(read !== null && Buffer.isBuffer(read.caKeySealed));
        assert.deepEqual(read, domain);
      });

      it('keeps a single row: a second put replaces the first', async () => {
        await store.putDomain(makeDomain());
        const replacement = makeDomain({ kcv: 'f'.repeat(64), caKeySealed: Buffer.from([1, 2, 3]) });
        await store.putDomain(replacement);
        assert.deepEqual(await store.getDomain(), replacement);
      });
    });

    describe('cards', () => {
      it('round-trips a card with its public key intact and its nulls as nulls', async () => {
        const card = makeCard();
        await store.putCard(card);
        const read = await store.getCard(card.cardId);
        assert.ok(read !== null && Buffer.isBuffer(read.publicKey));
        assert.deepEqual(read, card);
        assert.strictEqual(read.factor, null);
        assert.strictEqual(read.replacedAt, null);
      });

      it('round-trips a System Manager card with a factor, and a blocked card', async () => {
        const card = makeCard({
          cardId: 'card-b1',
          slot: 'B1',
          role: 'system-manager',
          account: 'adminB1',
          factor: 'f4c70r',
          failedAttempts: 5,
          blocked: true,
        });
        await store.putCard(card);
        assert.deepEqual(await store.getCard('card-b1'), card);
      });

      it('stores only the bytes of a Buffer that is a view into a larger one', async () => {
        const backing = Buffer.from('xxxxPUBLICKEYyyyy');
        await store.putCard(makeCard({ publicKey: backing.subarray(4, 13) }));
        const read = await store.getCard('card-a1-0001');
        assert.deepEqual(read?.publicKey, Buffer.from('PUBLICKEY'));
      });

      it('reads null for an unknown card id', async () => {
        assert.equal(await store.getCard('no-such-card'), null);
      });

      it('upserts by cardId: a second put replaces the card, a new id adds one', async () => {
        await store.putCard(makeCard());
        const replaced = makeCard({
          status: 'replaced',
          replacedAt: '2025-06-02T08:00:00.000Z',
          mac: 'b'.repeat(64),
        });
        await store.putCard(replaced);
        await store.putCard(makeCard({ cardId: 'card-a1-0002' }));
        const cards = await store.listCards();
        assert.equal(cards.length, 2);
        assert.deepEqual(
          cards.find((card) => card.cardId === 'card-a1-0001'),
          replaced,
        );
      });

      it('setCardAttempts changes the attempts and the block, and nothing else', async () => {
        const card = makeCard();
        await store.putCard(card);
        await store.setCardAttempts(card.cardId, 3, false);
        assert.deepEqual(await store.getCard(card.cardId), { ...card, failedAttempts: 3 });
        await store.setCardAttempts(card.cardId, 6, true);
        assert.deepEqual(await store.getCard(card.cardId), { ...card, failedAttempts: 6, blocked: true });
        await store.setCardAttempts(card.cardId, 0, false);
        assert.deepEqual(await store.getCard(card.cardId), card);
      });

      it('setCardAttempts on an unknown card is refused with ERR_NOT_FOUND', async () => {
        await assert.rejects(store.setCardAttempts('no-such-card', 1, false), isCode('ERR_NOT_FOUND'));
      });
    });

    describe('shares and MK-part PIN verifiers', () => {
      it('round-trip shares byte for byte, and a second put of a slot replaces it', async () => {
        await store.putShare({ slot: 'A2', sealed: ALL_BYTES });
        await store.putShare({ slot: 'A1', sealed: Buffer.from('first') });
        await store.putShare({ slot: 'A1', sealed: Buffer.from('second') });
        const shares = bySlot(await store.listShares());
        assert.ok(shares.every((share) => Buffer.isBuffer(share.sealed)));
        assert.deepEqual(shares, [
          { slot: 'A1', sealed: Buffer.from('second') },
          { slot: 'A2', sealed: ALL_BYTES },
        ]);
      });

      it('round-trip MK-part PIN verifiers, and a second put of a slot replaces it', async () => {
        assert.deepEqual(await store.listMkPartPins(), []);
        await store.putMkPartPin({ slot: 'A1', verifier: 'v1' });
        await store.putMkPartPin({ slot: 'A3', verifier: 'v3' });
        await store.putMkPartPin({ slot: 'A1', verifier: 'v1-new' });
        assert.deepEqual(bySlot(await store.listMkPartPins()), [
          { slot: 'A1', verifier: 'v1-new' },
          { slot: 'A3', verifier: 'v3' },
        ]);
      });
    });

    describe('tool whitelist', () => {
      it('lists what was added', async () => {
        await store.addToolWhitelist(makeWhitelistEntry('192.0.2.20'));
        await store.addToolWhitelist(makeWhitelistEntry('2001:db8::1'));
        const ips = (await store.listToolWhitelist()).map((entry) => entry.ip).sort();
        assert.deepEqual(ips, ['192.0.2.20', '2001:db8::1']);
        const entry = (await store.listToolWhitelist()).find((e) => e.ip === '192.0.2.20');
        assert.deepEqual(entry, makeWhitelistEntry('192.0.2.20'));
      });

      it('refuses an IP already listed with ERR_CONFLICT and keeps the first entry', async () => {
        await store.addToolWhitelist(makeWhitelistEntry('192.0.2.20'));
        await assert.rejects(
          store.addToolWhitelist({ ...makeWhitelistEntry('192.0.2.20'), addedBy: 'adminB2' }),
          isCode('ERR_CONFLICT'),
        );
        assert.deepEqual(await store.listToolWhitelist(), [makeWhitelistEntry('192.0.2.20')]);
      });

      it('deleteToolWhitelist returns how many of the given IPs were removed', async () => {
        for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3'])
          await store.addToolWhitelist(makeWhitelistEntry(ip));
        assert.equal(
          await store.deleteToolWhitelist(['192.0.2.1', '192.0.2.9', '192.0.2.3', '192.0.2.1']),
          2,
        );
        assert.equal(await store.deleteToolWhitelist([]), 0);
        assert.equal(await store.deleteToolWhitelist(['192.0.2.1']), 0);
        assert.deepEqual(
          (await store.listToolWhitelist()).map((entry) => entry.ip),
          ['192.0.2.2'],
        );
      });

      it('a conflict inside a transaction can be caught, and the rest of the transaction commits', async () => {
        await store.addToolWhitelist(makeWhitelistEntry('192.0.2.20'));
        await store.transaction(async (tx) => {
          await assert.rejects(tx.addToolWhitelist(makeWhitelistEntry('192.0.2.20')), isCode('ERR_CONFLICT'));
          await tx.addToolWhitelist(makeWhitelistEntry('192.0.2.21'));
        });
        assert.equal((await store.listToolWhitelist()).length, 2);
      });
    });

    describe('audit log', () => {
      function entry(seq: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
        return {
          seq,
          time: `2025-06-01T08:00:0${seq}.000Z`,
          source: 'panel',
          account: '-',
          clientIp: '127.0.0.1',
          businessType: 'boot',
          result: 'failure',
          content: `entry ${seq}`,
          details: '{"reason":"ERR_PIN_WRONG"}',
          prevDigest: seq === 1 ? '0'.repeat(64) : String(seq - 1).repeat(64),
          digest: String(seq).repeat(64),
          ...overrides,
        };
      }

      it('has no head when empty, then the seq and digest of the last entry', async () => {
        assert.equal(await store.auditHead(), null);
        await store.insertAudit(entry(1));
        await store.insertAudit(entry(2));
        assert.deepEqual(await store.auditHead(), { seq: 2, digest: entry(2).digest });
      });

      it('round-trips every field of an entry, an empty details included', async () => {
        await store.insertAudit(entry(1));
        await store.insertAudit(entry(2, { details: '', content: 'é ✓ 🔐', account: 'operator-1' }));
        assert.deepEqual(await store.listAudit({}), [
          entry(1),
          entry(2, { details: '', content: 'é ✓ 🔐', account: 'operator-1' }),
        ]);
      });

      it('refuses a seq that is not head + 1 with ERR_CONFLICT, and keeps the log as it was', async () => {
        await assert.rejects(store.insertAudit(entry(2)), isCode('ERR_CONFLICT'));
        await assert.rejects(store.insertAudit(entry(0)), isCode('ERR_CONFLICT'));
        await store.insertAudit(entry(1));
        await assert.rejects(store.insertAudit(entry(1, { content: 'again' })), isCode('ERR_CONFLICT'));
        await assert.rejects(store.insertAudit(entry(3)), isCode('ERR_CONFLICT'));
        assert.deepEqual(await store.listAudit({}), [entry(1)]);
        await store.transaction(async (tx) => {
          await assert.rejects(tx.insertAudit(entry(5)), isCode('ERR_CONFLICT'));
        });
        assert.equal(await store.countAudit({}), 1);
      });

      describe('queries', () => {
        const sources: AuditSource[] = ['panel', 'management', 'integrated', 'device'];
        // Ten entries a minute apart from 08:00; sources cycle panel, management, integrated, device.
        const times = Array.from(
          { length: 10 },
          (_, i) => `2025-06-01T08:${String(i).padStart(2, '0')}:00.000Z`,
        );

        beforeEach(async () => {
          const log = new AuditLog(store, clockOf(times));
          for (let i = 0; i < 10; i += 1) {
            await log.append({ ...draft, source: sources[i % 4]!, content: `entry ${i + 1}` });
          }
        });

        async function seqs(query: Parameters<Store['listAudit']>[0]): Promise<number[]> {
          return (await store.listAudit(query)).map((e) => e.seq);
        }

        it('lists in ascending seq order by default, and descending on request', async () => {
          assert.deepEqual(await seqs({}), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
          assert.deepEqual(await seqs({ order: 'desc' }), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
          assert.deepEqual(await seqs({ order: 'asc' }), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        });

        it('filters by a time range that includes both ends', async () => {
          assert.deepEqual(await seqs({ from: times[2], to: times[5] }), [3, 4, 5, 6]);
          assert.deepEqual(await seqs({ from: times[8] }), [9, 10]);
          assert.deepEqual(await seqs({ to: times[0] }), [1]);
          assert.deepEqual(
            await seqs({ from: '2025-06-01T08:02:30.000Z', to: '2025-06-01T08:03:30.000Z' }),
            [4],
          );
        });

        it('filters by sources; an empty list selects nothing', async () => {
          assert.deepEqual(await seqs({ sources: ['panel'] }), [1, 5, 9]);
          assert.deepEqual(await seqs({ sources: ['management', 'device'] }), [2, 4, 6, 8, 10]);
          assert.deepEqual(await seqs({ sources: [] }), []);
          assert.equal(await store.countAudit({ sources: [] }), 0);
        });

        it('pages with afterSeq, limit and offset', async () => {
          assert.deepEqual(await seqs({ afterSeq: 7 }), [8, 9, 10]);
          assert.deepEqual(await seqs({ limit: 3 }), [1, 2, 3]);
          assert.deepEqual(await seqs({ limit: 3, offset: 3 }), [4, 5, 6]);
          assert.deepEqual(await seqs({ limit: 3, offset: 9 }), [10]);
          assert.deepEqual(await seqs({ limit: 0 }), []);
          assert.deepEqual(await seqs({ afterSeq: 2, limit: 2, order: 'desc' }), [10, 9]);
          assert.deepEqual(await seqs({ afterSeq: 10 }), []);
        });

        it('limits to 100 entries when no limit is given', async () => {
          const log = new AuditLog(store, tickingClock());
          for (let i = 0; i < 95; i += 1) await log.append(draft);
          assert.equal((await store.listAudit({})).length, 100);
          assert.equal((await store.listAudit({ offset: 100 })).length, 5);
        });

        it('combines filters, and countAudit counts what they select', async () => {
          const query = {
            from: times[1],
            to: times[8],
            sources: ['panel', 'integrated'] as AuditSource[],
            afterSeq: 3,
          };
          assert.deepEqual(await seqs(query), [5, 7, 9]);
          assert.deepEqual(await seqs({ ...query, order: 'desc', limit: 2 }), [9, 7]);
          assert.equal(await store.countAudit(query), 3);
          assert.equal(await store.countAudit({}), 10);
          assert.equal(await store.countAudit({ from: times[9] }), 1);
          assert.equal(await store.countAudit({ afterSeq: 4 }), 6);
        });
      });

      it('AuditLog entries written through the store verify, and random sequences of appends always verify', async () => {
        const draftArbitrary = fc.record({
          source: fc.constantFrom<AuditSource>('panel', 'management', 'integrated', 'device'),
          account: fc.string({ unit: 'grapheme', maxLength: 12 }),
          clientIp: fc.oneof(fc.ipV4(), fc.ipV6()),
          businessType: fc.constantFrom('init', 'boot', 'login', 'add', 'update', 'delete', 'download'),
          result: fc.constantFrom<'success' | 'failure'>('success', 'failure'),
          content: fc.string({ unit: 'grapheme', maxLength: 40 }),
          details: fc.option(fc.string({ unit: 'grapheme', maxLength: 80 }), { nil: undefined }),
        });
        // One append on its own; several in one transaction; several racing; several rolled back.
        const stepArbitrary = fc.oneof(
          fc.record({
            kind: fc.constant('single' as const),
            drafts: fc.array(draftArbitrary, { minLength: 1, maxLength: 1 }),
          }),
          fc.record({
            kind: fc.constant('batch' as const),
            drafts: fc.array(draftArbitrary, { minLength: 1, maxLength: 3 }),
          }),
          fc.record({
            kind: fc.constant('racing' as const),
            drafts: fc.array(draftArbitrary, { minLength: 2, maxLength: 4 }),
          }),
          fc.record({
            kind: fc.constant('rolled-back' as const),
            drafts: fc.array(draftArbitrary, { minLength: 1, maxLength: 2 }),
          }),
        );
        const log = new AuditLog(store, tickingClock());

        await fc.assert(
          fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 6 }), async (steps) => {
            const before = await store.countAudit({});
            const headBefore = await store.auditHead();
            const written: AuditEntry[] = [];
            for (const step of steps) {
              if (step.kind === 'single') {
                written.push(await log.append(step.drafts[0]!));
              } else if (step.kind === 'batch') {
                written.push(
                  ...(await store.transaction(async (tx) => {
                    const entries: AuditEntry[] = [];
                    for (const d of step.drafts) entries.push(await log.append(d, tx));
                    return entries;
                  })),
                );
              } else if (step.kind === 'racing') {
                written.push(...(await Promise.all(step.drafts.map((d) => log.append(d)))));
              } else {
                const rollback = new Error('roll back');
                await assert.rejects(
                  store.transaction(async (tx) => {
                    for (const d of step.drafts) await log.append(d, tx);
                    throw rollback;
                  }),
                  (error) => error === rollback,
                );
              }
            }
            const verified = await log.verify();
            assert.deepEqual(verified, {
              ok: true,
              count: before + written.length,
              head: written.at(-1)?.digest ?? headBefore?.digest ?? GENESIS,
            });
            assert.deepEqual(
              await store.listAudit({ afterSeq: before, limit: written.length + 10 }),
              written,
            );
          }),
          { numRuns: 40 },
        );
      });
    });

    describe('operators', () => {
      it('round-trips an operator, reads null for an unknown name, and counts', async () => {
        assert.equal(await store.getOperator('payments'), null);
        assert.equal(await store.countOperators(), 0);
        const operator = makeOperator('payments', { description: 'é ✓ 🔐' });
        await store.insertOperator(operator);
        assert.deepEqual(await store.getOperator('payments'), operator);
        assert.equal(await store.getOperator('Payments'), null);
        assert.equal(await store.countOperators(), 1);
      });

      it('refuses a name that exists with ERR_CONFLICT and keeps the first', async () => {
        await store.insertOperator(makeOperator('payments'));
        await assert.rejects(
          store.insertOperator(makeOperator('payments', { creator: 'adminB2' })),
          isCode('ERR_CONFLICT'),
        );
        assert.deepEqual(await store.getOperator('payments'), makeOperator('payments'));
      });

      it('lists by name with limit (default 100) and offset', async () => {
        const names = Array.from({ length: 105 }, (_, i) => `op-${String(i).padStart(3, '0')}`);
        await store.transaction(async (tx) => {
          for (const name of [...names].reverse()) await tx.insertOperator(makeOperator(name));
        });
        const all = await store.listOperators({});
        assert.equal(all.length, 100);
        assert.deepEqual(
          all.map((o) => o.name),
          names.slice(0, 100),
        );
        assert.deepEqual(
          (await store.listOperators({ limit: 3, offset: 102 })).map((o) => o.name),
          names.slice(102),
        );
        assert.deepEqual(await store.listOperators({ limit: 0 }), []);
        assert.equal(await store.countOperators(), 105);
        await assert.rejects(store.listOperators({ limit: -1 }), isCode('ERR_BAD_REQUEST'));
      });

      it('deletes an operator and says whether it was there', async () => {
        await store.insertOperator(makeOperator('payments'));
        assert.equal(await store.deleteOperator('payments'), true);
        assert.equal(await store.deleteOperator('payments'), false);
        assert.equal(await store.getOperator('payments'), null);
        await store.insertOperator(makeOperator('payments', { createdAt: '2025-07-01T08:00:00.000Z' }));
        assert.equal((await store.getOperator('payments'))?.createdAt, '2025-07-01T08:00:00.000Z');
      });

      it('refuses to delete an operator that still has whitelist pairs or bindings (ERR_CONFLICT)', async () => {
        await store.insertOperator(makeOperator('payments'));
        await store.addServiceWhitelist(makePair('192.0.2.30', 'payments'));
        await assert.rejects(store.deleteOperator('payments'), isCode('ERR_CONFLICT'));
        await store.deleteServiceWhitelistForOperator('payments');
        await store.insertKey(makeKey(1));
        await store.addBinding(makeBinding(1, 'payments'));
        await assert.rejects(store.deleteOperator('payments'), isCode('ERR_CONFLICT'));
        await store.deleteBindingsForOperator('payments');
        assert.equal(await store.deleteOperator('payments'), true);
      });

      it('deleting an operator keeps its licences (revoked by the caller)', async () => {
        await store.insertOperator(makeOperator('payments'));
        await store.putLicence(makeLicence('0a', 'payments'));
        await store.putLicence(makeLicence('0a', 'payments', { status: 'revoked' }));
        assert.equal(await store.deleteOperator('payments'), true);
        assert.deepEqual(await store.listLicences('payments'), [
          makeLicence('0a', 'payments', { status: 'revoked' }),
        ]);
      });
    });

    describe('licences', () => {
      it('round-trips a licence, reads null for an unknown serial, and upserts by serial', async () => {
        await store.insertOperator(makeOperator('payments'));
        assert.equal(await store.getLicence('0a'), null);
        const licence = makeLicence('0a', 'payments');
        await store.putLicence(licence);
        assert.deepEqual(await store.getLicence('0a'), licence);
        const superseded = { ...licence, status: 'superseded' as const, mac: '9'.repeat(64) };
        await store.putLicence(superseded);
        assert.deepEqual(await store.getLicence('0a'), superseded);
        assert.equal((await store.listLicences('payments')).length, 1);
      });

      it("lists one operator's licences oldest first, and nothing for another", async () => {
        await store.insertOperator(makeOperator('payments'));
        await store.insertOperator(makeOperator('billing'));
        await store.putLicence(makeLicence('0c', 'payments', { issuedAt: '2025-06-03T08:00:00.000Z' }));
        await store.putLicence(makeLicence('0b', 'payments', { issuedAt: '2025-06-02T08:00:00.000Z' }));
        await store.putLicence(makeLicence('0d', 'billing'));
        assert.deepEqual(
          (await store.listLicences('payments')).map((l) => l.serial),
          ['0b', '0c'],
        );
        assert.deepEqual(await store.listLicences('nobody'), []);
      });

      it('refuses a second licence with the same certificate fingerprint (ERR_CONFLICT)', async () => {
        await store.putLicence(makeLicence('0a', 'payments', { certFingerprint: 'e'.repeat(64) }));
        await assert.rejects(
          store.putLicence(makeLicence('0b', 'payments', { certFingerprint: 'e'.repeat(64) })),
          isCode('ERR_CONFLICT'),
        );
        assert.equal(await store.getLicence('0b'), null);
      });
    });

    describe('service whitelist', () => {
      beforeEach(async () => {
        for (const name of ['alpha', 'beta', 'gamma']) await store.insertOperator(makeOperator(name));
      });

      it('lists pairs by IP then operator, filtered by IP, operator or both', async () => {
        await store.addServiceWhitelist(makePair('192.0.2.9', 'beta'));
        await store.addServiceWhitelist(makePair('192.0.2.10', 'gamma'));
        await store.addServiceWhitelist(makePair('192.0.2.10', 'alpha'));
        await store.addServiceWhitelist(makePair('192.0.2.9', 'alpha'));
        const pairs = (records: ServiceWhitelistRecord[]) => records.map((r) => `${r.ip} ${r.operator}`);
        assert.deepEqual(pairs(await store.listServiceWhitelist()), [
          '192.0.2.10 alpha',
          '192.0.2.10 gamma',
          '192.0.2.9 alpha',
          '192.0.2.9 beta',
        ]);
        assert.deepEqual(pairs(await store.listServiceWhitelist({ ip: '192.0.2.9' })), [
          '192.0.2.9 alpha',
          '192.0.2.9 beta',
        ]);
        assert.deepEqual(pairs(await store.listServiceWhitelist({ operator: 'alpha' })), [
          '192.0.2.10 alpha',
          '192.0.2.9 alpha',
        ]);
        assert.deepEqual(await store.listServiceWhitelist({ ip: '192.0.2.9', operator: 'beta' }), [
          makePair('192.0.2.9', 'beta'),
        ]);
        assert.deepEqual(await store.listServiceWhitelist({ ip: '192.0.2.99' }), []);
      });

      it('refuses a pair that exists, and a pair naming an unknown operator, with ERR_CONFLICT', async () => {
        await store.addServiceWhitelist(makePair('192.0.2.9', 'alpha'));
        await assert.rejects(
          store.addServiceWhitelist(makePair('192.0.2.9', 'alpha')),
          isCode('ERR_CONFLICT'),
        );
        await assert.rejects(
          store.addServiceWhitelist(makePair('192.0.2.9', 'nobody')),
          isCode('ERR_CONFLICT'),
        );
        assert.equal((await store.listServiceWhitelist()).length, 1);
      });

      it('deletes all pairs of an IP, one pair, or all pairs of an operator, and counts them', async () => {
        for (const [ip, op] of [
          ['192.0.2.9', 'alpha'],
          ['192.0.2.9', 'beta'],
          ['192.0.2.10', 'alpha'],
          ['192.0.2.11', 'alpha'],
          ['192.0.2.11', 'gamma'],
        ] as const) {
          await store.addServiceWhitelist(makePair(ip, op));
        }
        assert.equal(await store.deleteServiceWhitelist('192.0.2.9', 'beta'), 1);
        assert.equal(await store.deleteServiceWhitelist('192.0.2.9', 'beta'), 0);
        assert.equal(await store.deleteServiceWhitelist('192.0.2.11'), 2);
        assert.equal(await store.deleteServiceWhitelist('192.0.2.99'), 0);
        assert.equal(await store.deleteServiceWhitelistForOperator('alpha'), 2);
        assert.deepEqual(await store.listServiceWhitelist(), []);
      });
    });

    describe('keys', () => {
      it('round-trips a symmetric and an asymmetric key, sealed bytes and usage intact', async () => {
        const symmetric = makeKey(1);
        const asymmetric = makeKey(2, {
          type: 'EC-P256',
          keyClass: 'asymmetric',
          usage: ['sign', 'verify'],
          checkValue: null,
          publicKey: '-----BEGIN PUBLIC KEY-----\nMFkw…\n-----END PUBLIC KEY-----\n',
        });
        const invalid = makeKey(3, { status: 'invalid', invalidReason: 'manual', usage: [] });
        for (const key of [symmetric, asymmetric, invalid]) await store.insertKey(key);
        for (const key of [symmetric, asymmetric, invalid]) {
          const read = await store.getKey(key.index);
          assert.ok(read !== null && Buffer.isBuffer(read.sealed));
          assert.deepEqual(read, key);
        }
        assert.equal(await store.getKey(4), null);
      });

      it('nextKeyIndex is 1 on an empty store, then max + 1', async () => {
        assert.equal(await store.nextKeyIndex(), 1);
        await store.insertKey(makeKey(7));
        await store.insertKey(makeKey(3));
        assert.equal(await store.nextKeyIndex(), 8);
      });

      it('refuses an index in use with ERR_CONFLICT and keeps the first key', async () => {
        await store.insertKey(makeKey(5));
        await assert.rejects(store.insertKey(makeKey(5, { description: 'other' })), isCode('ERR_CONFLICT'));
        assert.deepEqual(await store.getKey(5), makeKey(5));
      });

      it('updateKey replaces every field but the index; an unknown index is ERR_NOT_FOUND', async () => {
        await store.insertKey(makeKey(5));
        const updated = makeKey(5, {
          status: 'discard',
          usage: ['mac'],
          description: 'changed',
          sealed: Buffer.from('resealed'),
          version: 2,
          mac: '8'.repeat(64),
        });
        await store.updateKey(updated);
        assert.deepEqual(await store.getKey(5), updated);
        await assert.rejects(store.updateKey(makeKey(6)), isCode('ERR_NOT_FOUND'));
        assert.equal(await store.getKey(6), null);
      });

      it('deleteKey says whether the key was there; a key with bindings is refused (ERR_CONFLICT)', async () => {
        await store.insertKey(makeKey(5));
        await store.insertOperator(makeOperator('payments'));
        await store.addBinding(makeBinding(5, 'payments'));
        await assert.rejects(store.deleteKey(5), isCode('ERR_CONFLICT'));
        assert.equal(await store.deleteBindingsForKey(5), 1);
        assert.equal(await store.deleteKey(5), true);
        assert.equal(await store.deleteKey(5), false);
        assert.equal(await store.getKey(5), null);
      });

      describe('queries', () => {
        // Twelve keys created an hour apart from 08:00; odd indexes symmetric, even asymmetric;
        // every third discarded, every fourth invalid.
        const created = (i: number) => `2025-06-01T${String(7 + i).padStart(2, '0')}:00:00.000Z`;
        beforeEach(async () => {
          await store.transaction(async (tx) => {
            for (let i = 1; i <= 12; i += 1) {
              await tx.insertKey(
                makeKey(i, {
                  keyClass: i % 2 === 1 ? 'symmetric' : 'asymmetric',
                  status: i % 4 === 0 ? 'invalid' : i % 3 === 0 ? 'discard' : 'normal',
                  createdAt: created(i),
                  expiresAt: `2025-07-${String(i).padStart(2, '0')}T00:00:00.000Z`,
                }),
              );
            }
          });
        });

        async function indexes(query: Parameters<Store['listKeys']>[0]): Promise<number[]> {
          return (await store.listKeys(query)).map((key) => key.index);
        }

        it('lists newest index first by default, and ascending on request', async () => {
          assert.deepEqual(await indexes({}), [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
          assert.deepEqual(await indexes({ order: 'asc', limit: 3 }), [1, 2, 3]);
        });

        it('filters by a creation-time range that includes both ends', async () => {
          assert.deepEqual(await indexes({ from: created(3), to: created(5) }), [5, 4, 3]);
          assert.deepEqual(await indexes({ from: created(11) }), [12, 11]);
          assert.deepEqual(await indexes({ to: created(1) }), [1]);
          assert.equal(await store.countKeys({ from: created(3), to: created(5) }), 3);
        });

        it('filters by class, status and indexes; an empty index list selects nothing', async () => {
          assert.deepEqual(await indexes({ keyClass: 'symmetric' }), [11, 9, 7, 5, 3, 1]);
          assert.deepEqual(await indexes({ status: 'invalid' }), [12, 8, 4]);
          assert.deepEqual(await indexes({ status: 'discard' }), [9, 6, 3]);
          assert.deepEqual(await indexes({ indexes: [2, 9, 40, 2] }), [9, 2]);
          assert.deepEqual(await indexes({ indexes: [] }), []);
          assert.equal(await store.countKeys({ indexes: [] }), 0);
          assert.deepEqual(
            await indexes({ keyClass: 'asymmetric', status: 'normal', from: created(3) }),
            [10],
          );
        });

        it('pages with limit (default 100) and offset, and countKeys ignores paging', async () => {
          assert.deepEqual(await indexes({ limit: 5, offset: 5 }), [7, 6, 5, 4, 3]);
          assert.deepEqual(await indexes({ limit: 5, offset: 10 }), [2, 1]);
          assert.deepEqual(await indexes({ limit: 0 }), []);
          assert.equal(await store.countKeys({}), 12);
          assert.equal(await store.countKeys({ keyClass: 'asymmetric', status: 'normal' }), 2);
          await store.transaction(async (tx) => {
            for (let i = 13; i <= 110; i += 1) await tx.insertKey(makeKey(i));
          });
          assert.equal((await store.listKeys({})).length, 100);
          await assert.rejects(store.listKeys({ offset: -2 }), isCode('ERR_BAD_REQUEST'));
        });

        it('listExpiredKeys returns normal and discarded keys expiring at or before now, by index', async () => {
          const expired = await store.listExpiredKeys('2025-07-06T00:00:00.000Z');
          // 1–6 have expired; 4 is already invalid.
          assert.deepEqual(
            expired.map((key) => key.index),
            [1, 2, 3, 5, 6],
          );
          assert.deepEqual(expired[0], await store.getKey(1));
          assert.deepEqual(await store.listExpiredKeys('2025-06-30T23:59:59.999Z'), []);
        });
      });
    });

    describe('key bindings', () => {
      beforeEach(async () => {
        for (const name of ['alpha', 'beta']) await store.insertOperator(makeOperator(name));
        for (const index of [1, 2, 3]) await store.insertKey(makeKey(index));
      });

      it('lists bindings by key then operator, filtered by key, operator or both', async () => {
        await store.addBinding(makeBinding(2, 'beta'));
        await store.addBinding(makeBinding(1, 'beta'));
        await store.addBinding(makeBinding(2, 'alpha'));
        const pairs = (records: KeyBindingRecord[]) => records.map((r) => `${r.keyIndex} ${r.operator}`);
        assert.deepEqual(pairs(await store.listBindings({})), ['1 beta', '2 alpha', '2 beta']);
        assert.deepEqual(pairs(await store.listBindings({ keyIndex: 2 })), ['2 alpha', '2 beta']);
        assert.deepEqual(pairs(await store.listBindings({ operator: 'beta' })), ['1 beta', '2 beta']);
        assert.deepEqual(await store.listBindings({ keyIndex: 2, operator: 'alpha' }), [
          makeBinding(2, 'alpha'),
        ]);
        assert.deepEqual(await store.listBindings({ keyIndex: 3 }), []);
      });

      it('refuses a pair that exists, an unknown key and an unknown operator with ERR_CONFLICT', async () => {
        await store.addBinding(makeBinding(1, 'alpha'));
        await assert.rejects(store.addBinding(makeBinding(1, 'alpha')), isCode('ERR_CONFLICT'));
        await assert.rejects(store.addBinding(makeBinding(9, 'alpha')), isCode('ERR_CONFLICT'));
        await assert.rejects(store.addBinding(makeBinding(1, 'nobody')), isCode('ERR_CONFLICT'));
        assert.equal((await store.listBindings({})).length, 1);
      });

      it('deletes one binding, all of a key, or all of an operator, and counts them', async () => {
        for (const [index, op] of [
          [1, 'alpha'],
          [1, 'beta'],
          [2, 'alpha'],
          [3, 'alpha'],
          [3, 'beta'],
        ] as const) {
          await store.addBinding(makeBinding(index, op));
        }
        assert.equal(await store.deleteBinding(1, 'beta'), true);
        assert.equal(await store.deleteBinding(1, 'beta'), false);
        assert.equal(await store.deleteBindingsForKey(3), 2);
        assert.equal(await store.deleteBindingsForKey(3), 0);
        assert.equal(await store.deleteBindingsForOperator('alpha'), 2);
        assert.deepEqual(await store.listBindings({}), []);
      });
    });

    describe('wipeDomain', () => {
      it('removes the domain, cards, shares, PIN verifiers, whitelists, settings, operators, licences, keys and bindings, and keeps meta and audit', async () => {
        await store.setMeta('deviceId', 'coffer-01');
        await fillDomain(store);
        await new AuditLog(store, tickingClock()).append(draft);
        await store.wipeDomain();
        assert.equal(await store.getDomain(), null);
        assert.deepEqual(await store.listCards(), []);
        assert.deepEqual(await store.listShares(), []);
        assert.deepEqual(await store.listMkPartPins(), []);
        assert.deepEqual(await store.listToolWhitelist(), []);
        assert.equal(await store.getSetting('clockOffsetMs'), null);
        assert.deepEqual(await store.listOperators({}), []);
        assert.deepEqual(await store.listLicences('payments'), []);
        assert.deepEqual(await store.listServiceWhitelist(), []);
        assert.deepEqual(await store.listKeys({}), []);
        assert.deepEqual(await store.listBindings({}), []);
        assert.equal(await store.getMeta('deviceId'), 'coffer-01');
        assert.equal(await store.countAudit({}), 1);
        const log = new AuditLog(store, tickingClock());
        await log.append({ ...draft, businessType: 'delete', content: 'wipe' });
        assert.equal((await log.verify()).ok, true);
      });

      it('works inside a transaction and is undone with it', async () => {
        await fillDomain(store);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.wipeDomain();
            assert.equal(await tx.getDomain(), null);
            throw new Error('changed my mind');
          }),
        );
        assert.notEqual(await store.getDomain(), null);
        await store.transaction((tx) => tx.wipeDomain());
        assert.equal(await store.getDomain(), null);
      });
    });

    describe('transactions', () => {
      it('returns what fn returns, and what fn wrote is there afterwards', async () => {
        const result = await store.transaction(async (tx) => {
          await fillDomain(tx);
          assert.deepEqual(await tx.getDomain(), makeDomain());
          return 42;
        });
        assert.equal(result, 42);
        assert.deepEqual(await store.getDomain(), makeDomain());
        assert.equal((await store.listCards()).length, 2);
      });

      it('a transaction that throws leaves nothing behind and rethrows the same error', async () => {
        const failure = new Error('the ceremony failed');
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.setMeta('deviceId', 'coffer-01');
            await fillDomain(tx);
            await new AuditLog(store, tickingClock()).append(draft, tx);
            throw failure;
          }),
          (error) => error === failure,
        );
        assert.equal(await store.getMeta('deviceId'), null);
        assert.equal(await store.getDomain(), null);
        assert.deepEqual(await store.listCards(), []);
        assert.deepEqual(await store.listShares(), []);
        assert.deepEqual(await store.listMkPartPins(), []);
        assert.deepEqual(await store.listToolWhitelist(), []);
        assert.equal(await store.getSetting('clockOffsetMs'), null);
        assert.equal(await store.countOperators(), 0);
        assert.equal(await store.countKeys({}), 0);
        assert.deepEqual(await store.listBindings({}), []);
        assert.equal(await store.auditHead(), null);
      });

      it('transactions do not interleave: two read-wait-write increments add two', async () => {
        await store.setMeta('counter', '0');
        const increment = () =>
          store.transaction(async (tx) => {
            const value = Number(await tx.getMeta('counter'));
            await sleep(15);
            await tx.setMeta('counter', String(value + 1));
          });
        await Promise.all([increment(), increment(), increment()]);
        assert.equal(await store.getMeta('counter'), '3');
      });

      it('a call outside the transaction waits for it, and never sees what it has not committed', async () => {
        const failure = new Error('abandon');
        const running = store.transaction(async (tx) => {
          await tx.setMeta('state', 'uncommitted');
          await sleep(15);
          throw failure;
        });
        const seen = store.getMeta('state');
        await assert.rejects(running, (error) => error === failure);
        assert.equal(await seen, null);

        const committing = store.transaction(async (tx) => {
          await sleep(5);
          await tx.setMeta('state', 'committed');
        });
        const after = store.getMeta('state');
        await committing;
        assert.equal(await after, 'committed');
      });

      it('fn may use its tx from nested helpers and the audit log, many times', async () => {
        const log = new AuditLog(store, tickingClock());
        const issueCard = async (tx: StoreTx, slot: string): Promise<void> => {
          await tx.putCard(makeCard({ cardId: `card-${slot}`, slot }));
          await log.append({ ...draft, businessType: 'init', content: `card ${slot}` }, tx);
        };
        await store.transaction(async (tx) => {
          // Sequential on purpose: two appends racing inside one transaction would read the same head.
          for (const slot of ['A1', 'A2', 'A3']) await issueCard(tx, slot);
        });
        assert.equal((await store.listCards()).length, 3);
        assert.equal(await store.countAudit({}), 3);
        assert.equal((await log.verify()).ok, true);
      });

      it('a tx used after its transaction has ended is refused with ERR_STORE', async () => {
        let leaked: StoreTx | undefined;
        await store.transaction(async (tx) => {
          leaked = tx;
        });
        await assert.rejects(leaked!.setMeta('late', 'write'), isCode('ERR_STORE'));
        assert.equal(await store.getMeta('late'), null);
      });
    });

    describe('schema', () => {
      it('is at the version this build expects', async () => {
        const version = await store.schemaVersion();
        assert.ok(version.expected >= 1);
        assert.equal(version.current, version.expected);
      });
    });
  });
}
