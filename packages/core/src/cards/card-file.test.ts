import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import {
  CARD_KDF_ITERATIONS,
  type CardFile,
  cardFileName,
  makeCard,
  parseCardFile,
  resealCard,
  roleOfSlot,
  serialiseCardFile,
  signChallenge,
  unsealCard,
  verifyChallenge,
} from './card-file.js';

// Small PBKDF2 counts keep the suite fast; production uses CARD_KDF_ITERATIONS.
const ITER = 1000;
const MIN = { minIterations: ITER };
const PIN = '1234ABCD';
const DEVICE = 'dev-0f3c';
const CREATED = '2025-03-01T10:00:00.000Z';
const SHARE = randomBytes(17);

function refusedWith(code: string, field?: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CofferError, `a CofferError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (field !== undefined) assert.equal(err.details['field'], field);
    return true;
  };
}

function makeA1(share: Buffer | null = SHARE, pin = PIN) {
  return makeCard({
    deviceId: DEVICE,
    slot: 'A1',
    role: 'device-manager',
    account: 'adminA1',
    pin,
    share,
    iterations: ITER,
    createdAt: CREATED,
  });
}

// biome-ignore lint/suspicious/noExplicitAny: the refusal tests write what the CardFile type forbids.
type Loose = Record<string, any>;

/** A deep copy as plain JSON, for editing in refusal tests. */
function edit(file: CardFile, change: (o: Loose) => void): unknown {
  const o = JSON.parse(JSON.stringify(file));
  change(o);
  return o;
}

describe('card files', () => {
  let a1: CardFile;
  before(async () => {
    a1 = (await makeA1()).file;
  });

  it('are made with every documented field and parse back unchanged', () => {
    assert.equal(a1.format, 'coffer-card');
    assert.equal(a1.version, 1);
    assert.match(a1.cardId, /^[0-9a-f-]{36}$/);
    assert.equal(a1.deviceId, DEVICE);
    assert.equal(a1.role, 'device-manager');
    assert.equal(a1.slot, 'A1');
    assert.equal(a1.account, 'adminA1');
    assert.equal(a1.createdAt, CREATED);
    assert.equal(Buffer.from(a1.publicKey, 'base64').length, 91);
    assert.equal(a1.sealed.kdf, 'PBKDF2-SHA256');
    assert.equal(a1.sealed.iterations, ITER);
    assert.equal(Buffer.from(a1.sealed.salt, 'base64').length, 16);
    assert.equal(a1.sealed.cipher, 'AES-256-GCM');
    assert.equal(Buffer.from(a1.sealed.iv, 'base64').length, 12);
    assert.deepEqual(parseCardFile(a1), a1);
  });

  it('serialise as pretty JSON with a final newline that parses back, and are named coffer-A1.card', () => {
    const text = serialiseCardFile(a1);
    assert.ok(text.endsWith('}\n'));
    assert.ok(text.includes('\n  "format": "coffer-card",\n'));
    assert.deepEqual(parseCardFile(text), a1);
    assert.deepEqual(parseCardFile(Buffer.from(text)), a1);
    assert.equal(cardFileName(a1), 'coffer-A1.card');
  });

  it('unseal with their PIN to the private key of their public key and the share', async () => {
    const { privateKey, share } = await unsealCard(a1, PIN, MIN);
    assert.deepEqual(share, SHARE);
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    assert.equal(spki.toString('base64'), a1.publicKey);
  });

  it('unseal with the PIN typed in lower case, since the keypad only has A–F', async () => {
    const { share } = await unsealCard(a1, PIN.toLowerCase(), MIN);
    assert.deepEqual(share, SHARE);
  });

  it('an A card sealed with one PIN refuses another with ERR_PIN_WRONG', async () => {
    await assert.rejects(unsealCard(a1, '1234ABCE', MIN), (err: unknown) => {
      assert.ok(err instanceof CofferError);
      assert.equal(err.code, 'ERR_PIN_WRONG');
      assert.equal(err.message, 'The card PIN is wrong.');
      return true;
    });
  });

  it('a card sealed with fewer iterations than the device accepts is refused with ERR_CARD_KDF_WEAK', async () => {
    await assert.rejects(unsealCard(a1, PIN, { minIterations: CARD_KDF_ITERATIONS }), (err: unknown) => {
      assert.ok(err instanceof CofferError);
      assert.equal(err.code, 'ERR_CARD_KDF_WEAK');
      assert.deepEqual({ ...err.details }, { iterations: ITER, minIterations: CARD_KDF_ITERATIONS });
      return true;
    });
  });

  it('a sealed part moved into another card’s file does not open (ERR_PIN_WRONG)', async () => {
    const a2 = (await makeCard({ ...baseOpts('A2'), share: SHARE })).file;
    const moved = { ...a2, sealed: a1.sealed };
    await assert.rejects(unsealCard(moved, PIN, MIN), refusedWith('ERR_PIN_WRONG'));
  });

  it('a card whose id, device or slot was edited does not open (ERR_PIN_WRONG)', async () => {
    for (const change of [{ cardId: '00000000-0000-4000-8000-000000000000' }, { deviceId: 'dev-other' }]) {
      await assert.rejects(unsealCard({ ...a1, ...change }, PIN, MIN), refusedWith('ERR_PIN_WRONG'));
    }
  });

  it('a card whose ciphertext was tampered with does not open (ERR_PIN_WRONG)', async () => {
    const ct = Buffer.from(a1.sealed.ciphertext, 'base64');
    ct[5]! ^= 1;
    const tampered = { ...a1, sealed: { ...a1.sealed, ciphertext: ct.toString('base64') } };
    await assert.rejects(unsealCard(tampered, PIN, MIN), refusedWith('ERR_PIN_WRONG'));
  });

  it('a card whose public key was swapped for another is refused as ERR_CARD_FORMAT once opened', async () => {
    // The public key is not in the associated data; the contents check catches the swap instead.
    const other = (await makeA1()).file;
    await assert.rejects(
      unsealCard({ ...a1, publicKey: other.publicKey }, PIN, MIN),
      refusedWith('ERR_CARD_FORMAT'),
    );
  });

  it('are sealed afresh each time: the same inputs give another salt, IV and ciphertext', async () => {
    const again = (await makeA1()).file;
    assert.notEqual(again.sealed.salt, a1.sealed.salt);
    assert.notEqual(again.sealed.iv, a1.sealed.iv);
    assert.notEqual(again.cardId, a1.cardId);
    assert.notEqual(again.publicKey, a1.publicKey);
  });

  it('B, C and D cards carry no share', async () => {
    for (const slot of ['B1', 'C1', 'D1'] as const) {
      const { file } = await makeCard(baseOpts(slot));
      assert.equal(file.role, roleOfSlot(slot));
      assert.equal((await unsealCard(file, PIN, MIN)).share, null);
    }
  });

  it('a share given to a B card is refused with ERR_CARD_ROLE', async () => {
    await assert.rejects(makeCard({ ...baseOpts('B1'), share: SHARE }), refusedWith('ERR_CARD_ROLE', 'role'));
  });

  it('a slot given the wrong role is refused with ERR_CARD_ROLE', async () => {
    await assert.rejects(
      makeCard({ ...baseOpts('A1'), role: 'system-manager' }),
      refusedWith('ERR_CARD_ROLE', 'role'),
    );
  });

  it('a PIN that breaks the rules is refused with ERR_PIN_RULE before any key is made', async () => {
    await assert.rejects(makeA1(SHARE, '12345678'), refusedWith('ERR_PIN_RULE', 'pin'));
  });

  it('a malformed creation time or slot is refused with ERR_CARD_FORMAT naming the field', async () => {
    await assert.rejects(
      makeCard({ ...baseOpts('C1'), createdAt: '2025-03-01' }),
      refusedWith('ERR_CARD_FORMAT', 'createdAt'),
    );
    await assert.rejects(
      makeCard({ ...baseOpts('A4'), role: 'device-manager' }),
      refusedWith('ERR_CARD_FORMAT', 'slot'),
    );
  });

  it('an explicit card id is kept', async () => {
    const cardId = '3b0e7d5c-2a3b-4c5d-8e9f-0a1b2c3d4e5f';
    assert.equal((await makeCard({ ...baseOpts('D1'), cardId })).file.cardId, cardId);
  });
});

describe('resealCard', () => {
  it('writes a share onto an A card made without one, keeping its identity and key', async () => {
    const { file: blank, privateKey } = await makeA1(null);
    assert.equal((await unsealCard(blank, PIN, MIN)).share, null);
    const written = await resealCard(blank, { privateKey, share: SHARE }, PIN, ITER);
    for (const k of ['cardId', 'deviceId', 'role', 'slot', 'account', 'createdAt', 'publicKey'] as const) {
      assert.equal(written[k], blank[k], k);
    }
    assert.notEqual(written.sealed.ciphertext, blank.sealed.ciphertext);
    assert.deepEqual((await unsealCard(written, PIN, MIN)).share, SHARE);
  });

  it('seals under a new PIN and iteration count, and the old PIN no longer opens the new file', async () => {
    const { file, privateKey } = await makeA1();
    const resealed = await resealCard(file, { privateKey, share: SHARE }, '9999FFFF', 2000);
    assert.equal(resealed.sealed.iterations, 2000);
    await assert.rejects(unsealCard(resealed, PIN, MIN), refusedWith('ERR_PIN_WRONG'));
    assert.deepEqual((await unsealCard(resealed, '9999FFFF', MIN)).share, SHARE);
  });

  it('takes a new card id and time from overrides, binding the sealed part to the new id', async () => {
    const { file, privateKey } = await makeA1();
    const cardId = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const next = await resealCard(file, { privateKey, share: SHARE }, PIN, ITER, {
      cardId,
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    assert.equal(next.cardId, cardId);
    assert.equal(next.createdAt, '2026-01-01T00:00:00.000Z');
    assert.deepEqual((await unsealCard(next, PIN, MIN)).share, SHARE);
  });
});

describe('card challenges', () => {
  it('a signature by the card key verifies against its public key, as 64-byte r‖s', async () => {
    const { file, privateKey } = await makeA1();
    const challenge = randomBytes(32);
    const sig = signChallenge(privateKey, challenge);
    assert.equal(sig.length, 64);
    assert.equal(verifyChallenge(Buffer.from(file.publicKey, 'base64'), challenge, sig), true);
  });

  it('a signature does not verify another challenge, another key, or a DER encoding', async () => {
    const { file, privateKey } = await makeA1();
    const other = (await makeA1()).file;
    const challenge = randomBytes(32);
    const sig = signChallenge(privateKey, challenge);
    const spki = Buffer.from(file.publicKey, 'base64');
    assert.equal(verifyChallenge(spki, randomBytes(32), sig), false);
    assert.equal(verifyChallenge(Buffer.from(other.publicKey, 'base64'), challenge, sig), false);
    assert.equal(verifyChallenge(spki, challenge, sig.subarray(1)), false);
    assert.equal(verifyChallenge(Buffer.from('not a key'), challenge, sig), false);
  });

  it('signing with a key that is not P-256 is refused with ERR_INTERNAL', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    assert.throws(() => signChallenge(privateKey, randomBytes(32)), refusedWith('ERR_INTERNAL'));
  });
});

// The management web UI opens cards in the browser: prove WebCrypto alone can do it.
describe('card files in WebCrypto', () => {
  const subtle = globalThis.crypto.subtle;
  const b64 = (s: string) => Uint8Array.from(Buffer.from(s, 'base64'));

  it('unseal with PBKDF2 deriveKey and AES-GCM decrypt, and the key inside signs a challenge the device accepts', async () => {
    const { file } = await makeA1(SHARE, '1234abcd');
    const pinKey = await subtle.importKey('raw', new TextEncoder().encode('1234ABCD'), 'PBKDF2', false, [
      'deriveKey',
    ]);
    const aesKey = await subtle.deriveKey(
      { name: 'PBKDF2', hash: 'SHA-256', salt: b64(file.sealed.salt), iterations: file.sealed.iterations },
      pinKey,
      { name: 'AES-GCM', length: 256 },
      false,
      ['decrypt'],
    );
    const plaintext = await subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: b64(file.sealed.iv),
        additionalData: new TextEncoder().encode(
          `coffer-card/v1/${file.deviceId}/${file.cardId}/${file.slot}`,
        ),
        tagLength: 128,
      },
      aesKey,
      b64(file.sealed.ciphertext),
    );
    const contents = JSON.parse(new TextDecoder().decode(plaintext)) as {
      pkcs8: string;
      share: string | null;
    };
    assert.deepEqual(Object.keys(contents).sort(), ['pkcs8', 'share']);
    assert.equal(contents.share, SHARE.toString('base64'));

    const signingKey = await subtle.importKey(
      'pkcs8',
      b64(contents.pkcs8),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    );
    const challenge = randomBytes(32);
    const sig = Buffer.from(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signingKey, challenge));
    assert.equal(verifyChallenge(Buffer.from(file.publicKey, 'base64'), challenge, sig), true);
  });

  it('verify a signature the device makes with the card’s public key', async () => {
    const { file, privateKey } = await makeA1();
    const verifyKey = await subtle.importKey(
      'spki',
      b64(file.publicKey),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    );
    const challenge = randomBytes(32);
    const ok = await subtle.verify(
      { name: 'ECDSA', hash: 'SHA-256' },
      verifyKey,
      signChallenge(privateKey, challenge),
      challenge,
    );
    assert.equal(ok, true);
  });

  it('refuse to unseal a card whose id was edited, because the id is associated data', async () => {
    const { file } = await makeA1();
    const pinKey = await subtle.importKey('raw', new TextEncoder().encode(PIN), 'PBKDF2', false, [
      'deriveKey',
    ]);
    const aesKey = await subtle.deriveKey(
      { name: 'PBKDF2', hash: 'SHA-256', salt: b64(file.sealed.salt), iterations: file.sealed.iterations },
      pinKey,
      { name: 'AES-GCM', length: 256 },
      false,
      ['decrypt'],
    );
    const aad = new TextEncoder().encode(`coffer-card/v1/${file.deviceId}/not-${file.cardId}/${file.slot}`);
    await assert.rejects(
      subtle.decrypt(
        { name: 'AES-GCM', iv: b64(file.sealed.iv), additionalData: aad },
        aesKey,
        b64(file.sealed.ciphertext),
      ),
    );
  });
});

describe('parseCardFile', () => {
  let good: CardFile;
  before(async () => {
    good = (await makeA1()).file;
  });

  const refusals: [string, (o: Loose) => void, string?][] = [
    ['another format', (o) => (o.format = 'other-card'), 'format'],
    ['version 2', (o) => (o.version = 2), 'version'],
    ['no version', (o) => delete o.version, 'version'],
    ['version "1"', (o) => (o.version = '1'), 'version'],
    ['an unknown field', (o) => (o.extra = 1), 'extra'],
    ['a missing field', (o) => delete o.account, 'account'],
    ['an unknown sealed field', (o) => (o.sealed.tag = ''), 'sealed.tag'],
    ['a card id that is not a UUID', (o) => (o.cardId = 'card-1'), 'cardId'],
    ['an upper-case card id', (o) => (o.cardId = o.cardId.toUpperCase()), 'cardId'],
    ['an empty device id', (o) => (o.deviceId = ''), 'deviceId'],
    ['a role the slot does not have', (o) => (o.role = 'audit-manager'), 'role'],
    ['an unknown role', (o) => (o.role = 'root'), 'role'],
    ['slot A4', (o) => (o.slot = 'A4'), 'slot'],
    ['an account with a slash', (o) => (o.account = 'admin/A1'), 'account'],
    ['a creation time without milliseconds', (o) => (o.createdAt = '2025-03-01T10:00:00Z'), 'createdAt'],
    ['a creation time that is no day', (o) => (o.createdAt = '2025-02-30T10:00:00.000Z'), 'createdAt'],
    ['a public key that is not base64', (o) => (o.publicKey = 'not*base64'), 'publicKey'],
    ['a public key in non-canonical base64', (o) => (o.publicKey = nonCanonical(o.publicKey)), 'publicKey'],
    ['a truncated public key', (o) => (o.publicKey = o.publicKey.slice(0, 80)), 'publicKey'],
    ['another KDF', (o) => (o.sealed.kdf = 'scrypt'), 'sealed.kdf'],
    ['another cipher', (o) => (o.sealed.cipher = 'AES-128-GCM'), 'sealed.cipher'],
    ['zero iterations', (o) => (o.sealed.iterations = 0), 'sealed.iterations'],
    ['fractional iterations', (o) => (o.sealed.iterations = 1000.5), 'sealed.iterations'],
    ['iterations as a string', (o) => (o.sealed.iterations = '1000'), 'sealed.iterations'],
    ['a billion iterations', (o) => (o.sealed.iterations = 1e9), 'sealed.iterations'],
    ['an 8-byte salt', (o) => (o.sealed.salt = Buffer.alloc(8).toString('base64')), 'sealed.salt'],
    ['a 16-byte IV', (o) => (o.sealed.iv = Buffer.alloc(16).toString('base64')), 'sealed.iv'],
    [
      'a ciphertext shorter than a tag',
      (o) => (o.sealed.ciphertext = Buffer.alloc(16).toString('base64')),
      'sealed.ciphertext',
    ],
    ['a sealed part that is an array', (o) => (o.sealed = []), 'sealed'],
  ];

  for (const [what, change, field] of refusals) {
    it(`refuses a card file with ${what} with ERR_CARD_FORMAT`, () => {
      assert.throws(() => parseCardFile(edit(good, change)), refusedWith('ERR_CARD_FORMAT', field));
    });
  }

  it('refuses a public key on another curve with ERR_CARD_FORMAT', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    assert.throws(
      () => parseCardFile(edit(good, (o) => (o.publicKey = der))),
      refusedWith('ERR_CARD_FORMAT', 'publicKey'),
    );
  });

  it('says which version it reads when given a newer one', () => {
    assert.throws(
      () => parseCardFile(edit(good, (o) => (o.version = 2))),
      (err: unknown) =>
        err instanceof CofferError && /version 2; this device reads version 1/.test(err.message),
    );
  });

  it('refuses what is not a JSON object with ERR_CARD_FORMAT', () => {
    for (const input of [null, 42, [], 'not json', '[1]', undefined]) {
      assert.throws(() => parseCardFile(input), refusedWith('ERR_CARD_FORMAT'), String(input));
    }
  });

  it('refuses text far larger than a card with ERR_CARD_FORMAT', () => {
    assert.throws(() => parseCardFile(' '.repeat(100_000)), refusedWith('ERR_CARD_FORMAT'));
  });
});

function baseOpts(slot: 'A2' | 'A4' | 'B1' | 'C1' | 'D1' | 'A1') {
  return {
    deviceId: DEVICE,
    slot,
    role: roleOfSlot(slot) ?? 'device-manager',
    account: `admin${slot}`,
    pin: PIN,
    share: null,
    iterations: ITER,
    createdAt: CREATED,
  };
}

/** Same bytes, but with non-zero unused bits before the padding, which Node's decoder ignores. */
function nonCanonical(b64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  assert.ok(b64.endsWith('=='));
  const c = b64.at(-3)!;
  const out = `${b64.slice(0, -3)}${alphabet[alphabet.indexOf(c) + 1]}==`;
  assert.deepEqual(Buffer.from(out, 'base64'), Buffer.from(b64, 'base64'));
  return out;
}
