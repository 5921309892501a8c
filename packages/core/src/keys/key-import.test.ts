import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { type ImportEntry, parseImportFile, resolveImportEntry } from './key-import.js';
import { wrapKey } from './key-wrap.js';

const code = (c: string) => (err: unknown) => err instanceof CofferError && err.code === c;
const noUnwrap = async (): Promise<Buffer> => {
  throw new Error('no KEK in this test');
};

const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
const ed = generateKeyPairSync('ed25519');
const sm2 = generateKeyPairSync('ec', { namedCurve: 'SM2' });
const pem = (k: typeof rsa.privateKey, type: 'pkcs8' | 'pkcs1' | 'sec1' = 'pkcs8') =>
  k.export({ format: 'pem', type }).toString();

async function types(content: string | Buffer, options = {}): Promise<string[]> {
  const parsed = parseImportFile(Buffer.isBuffer(content) ? content : Buffer.from(content), options);
  assert.deepEqual(parsed.errors, []);
  const out: string[] = [];
  for (const e of parsed.entries) out.push((await resolveImportEntry(e, noUnwrap)).type);
  return out;
}

describe('import of PEM files', () => {
  it('read a bundle of PKCS#8, PKCS#1 and SEC 1 private keys, ignoring text between blocks', async () => {
    const bundle = [
      'Bag Attributes: whatever',
      pem(rsa.privateKey),
      pem(rsa.privateKey, 'pkcs1'),
      pem(p256.privateKey, 'sec1'),
      pem(p384.privateKey),
      pem(ed.privateKey),
      pem(sm2.privateKey),
    ].join('\n');
    assert.deepEqual(await types(bundle), ['RSA-1024', 'RSA-1024', 'EC-P256', 'EC-P384', 'Ed25519', 'SM2']);
  });

  it('report a public key and an encrypted key per block, with ERR_IMPORT_FORMAT', () => {
    const encrypted = rsa.privateKey
      .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' })
      .toString();
    const parsed = parseImportFile(
      Buffer.from(
        [pem(rsa.privateKey), rsa.publicKey.export({ format: 'pem', type: 'spki' }), encrypted].join('\n'),
      ),
    );
    assert.equal(parsed.entries.length, 1);
    assert.deepEqual(
      parsed.errors.map((e) => [e.position, e.code]),
      [
        [2, 'ERR_IMPORT_FORMAT'],
        [3, 'ERR_IMPORT_FORMAT'],
      ],
    );
    assert.match(parsed.errors[0]!.message, /public key alone/);
    assert.match(parsed.errors[1]!.message, /passphrase/);
  });

  it('refuse a declared type that does not match the key with ERR_KEY_MATERIAL', async () => {
    const [entry] = parseImportFile(Buffer.from(pem(p256.privateKey)), { type: 'EC-P384' }).entries;
    await assert.rejects(resolveImportEntry(entry!, noUnwrap), code('ERR_KEY_MATERIAL'));
  });

  it('refuse a key of a kind the device does not keep with ERR_KEY_TYPE', async () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    const [entry] = parseImportFile(Buffer.from(pem(k))).entries;
    await assert.rejects(resolveImportEntry(entry!, noUnwrap), code('ERR_KEY_TYPE'));
  });
});

describe('import of DER and base64 PKCS#8', () => {
  it('read a binary DER file and its base64 text', async () => {
    const der = p256.privateKey.export({ format: 'der', type: 'pkcs8' });
    assert.deepEqual(await types(der), ['EC-P256']);
    assert.deepEqual(await types(der.toString('base64').replace(/(.{64})/g, '$1\n')), ['EC-P256']);
  });
});

describe('import of JWK', () => {
  it('read RSA, EC P-256/P-384 and OKP Ed25519 private JWKs and a JWK Set', async () => {
    const set = {
      keys: [rsa.privateKey, p256.privateKey, p384.privateKey, ed.privateKey].map((k) =>
        k.export({ format: 'jwk' }),
      ),
    };
    assert.deepEqual(await types(JSON.stringify(set)), ['RSA-1024', 'EC-P256', 'EC-P384', 'Ed25519']);
  });

  it('read an oct JWK with its type from alg or from the declared type', async () => {
    const k = randomBytes(32).toString('base64url');
    assert.deepEqual(await types(JSON.stringify({ kty: 'oct', k, alg: 'A256GCM' })), ['AES-256']);
    assert.deepEqual(await types(JSON.stringify({ kty: 'oct', k, alg: 'HS256' })), ['HMAC-SHA256']);
    assert.deepEqual(await types(JSON.stringify({ kty: 'oct', k }), { type: 'SM4' }).catch((e) => [e.code]), [
      'ERR_KEY_MATERIAL',
    ]);
    assert.deepEqual(await types(JSON.stringify({ kty: 'oct', k }), { type: 'HMAC-SM3' }), ['HMAC-SM3']);
  });

  it('refuse a public JWK with ERR_IMPORT_FORMAT', () => {
    const parsed = parseImportFile(Buffer.from(JSON.stringify(p256.publicKey.export({ format: 'jwk' }))));
    assert.equal(parsed.errors[0]?.code, 'ERR_IMPORT_FORMAT');
  });

  it('refuse an oct JWK without a type with ERR_KEY_TYPE', async () => {
    const [entry] = parseImportFile(
      Buffer.from(JSON.stringify({ kty: 'oct', k: randomBytes(16).toString('base64url') })),
    ).entries;
    await assert.rejects(resolveImportEntry(entry!, noUnwrap), code('ERR_KEY_TYPE'));
  });
});

describe('import of hex files', () => {
  it('read one secret per line with the declared type, skipping blanks and comments', async () => {
    const text = `# two AES keys\n${randomBytes(16).toString('hex')}\n\n${randomBytes(16).toString('hex').toUpperCase()}\n`;
    assert.deepEqual(await types(text, { type: 'AES-128' }), ['AES-128', 'AES-128']);
  });

  it('refuse hex without a declared type with ERR_KEY_TYPE', () => {
    assert.throws(() => parseImportFile(Buffer.from(randomBytes(16).toString('hex'))), code('ERR_KEY_TYPE'));
  });

  it('refuse a secret of the wrong length for its type with ERR_KEY_MATERIAL', async () => {
    const [entry] = parseImportFile(Buffer.from(randomBytes(16).toString('hex')), {
      type: 'AES-256',
    }).entries;
    await assert.rejects(resolveImportEntry(entry!, noUnwrap), code('ERR_KEY_MATERIAL'));
  });
});

describe('import of wrapped keys', () => {
  const kek = randomBytes(32);
  const unwrap = async (index: number, wrapped: Buffer) => {
    assert.equal(index, 9);
    const { unwrapKey } = await import('./key-wrap.js');
    return unwrapKey(kek, wrapped).plaintext;
  };

  it('unwrap hex lines of AES keys (RFC 3394) under a KEK', async () => {
    const secret = randomBytes(32);
    const parsed = parseImportFile(Buffer.from(wrapKey(kek, secret, 'aes-kw').toString('hex')), {
      kek: 9,
      type: 'AES-256',
    });
    const m = await resolveImportEntry(parsed.entries[0]!, unwrap);
    assert.deepEqual(m.material, secret);
  });

  it('unwrap a PKCS#8 private key wrapped with padding (RFC 5649)', async () => {
    const der = ed.privateKey.export({ format: 'der', type: 'pkcs8' });
    const parsed = parseImportFile(wrapKey(kek, der, 'aes-kwp'), { kek: 9, format: 'der' });
    assert.equal((await resolveImportEntry(parsed.entries[0]!, unwrap)).type, 'Ed25519');
  });
});

describe('import lists', () => {
  it('read every kind of entry with its own fields', async () => {
    const list = {
      format: 'coffer-key-import',
      version: 1,
      keys: [
        {
          type: 'AES-256',
          hex: randomBytes(32).toString('hex'),
          index: 40,
          validityDays: 30,
          description: 'a',
          usage: ['encrypt'],
        },
        { type: 'SM4', base64: randomBytes(16).toString('base64') },
        { pem: pem(p256.privateKey) },
        { pkcs8: ed.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64') },
        { jwk: { kty: 'oct', k: randomBytes(48).toString('base64url') }, type: 'HMAC-SHA384' },
      ],
    };
    const parsed = parseImportFile(Buffer.from(JSON.stringify(list)));
    assert.deepEqual(parsed.errors, []);
    const first = parsed.entries[0] as ImportEntry;
    assert.equal(first.index, 40);
    assert.equal(first.validityDays, 30);
    assert.deepEqual(first.usage, ['encrypt']);
    const resolved = [];
    for (const e of parsed.entries) resolved.push((await resolveImportEntry(e, noUnwrap)).type);
    assert.deepEqual(resolved, ['AES-256', 'SM4', 'EC-P256', 'Ed25519', 'HMAC-SHA384']);
  });

  it('report entries with unknown fields or no material by position', () => {
    const parsed = parseImportFile(
      Buffer.from(
        JSON.stringify([
          { type: 'AES-128', hex: '00'.repeat(16) },
          { type: 'AES-128', colour: 'red', hex: '00' },
          { type: 'AES-128' },
        ]),
      ),
    );
    assert.equal(parsed.entries.length, 1);
    assert.deepEqual(
      parsed.errors.map((e) => e.where),
      ['entry 2', 'entry 3'],
    );
  });

  it('refuse a backup file, an empty file and unreadable content with ERR_IMPORT_FORMAT', () => {
    assert.throws(
      () => parseImportFile(Buffer.from('{"format":"coffer-key-backup","version":1}')),
      code('ERR_IMPORT_FORMAT'),
    );
    assert.throws(() => parseImportFile(Buffer.alloc(0)), code('ERR_IMPORT_FORMAT'));
    assert.throws(() => parseImportFile(Buffer.from('hello, world!')), code('ERR_IMPORT_FORMAT'));
    assert.throws(() => parseImportFile(Buffer.from('{"a":')), code('ERR_IMPORT_FORMAT'));
  });
});

describe('format detection', () => {
  it('read a hex line that starts with 0 as hex, not as DER (0x30 is both "0" and a DER SEQUENCE)', () => {
    for (const hex of ['00112233445566778899aabbccddeeff', '0f'.repeat(32), `0${'a'.repeat(63)}\n`]) {
      assert.equal(parseImportFile(Buffer.from(hex), { type: 'AES-256' }).format, 'hex');
    }
  });
});
