import assert from 'node:assert/strict';
import { createECDH } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ASYM_DECRYPT,
  BATCH,
  DECRYPT,
  DERIVE,
  ENCRYPT,
  MAC,
  UNWRAP,
  VERIFY,
  VERIFY_MAC,
  WRAP,
} from '@coffer/protocol';
import {
  type Licence,
  type ServiceClient,
  type ServiceDevice,
  type ServiceError,
  startServiceDevice,
} from './service-support.js';
import { ROOT } from './support.js';

/*
 * Wycheproof (test/vectors/wycheproof/, Apache-2.0) through the crypto service: keys imported with
 * the management API, every operation over the binary protocol. Each file is sampled (50 cases
 * spread over the file, invalid ones included): the crypto engine runs every case of every
 * file in its unit tests (packages/core/src/crypto/wycheproof-*.test.ts); this shows the service
 * carries the same results end to end. `valid` cases must give the listed value, `invalid` ones
 * must be refused (or verify false), `acceptable` ones may go either way but must be right when
 * they pass.
 */

const PER_FILE = 50;

interface WTest {
  tcId: number;
  comment: string;
  result: 'valid' | 'invalid' | 'acceptable';
  [k: string]: unknown;
}
interface WGroup {
  tests: WTest[];
  [k: string]: unknown;
}

function load(name: string): WGroup[] {
  return JSON.parse(readFileSync(join(ROOT, 'test/vectors/wycheproof', name), 'utf8')).testGroups;
}

/** Up to `n` cases spread evenly over the file (after `keep`), always with some invalid ones. */
function sample(name: string, keep: (g: WGroup, t: WTest) => boolean = () => true, n = PER_FILE) {
  const all = load(name).flatMap((group) =>
    group.tests.filter((t) => keep(group, t)).map((t) => ({ group, t })),
  );
  const picked = new Set<number>();
  for (let i = 0; i < Math.min(n, all.length); i++)
    picked.add(Math.floor((i * all.length) / Math.min(n, all.length)));
  const invalid = all.map((c, i) => (c.t.result === 'invalid' ? i : -1)).filter((i) => i >= 0);
  for (const i of invalid.slice(0, 5)) picked.add(i);
  return [...picked].sort((a, b) => a - b).map((i) => all[i]!);
}

const hex = (v: unknown) => Buffer.from(String(v ?? ''), 'hex');

let d: ServiceDevice;
let lic: Licence;
let c: ServiceClient;
const counted: Record<string, number> = {};

before(async () => {
  d = await startServiceDevice();
  lic = await d.licence('wycheproof', { maxConnections: 8 });
  c = await d.connect(lic);
});
after(async () => {
  await d?.close();
});

/** Imports the distinct keys of `entries` (by `id`) and returns their indexes by id. */
async function importKeys(
  entries: { id: string; entry: Record<string, unknown> }[],
): Promise<Map<string, number>> {
  const unique = [...new Map(entries.map((e) => [e.id, e.entry])).entries()];
  const indexes = await d.importKeys(
    unique.map(([, e]) => e),
    ['wycheproof'],
  );
  return new Map(unique.map(([id], i) => [id, indexes[i]!]));
}

async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, code: (error as ServiceError).code };
  }
}

function label(name: string, t: WTest): string {
  return `${name} tcId ${t.tcId} (${t.result}: ${t.comment})`;
}

function expectOutcome<T>(
  name: string,
  t: WTest,
  got: { ok: true; value: T } | { ok: false; code: string },
  same: (value: T) => boolean,
  refusals: readonly string[],
): void {
  counted[name] = (counted[name] ?? 0) + 1;
  if (got.ok) {
    assert.notEqual(t.result, 'invalid', `${label(name, t)} was accepted`);
    assert.ok(same(got.value), `${label(name, t)} gave another value`);
  } else {
    assert.notEqual(t.result, 'valid', `${label(name, t)} was refused with ${got.code}`);
    assert.ok(refusals.includes(got.code), `${label(name, t)} was refused with ${got.code}`);
  }
}

describe('Wycheproof through the crypto service', () => {
  test('aes_gcm_test.json: encrypt gives ct ‖ tag, decrypt gives msg or ERR_CIPHERTEXT (96-bit IVs)', async () => {
    const name = 'aes_gcm_test.json';
    const cases = sample(name, (g) => g['ivSize'] === 96 && g['tagSize'] === 128);
    const keys = await importKeys(
      cases.map(({ t, group }) => ({
        id: String(t['key']),
        entry: { hex: t['key'], type: `AES-${group['keySize']}`, usage: ['encrypt', 'decrypt'] },
      })),
    );
    await Promise.all(
      cases.map(async ({ t }) => {
        const key = keys.get(String(t['key']))!;
        const iv = hex(t['iv']);
        const aad = hex(t['aad']);
        const dec = await outcome(
          c.request(DECRYPT, { key, mode: 'gcm', iv, aad, tag: hex(t['tag']), data: hex(t['ct']) }),
        );
        expectOutcome(name, t, dec, (v) => v.plaintext.equals(hex(t['msg'])), ['ERR_CIPHERTEXT']);
        if (t.result === 'valid') {
          const enc = await c.request(ENCRYPT, { key, mode: 'gcm', iv, aad, data: hex(t['msg']) });
          assert.deepEqual([enc.ciphertext, enc.tag], [hex(t['ct']), hex(t['tag'])], label(name, t));
        }
      }),
    );
  });

  test('aes_cbc_pkcs5_test.json: decrypt gives msg or ERR_CIPHERTEXT; encrypt with the IV gives ct', async () => {
    const name = 'aes_cbc_pkcs5_test.json';
    const cases = sample(name);
    const keys = await importKeys(
      cases.map(({ t, group }) => ({
        id: String(t['key']),
        entry: { hex: t['key'], type: `AES-${group['keySize']}`, usage: ['encrypt', 'decrypt'] },
      })),
    );
    await Promise.all(
      cases.map(async ({ t }) => {
        const key = keys.get(String(t['key']))!;
        const iv = hex(t['iv']);
        const dec = await outcome(c.request(DECRYPT, { key, mode: 'cbc', iv, data: hex(t['ct']) }));
        expectOutcome(name, t, dec, (v) => v.plaintext.equals(hex(t['msg'])), [
          'ERR_CIPHERTEXT',
          'ERR_CRYPTO_INPUT',
        ]);
        if (t.result === 'valid') {
          const enc = await c.request(ENCRYPT, { key, mode: 'cbc', iv, data: hex(t['msg']) });
          assert.deepEqual(enc.ciphertext, hex(t['ct']), label(name, t));
        }
      }),
    );
  });

  for (const [name, type, algorithm] of [
    ['aes_cmac_test.json', 'AES', 'aes-cmac'],
    ['hmac_sha256_test.json', 'HMAC-SHA256', 'hmac-sha256'],
    ['hmac_sha384_test.json', 'HMAC-SHA384', 'hmac-sha384'],
    ['hmac_sha512_test.json', 'HMAC-SHA512', 'hmac-sha512'],
    ['hmac_sm3_test.json', 'HMAC-SM3', 'hmac-sm3'],
  ] as const) {
    test(`${name}: verify-mac agrees with the listed result; mac gives the tag`, async () => {
      const cases = sample(name, (g) =>
        type === 'AES' ? [128, 192, 256].includes(Number(g['keySize'])) : Number(g['keySize']) / 8 >= 16,
      );
      const keys = await importKeys(
        cases.map(({ t, group }) => ({
          id: String(t['key']),
          entry: { hex: t['key'], type: type === 'AES' ? `AES-${group['keySize']}` : type, usage: ['mac'] },
        })),
      );
      await Promise.all(
        cases.map(async ({ t }) => {
          const key = keys.get(String(t['key']))!;
          const tag = hex(t['tag']);
          const got = await outcome(c.request(VERIFY_MAC, { key, algorithm, data: hex(t['msg']), mac: tag }));
          counted[name] = (counted[name] ?? 0) + 1;
          assert.ok(got.ok, label(name, t));
          if (t.result !== 'acceptable') assert.equal(got.value.valid, t.result === 'valid', label(name, t));
          if (t.result === 'valid') {
            const mac = await c.request(MAC, { key, algorithm, data: hex(t['msg']), length: tag.length });
            assert.deepEqual(mac.mac, tag, label(name, t));
          }
        }),
      );
    });
  }

  for (const [name, algorithm] of [
    ['aes_wrap_test.json', 'aes-kw'],
    ['aes_kwp_test.json', 'aes-kwp'],
  ] as const) {
    test(`${name}: unwrap gives msg or a refusal; wrap gives ct`, async () => {
      const cases = sample(name);
      const keys = await importKeys(
        cases.map(({ t, group }) => ({
          id: String(t['key']),
          entry: { hex: t['key'], type: `AES-${group['keySize']}`, usage: ['wrap', 'unwrap'] },
        })),
      );
      await Promise.all(
        cases.map(async ({ t }) => {
          const key = keys.get(String(t['key']))!;
          const got = await outcome(c.request(UNWRAP, { key, algorithm, wrapped: hex(t['ct']) }));
          expectOutcome(name, t, got, (v) => v.keyMaterial.equals(hex(t['msg'])), [
            'ERR_CIPHERTEXT',
            'ERR_CRYPTO_INPUT',
          ]);
          if (t.result === 'valid') {
            const wrapped = await c.request(WRAP, { key, algorithm, keyMaterial: hex(t['msg']) });
            assert.deepEqual(wrapped.wrapped, hex(t['ct']), label(name, t));
          }
        }),
      );
    });
  }

  test('ecdh_secp256r1_test.json: derive with the imported private key gives the shared secret, bad peer keys refused', async () => {
    const name = 'ecdh_secp256r1_test.json';
    const cases = sample(name);
    const keys = await importKeys(
      cases.map(({ t }) => {
        const d32 = Buffer.alloc(32);
        const raw = hex(t['private']);
        raw.subarray(-32).copy(d32, 32 - Math.min(32, raw.length));
        const ecdh = createECDH('prime256v1');
        ecdh.setPrivateKey(d32);
        const point = ecdh.getPublicKey();
        const jwk = {
          kty: 'EC',
          crv: 'P-256',
          d: d32.toString('base64url'),
          x: point.subarray(1, 33).toString('base64url'),
          y: point.subarray(33).toString('base64url'),
        };
        return { id: d32.toString('hex'), entry: { jwk, usage: ['derive'] } };
      }),
    );
    await Promise.all(
      cases.map(async ({ t }) => {
        const raw = hex(t['private']);
        const d32 = Buffer.alloc(32);
        raw.subarray(-32).copy(d32, 32 - Math.min(32, raw.length));
        const key = keys.get(d32.toString('hex'))!;
        const got = await outcome(c.request(DERIVE, { key, publicKey: hex(t['public']) }));
        expectOutcome(name, t, got, (v) => v.secret.equals(hex(t['shared'])), [
          'ERR_CRYPTO_INPUT',
          'ERR_ALGORITHM',
        ]);
      }),
    );
  });

  for (const [name, algorithm, options] of [
    ['ecdsa_secp256r1_sha256_test.json', 'ecdsa-sha256', {}],
    ['ecdsa_secp256r1_sha256_p1363_test.json', 'ecdsa-sha256', { format: 'raw' }],
    ['ecdsa_secp384r1_sha384_test.json', 'ecdsa-sha384', {}],
    ['ed25519_test.json', 'ed25519', {}],
    ['rsa_signature_2048_sha256_test.json', 'rsa-pkcs1-sha256', {}],
    ['rsa_pss_2048_sha256_mgf1_32_test.json', 'rsa-pss-sha256', { saltLength: 32 }],
  ] as const) {
    test(`${name}: verify with the public key in the request (a batch) agrees with the listed result`, async () => {
      const cases = sample(name);
      const items = cases.map(({ group, t }) =>
        VERIFY.request.encode({
          publicKey: Buffer.from(String(group['publicKeyPem'])),
          algorithm,
          data: hex(t['msg']),
          signature: hex(t['sig']),
          ...options,
        }),
      );
      const { results } = await c.request(BATCH, { command: VERIFY.code, items });
      assert.equal(results.length, cases.length);
      cases.forEach(({ t }, i) => {
        counted[name] = (counted[name] ?? 0) + 1;
        const r = results[i]!;
        if (r.body) {
          const { valid } = VERIFY.response.decode(r.body);
          if (t.result !== 'acceptable') assert.equal(valid, t.result === 'valid', label(name, t));
        } else {
          assert.notEqual(t.result, 'valid', `${label(name, t)}: ${r.errorCode}`);
          assert.equal(r.errorCode, 'ERR_CRYPTO_INPUT', label(name, t));
        }
      });
    });
  }

  for (const [name, algorithm] of [
    ['rsa_oaep_2048_sha1_mgf1sha1_test.json', 'rsa-oaep-sha1'],
    ['rsa_oaep_2048_sha256_mgf1sha256_test.json', 'rsa-oaep-sha256'],
    ['rsa_pkcs1_2048_test.json', 'rsa-pkcs1'],
  ] as const) {
    test(`${name}: asym-decrypt with the imported private key gives msg or ERR_CIPHERTEXT`, async () => {
      const cases = sample(name);
      const keys = await importKeys(
        cases.map(({ group }) => ({
          id: String(group['privateKeyPkcs8']),
          entry: { pkcs8: hex(group['privateKeyPkcs8']).toString('base64'), usage: ['decrypt'] },
        })),
      );
      await Promise.all(
        cases.map(async ({ group, t }) => {
          const key = keys.get(String(group['privateKeyPkcs8']))!;
          const got = await outcome(
            c.request(ASYM_DECRYPT, {
              key,
              algorithm,
              data: hex(t['ct']),
              ...(algorithm === 'rsa-pkcs1' || !t['label'] ? {} : { label: hex(t['label']) }),
            }),
          );
          expectOutcome(name, t, got, (v) => v.plaintext.equals(hex(t['msg'])), [
            'ERR_CIPHERTEXT',
            'ERR_CRYPTO_INPUT',
          ]);
        }),
      );
    });
  }

  test('sm4_gcm_test.json: SM4-GCM where the platform has it, else refused with ERR_ALGORITHM', async () => {
    const name = 'sm4_gcm_test.json';
    const cases = sample(name, (g) => g['ivSize'] === 96, 10);
    const keys = await importKeys(
      cases.map(({ t }) => ({
        id: String(t['key']),
        entry: { hex: t['key'], type: 'SM4', usage: ['encrypt', 'decrypt'] },
      })),
    );
    for (const { t } of cases) {
      const key = keys.get(String(t['key']))!;
      const got = await outcome(
        c.request(DECRYPT, {
          key,
          mode: 'gcm',
          iv: hex(t['iv']),
          aad: hex(t['aad']),
          tag: hex(t['tag']),
          data: hex(t['ct']),
        }),
      );
      counted[name] = (counted[name] ?? 0) + 1;
      if (!got.ok && got.code === 'ERR_ALGORITHM') continue; // OpenSSL < 3.2
      expectOutcome(name, t, got, (v) => v.plaintext.equals(hex(t['msg'])), ['ERR_CIPHERTEXT']);
    }
  });

  test('every file was sampled', (t) => {
    const files = [
      'aes_gcm_test.json',
      'aes_cbc_pkcs5_test.json',
      'aes_cmac_test.json',
      'hmac_sha256_test.json',
      'hmac_sha384_test.json',
      'hmac_sha512_test.json',
      'hmac_sm3_test.json',
      'aes_wrap_test.json',
      'aes_kwp_test.json',
      'ecdh_secp256r1_test.json',
      'ecdsa_secp256r1_sha256_test.json',
      'ecdsa_secp256r1_sha256_p1363_test.json',
      'ecdsa_secp384r1_sha384_test.json',
      'ed25519_test.json',
      'rsa_signature_2048_sha256_test.json',
      'rsa_pss_2048_sha256_mgf1_32_test.json',
      'rsa_oaep_2048_sha1_mgf1sha1_test.json',
      'rsa_oaep_2048_sha256_mgf1sha256_test.json',
      'rsa_pkcs1_2048_test.json',
      'sm4_gcm_test.json',
    ];
    for (const f of files) assert.ok((counted[f] ?? 0) >= 10, `${f}: ${counted[f] ?? 0} cases`);
    t.diagnostic(`cases run through the service: ${Object.values(counted).reduce((a, b) => a + b, 0)}`);
  });
});
