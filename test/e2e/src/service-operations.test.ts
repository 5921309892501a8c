import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  verify,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ASYM_DECRYPT,
  ASYM_ENCRYPT,
  BATCH,
  BATCH_RESULT_BODY,
  DECRYPT,
  DERIVE,
  ENCRYPT,
  GENERATE_DATA_KEY,
  HASH,
  INFO,
  KEY_INFO,
  LIST_KEYS,
  MAC,
  PING,
  PUBLIC_KEY,
  RANDOM,
  SIGN,
  SM2_DIGEST,
  UNWRAP,
  VERIFY,
  VERIFY_MAC,
  WRAP,
} from '@coffer/protocol';
import {
  type KeyView,
  type Licence,
  type RestClient,
  type ServiceClient,
  type ServiceDevice,
  startServiceDevice,
} from './service-support.js';
import { refusal } from './support.js';

/*
 * Every operation of the crypto service with each algorithm, over real mutual TLS through the binary
 * protocol (and each once through REST), against a serving device whose keys were made or imported
 * through the management API. Results are checked independently: Node's own crypto and the openssl
 * command line verify the signatures, decrypt the ciphertexts and recompute the MACs; what goes the
 * other way (Node or openssl encrypts, the device decrypts) proves the device's side.
 */

const b = (s: string) => Buffer.from(s);
const hex = (s: string) => Buffer.from(s, 'hex');

let d: ServiceDevice;
let lic: Licence;
let c: ServiceClient;
let rest: RestClient;
let dir: string;
const keys: Record<string, KeyView> = {};
const secrets: Record<string, Buffer> = {};
const sym: Record<string, number> = {};

function openssl(args: string[], input?: Buffer): { ok: boolean; stdout: Buffer; stderr: string } {
  const r = spawnSync('openssl', args, { input, cwd: dir });
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.toString() };
}

function pub(name: string): KeyObject {
  return createPublicKey(keys[name]!.publicKey!);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-service-ops-'));
  d = await startServiceDevice();
  lic = await d.licence('ops');
  const all = ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap'];
  const made = await Promise.all([
    d.addKey('RSA-2048', ['ops'], { usage: all }),
    d.addKey('EC-P256', ['ops'], { usage: ['sign', 'verify', 'derive'] }),
    d.addKey('EC-P384', ['ops'], { usage: ['sign', 'verify', 'derive'] }),
    d.addKey('SM2', ['ops'], { usage: all }),
    d.addKey('Ed25519', ['ops']),
  ]);
  for (const k of made) keys[k.type] = k;
  // Symmetric keys are imported, so that the test knows them and can check with Node and openssl.
  const types = {
    'AES-128': 16,
    'AES-192': 24,
    'AES-256': 32,
    SM4: 16,
    '3DES': 24,
    '3DES-2KEY': 16,
    'HMAC-SHA256': 32,
    'HMAC-SHA384': 48,
    'HMAC-SHA512': 64,
    'HMAC-SM3': 32,
  } as const;
  const entries = Object.entries(types).map(([type, bytes]) => {
    let secret = randomBytes(bytes);
    if (type.startsWith('3DES'))
      while (secret.subarray(0, 8).equals(secret.subarray(8, 16))) secret = randomBytes(bytes);
    secrets[type] = secret;
    const usage = type.startsWith('HMAC')
      ? ['mac']
      : type.startsWith('3DES')
        ? ['encrypt', 'decrypt', 'mac']
        : ['encrypt', 'decrypt', 'mac', 'wrap', 'unwrap'];
    return { hex: secret.toString('hex'), type, usage, description: `imported ${type}` };
  });
  const indexes = await d.importKeys(entries, ['ops']);
  Object.keys(types).forEach((type, i) => {
    sym[type] = indexes[i]!;
  });
  c = await d.connect(lic);
  rest = d.rest(lic);
  for (const [name, k] of Object.entries(keys)) writeFileSync(join(dir, `${name}.pub.pem`), k.publicKey!);
});

after(async () => {
  await d?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the crypto service over the binary protocol', () => {
  test('ping echoes and info tells the limits', async () => {
    assert.deepEqual(await c.request(PING, { data: b('hello') }), { data: b('hello') });
    assert.deepEqual(await c.request(PING, {}), {});
    const info = await c.request(INFO, {});
    assert.equal(info.protocolVersion, 1);
    assert.equal(info.maxFrameBytes, 1_048_576);
    assert.equal(info.maxBatchItems, 1000);
    assert.match(info.server, /^coffer\/\d+\.\d+\.\d+/);
  });

  test('random gives the bytes asked for, 1 to 65536, different every time', async () => {
    for (const length of [1, 32, 65_536])
      assert.equal((await c.request(RANDOM, { length })).data.length, length);
    const [x, y] = await Promise.all([c.request(RANDOM, { length: 32 }), c.request(RANDOM, { length: 32 })]);
    assert.notDeepEqual(x.data, y.data);
  });

  test('hash: every algorithm equals Node’s, SM3 equals GB/T 32905 example 1', async () => {
    const data = randomBytes(1000);
    for (const algorithm of [
      'sha1',
      'sha224',
      'sha256',
      'sha384',
      'sha512',
      'sha3-256',
      'sha3-384',
      'sha3-512',
      'sm3',
    ] as const) {
      const { digest } = await c.request(HASH, { algorithm, data });
      assert.deepEqual(digest, createHash(algorithm).update(data).digest(), algorithm);
    }
    const abc = await c.request(HASH, { algorithm: 'sm3', data: b('abc') });
    assert.equal(
      abc.digest.toString('hex'),
      '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0',
    );
    // Large input goes to a worker; the answer is the same.
    const big = randomBytes(200_000);
    assert.deepEqual(
      (await c.request(HASH, { algorithm: 'sha256', data: big })).digest,
      createHash('sha256').update(big).digest(),
    );
  });

  test('sm2-digest: Z and e as GB/T 32918.2 defines them, for a stored key and a given public key', async () => {
    // Node has no JWK for SM2 keys: the point is the last 64 bytes of the SPKI (04 ‖ x ‖ y).
    const point = pub('SM2').export({ format: 'der', type: 'spki' }).subarray(-64);
    const zOf = (id: Buffer) =>
      createHash('sm3')
        .update(Buffer.from([(id.length * 8) >> 8, (id.length * 8) & 0xff]))
        .update(id)
        .update(
          hex(
            'fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc' +
              '28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93' +
              '32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7' +
              'bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0',
          ),
        )
        .update(point)
        .digest();
    const data = b('message digest');
    const stored = await c.request(SM2_DIGEST, { key: keys['SM2']!.index, data });
    const z = zOf(b('1234567812345678'));
    assert.deepEqual(stored.z, z);
    assert.deepEqual(stored.digest, createHash('sm3').update(z).update(data).digest());
    const given = await c.request(SM2_DIGEST, {
      publicKey: b(keys['SM2']!.publicKey!),
      id: b('ALICE123@YAHOO.COM'),
      data,
    });
    assert.deepEqual(given.z, zOf(b('ALICE123@YAHOO.COM')));
    await refusal(c.request(SM2_DIGEST, { key: keys['EC-P256']!.index, data }), 'ERR_ALGORITHM');
  });

  test('mac: HMAC equals Node’s, CMAC equals openssl’s; verify-mac accepts it, truncated too, and refuses a changed one', async () => {
    const data = randomBytes(100);
    for (const [type, algorithm] of [
      ['HMAC-SHA256', 'hmac-sha256'],
      ['HMAC-SHA384', 'hmac-sha384'],
      ['HMAC-SHA512', 'hmac-sha512'],
      ['HMAC-SM3', 'hmac-sm3'],
    ] as const) {
      const { mac } = await c.request(MAC, { key: sym[type]!, algorithm, data });
      assert.deepEqual(mac, createHmac(algorithm.slice(5), secrets[type]!).update(data).digest(), type);
      assert.equal((await c.request(VERIFY_MAC, { key: sym[type]!, algorithm, data, mac })).valid, true);
      const short = await c.request(MAC, { key: sym[type]!, algorithm, data, length: 16 });
      assert.deepEqual(short.mac, mac.subarray(0, 16));
      assert.equal(
        (await c.request(VERIFY_MAC, { key: sym[type]!, algorithm, data, mac: short.mac })).valid,
        true,
      );
      const bad = Buffer.from(mac);
      bad[0]! ^= 1;
      assert.equal(
        (await c.request(VERIFY_MAC, { key: sym[type]!, algorithm, data, mac: bad })).valid,
        false,
      );
    }
    writeFileSync(join(dir, 'mac.in'), data);
    for (const [type, algorithm, cipher] of [
      ['AES-128', 'aes-cmac', 'AES-128-CBC'],
      ['AES-256', 'aes-cmac', 'AES-256-CBC'],
      ['SM4', 'sm4-cmac', 'SM4-CBC'],
      ['3DES', '3des-cmac', 'DES-EDE3-CBC'],
    ] as const) {
      const { mac } = await c.request(MAC, { key: sym[type]!, algorithm, data });
      const r = openssl([
        'mac',
        '-cipher',
        cipher,
        '-macopt',
        `hexkey:${secrets[type]!.toString('hex')}`,
        '-in',
        'mac.in',
        'CMAC',
      ]);
      assert.ok(r.ok, r.stderr);
      assert.equal(mac.toString('hex').toUpperCase(), r.stdout.toString().trim(), type);
      assert.equal((await c.request(VERIFY_MAC, { key: sym[type]!, algorithm, data, mac })).valid, true);
    }
    // The algorithm must suit the key.
    await refusal(
      c.request(MAC, { key: sym['HMAC-SHA384']!, algorithm: 'hmac-sha256', data }),
      'ERR_ALGORITHM',
    );
    await refusal(c.request(MAC, { key: sym['AES-128']!, algorithm: 'sm4-cmac', data }), 'ERR_ALGORITHM');
  });

  test('encrypt: AES in GCM, CBC, CTR and ECB, SM4 in CBC, CTR and ECB, 3DES in CBC and ECB decrypt with Node; decrypt reverses', async () => {
    const data = randomBytes(77);
    const cases: [string, 'gcm' | 'cbc' | 'ctr' | 'ecb', string][] = [];
    for (const bits of [128, 192, 256])
      for (const mode of ['gcm', 'cbc', 'ctr', 'ecb'] as const)
        cases.push([`AES-${bits}`, mode, `aes-${bits}-${mode}`]);
    for (const mode of ['cbc', 'ctr', 'ecb'] as const) cases.push(['SM4', mode, `sm4-${mode}`]);
    cases.push(
      ['3DES', 'cbc', 'des-ede3-cbc'],
      ['3DES', 'ecb', 'des-ede3'],
      ['3DES-2KEY', 'cbc', 'des-ede-cbc'],
      ['3DES-2KEY', 'ecb', 'des-ede'],
    );
    for (const [type, mode, nodeName] of cases) {
      const aad = mode === 'gcm' ? b('header') : undefined;
      const out = await c.request(ENCRYPT, { key: sym[type]!, mode, data, ...(aad ? { aad } : {}) });
      const decipher = createDecipheriv(nodeName, secrets[type]!, mode === 'ecb' ? null : out.iv!);
      if (mode === 'gcm') {
        (decipher as ReturnType<typeof createDecipheriv> & { setAuthTag(t: Buffer): void }).setAuthTag(
          out.tag!,
        );
        (decipher as unknown as { setAAD(a: Buffer): void }).setAAD(aad!);
      }
      const plain = Buffer.concat([decipher.update(out.ciphertext), decipher.final()]);
      assert.deepEqual(plain, data, `${type} ${mode}`);
      const back = await c.request(DECRYPT, {
        key: sym[type]!,
        mode,
        data: out.ciphertext,
        ...(out.iv ? { iv: out.iv } : {}),
        ...(out.tag ? { tag: out.tag } : {}),
        ...(aad ? { aad } : {}),
      });
      assert.deepEqual(back.plaintext, data, `${type} ${mode} back`);
    }
  });

  test('encrypt with a caller’s IV and no padding equals openssl enc; a changed GCM tag is ERR_CIPHERTEXT', async () => {
    const data = randomBytes(64);
    const iv = randomBytes(16);
    writeFileSync(join(dir, 'enc.in'), data);
    const out = await c.request(ENCRYPT, { key: sym['SM4']!, mode: 'cbc', padding: 'none', iv, data });
    const r = openssl([
      'enc',
      '-sm4-cbc',
      '-nopad',
      '-K',
      secrets['SM4']!.toString('hex'),
      '-iv',
      iv.toString('hex'),
      '-in',
      'enc.in',
    ]);
    assert.ok(r.ok, r.stderr);
    assert.deepEqual(out.ciphertext, r.stdout);
    await refusal(
      c.request(ENCRYPT, { key: sym['AES-128']!, mode: 'cbc', padding: 'none', data: randomBytes(15) }),
      'ERR_CRYPTO_INPUT',
    );
    const gcm = await c.request(ENCRYPT, { key: sym['AES-256']!, mode: 'gcm', data });
    const tag = Buffer.from(gcm.tag!);
    tag[3]! ^= 0x10;
    await refusal(
      c.request(DECRYPT, { key: sym['AES-256']!, mode: 'gcm', iv: gcm.iv!, tag, data: gcm.ciphertext }),
      'ERR_CIPHERTEXT',
    );
    // SM4-GCM only where the platform's OpenSSL has it (3.2+); 3DES has no GCM; an HMAC key does not encrypt.
    await refusal(c.request(ENCRYPT, { key: sym['3DES']!, mode: 'gcm', data }), 'ERR_ALGORITHM');
    await refusal(
      c.request(ENCRYPT, { key: sym['HMAC-SHA256']!, mode: 'cbc', data }),
      'ERR_KEY_USAGE_NOT_ALLOWED',
    );
    // A large input runs in a worker and gives the same kind of answer.
    const big = randomBytes(300_000);
    const bigOut = await c.request(ENCRYPT, { key: sym['AES-128']!, mode: 'ctr', data: big });
    const ctr = createDecipheriv('aes-128-ctr', secrets['AES-128']!, bigOut.iv!);
    assert.deepEqual(Buffer.concat([ctr.update(bigOut.ciphertext), ctr.final()]), big);
  });

  test('sign: RSA PKCS#1 and PSS, ECDSA (DER and raw) and Ed25519 verify with Node; verify agrees, with the stored key and with the public key', async () => {
    const data = randomBytes(300);
    const cases: [string, string, (sig: Buffer) => boolean][] = [];
    for (const h of ['sha256', 'sha384', 'sha512']) {
      cases.push(['RSA-2048', `rsa-pkcs1-${h}`, (s) => verify(h, data, pub('RSA-2048'), s)]);
      cases.push([
        'RSA-2048',
        `rsa-pss-${h}`,
        (s) =>
          verify(
            h,
            data,
            {
              key: pub('RSA-2048'),
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
            },
            s,
          ),
      ]);
      for (const curve of ['EC-P256', 'EC-P384'])
        cases.push([curve, `ecdsa-${h}`, (s) => verify(h, data, pub(curve), s)]);
    }
    cases.push(['Ed25519', 'ed25519', (s) => verify(null, data, pub('Ed25519'), s)]);
    for (const [type, algorithm, check] of cases) {
      const { signature } = await c.request(SIGN, {
        key: keys[type]!.index,
        algorithm: algorithm as never,
        data,
      });
      assert.ok(check(signature), `${type} ${algorithm}`);
      assert.equal(
        (await c.request(VERIFY, { key: keys[type]!.index, algorithm: algorithm as never, data, signature }))
          .valid,
        true,
      );
      assert.equal(
        (
          await c.request(VERIFY, {
            publicKey: b(keys[type]!.publicKey!),
            algorithm: algorithm as never,
            data,
            signature,
          })
        ).valid,
        true,
      );
      const bad = Buffer.from(data);
      bad[0]! ^= 1;
      assert.equal(
        (
          await c.request(VERIFY, {
            key: keys[type]!.index,
            algorithm: algorithm as never,
            data: bad,
            signature,
          })
        ).valid,
        false,
      );
    }
    const raw = await c.request(SIGN, {
      key: keys['EC-P384']!.index,
      algorithm: 'ecdsa-sha384',
      data,
      format: 'raw',
    });
    assert.equal(raw.signature.length, 96);
    assert.ok(verify('sha384', data, { key: pub('EC-P384'), dsaEncoding: 'ieee-p1363' }, raw.signature));
    // A PKCS#1 signature also verifies with the openssl command line.
    writeFileSync(join(dir, 'sig.in'), data);
    writeFileSync(
      join(dir, 'rsa.sig'),
      (await c.request(SIGN, { key: keys['RSA-2048']!.index, algorithm: 'rsa-pkcs1-sha256', data }))
        .signature,
    );
    const r = openssl(['dgst', '-sha256', '-verify', 'RSA-2048.pub.pem', '-signature', 'rsa.sig', 'sig.in']);
    assert.ok(r.ok, r.stderr);
    await refusal(
      c.request(SIGN, { key: keys['EC-P256']!.index, algorithm: 'rsa-pss-sha256', data }),
      'ERR_ALGORITHM',
    );
    await refusal(
      c.request(SIGN, { key: keys['Ed25519']!.index, algorithm: 'ed25519', data, prehashed: true }),
      'ERR_ALGORITHM',
    );
  });

  test('sign over a precomputed digest gives signatures of the message (RSA, ECDSA)', async () => {
    const data = randomBytes(50);
    const digest = createHash('sha256').update(data).digest();
    const rsa = await c.request(SIGN, {
      key: keys['RSA-2048']!.index,
      algorithm: 'rsa-pkcs1-sha256',
      data: digest,
      prehashed: true,
    });
    assert.ok(verify('sha256', data, pub('RSA-2048'), rsa.signature));
    const pss = await c.request(SIGN, {
      key: keys['RSA-2048']!.index,
      algorithm: 'rsa-pss-sha256',
      data: digest,
      prehashed: true,
    });
    assert.ok(
      verify(
        'sha256',
        data,
        { key: pub('RSA-2048'), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        pss.signature,
      ),
    );
    const ec = await c.request(SIGN, {
      key: keys['EC-P256']!.index,
      algorithm: 'ecdsa-sha256',
      data: digest,
      prehashed: true,
    });
    assert.ok(verify('sha256', data, pub('EC-P256'), ec.signature));
    await refusal(
      c.request(SIGN, {
        key: keys['EC-P256']!.index,
        algorithm: 'ecdsa-sha256',
        data: digest.subarray(1),
        prehashed: true,
      }),
      'ERR_CRYPTO_INPUT',
    );
  });

  test('SM2 signatures verify with openssl (default ID and a chosen one, DER), and openssl’s verify in the device', async () => {
    const data = b('Coffer SM2 through the service');
    writeFileSync(join(dir, 'sm2.in'), data);
    for (const id of ['1234567812345678', 'ALICE123@YAHOO.COM']) {
      const { signature } = await c.request(SIGN, {
        key: keys['SM2']!.index,
        algorithm: 'sm2-sm3',
        data,
        ...(id === '1234567812345678' ? {} : { id: b(id) }),
      });
      writeFileSync(join(dir, 'sm2.sig'), signature);
      const ok = openssl([
        'dgst',
        '-sm3',
        '-verify',
        'SM2.pub.pem',
        '-sigopt',
        `distid:${id}`,
        '-signature',
        'sm2.sig',
        'sm2.in',
      ]);
      assert.ok(ok.ok, `${id}: ${ok.stderr}`);
      const wrong = openssl([
        'dgst',
        '-sm3',
        '-verify',
        'SM2.pub.pem',
        '-sigopt',
        'distid:someone-else',
        '-signature',
        'sm2.sig',
        'sm2.in',
      ]);
      assert.equal(wrong.ok, false);
    }
    // Over e from sm2-digest: the same kind of signature.
    const { digest } = await c.request(SM2_DIGEST, { key: keys['SM2']!.index, data });
    const pre = await c.request(SIGN, {
      key: keys['SM2']!.index,
      algorithm: 'sm2-sm3',
      data: digest,
      prehashed: true,
    });
    writeFileSync(join(dir, 'sm2pre.sig'), pre.signature);
    assert.ok(
      openssl([
        'dgst',
        '-sm3',
        '-verify',
        'SM2.pub.pem',
        '-sigopt',
        'distid:1234567812345678',
        '-signature',
        'sm2pre.sig',
        'sm2.in',
      ]).ok,
    );
    const raw = await c.request(SIGN, { key: keys['SM2']!.index, algorithm: 'sm2-sm3', data, format: 'raw' });
    assert.equal(raw.signature.length, 64);
    assert.equal(
      (
        await c.request(VERIFY, {
          key: keys['SM2']!.index,
          algorithm: 'sm2-sm3',
          data,
          signature: raw.signature,
          format: 'raw',
        })
      ).valid,
      true,
    );
    // An SM2 signature made by openssl with its own key verifies through the service with that public key.
    assert.ok(
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', 'o.key']).ok,
    );
    assert.ok(openssl(['pkey', '-in', 'o.key', '-pubout', '-out', 'o.pub']).ok);
    const sig = openssl(['dgst', '-sm3', '-sign', 'o.key', '-sigopt', 'distid:1234567812345678', 'sm2.in']);
    assert.ok(sig.ok, sig.stderr);
    const publicKey = readFileSync(join(dir, 'o.pub'));
    assert.equal(
      (await c.request(VERIFY, { publicKey, algorithm: 'sm2-sm3', data, signature: sig.stdout })).valid,
      true,
    );
    assert.equal(
      (await c.request(VERIFY, { publicKey, algorithm: 'sm2-sm3', data, signature: sig.stdout, id: b('x') }))
        .valid,
      false,
    );
  });

  test('asymmetric encryption: RSA-OAEP and PKCS#1 v1.5 and SM2 both ways with Node and openssl', async () => {
    const message = b('a secret for the device');
    const rsa = keys['RSA-2048']!.index;
    // Node encrypts to the device's key, the device decrypts.
    for (const [algorithm, oaepHash] of [
      ['rsa-oaep-sha1', 'sha1'],
      ['rsa-oaep-sha256', 'sha256'],
    ] as const) {
      const label = b('label');
      const ct = publicEncrypt(
        { key: pub('RSA-2048'), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash, oaepLabel: label },
        message,
      );
      assert.deepEqual(
        (await c.request(ASYM_DECRYPT, { key: rsa, algorithm, data: ct, label })).plaintext,
        message,
      );
      await refusal(c.request(ASYM_DECRYPT, { key: rsa, algorithm, data: ct }), 'ERR_CIPHERTEXT');
      // The device encrypts to a key of Node's, Node decrypts.
      const mine = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const out = await c.request(ASYM_ENCRYPT, {
        publicKey: b(mine.publicKey.export({ format: 'pem', type: 'spki' }).toString()),
        algorithm,
        data: message,
      });
      assert.deepEqual(
        privateDecrypt(
          { key: mine.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
          out.ciphertext,
        ),
        message,
      );
      const roundTrip = await c.request(ASYM_ENCRYPT, { key: rsa, algorithm, data: message });
      assert.deepEqual(
        (await c.request(ASYM_DECRYPT, { key: rsa, algorithm, data: roundTrip.ciphertext })).plaintext,
        message,
      );
    }
    // PKCS#1 v1.5: openssl both ways (Node 20 no longer decrypts it).
    writeFileSync(join(dir, 'p1.in'), message);
    const enc = openssl([
      'pkeyutl',
      '-encrypt',
      '-pubin',
      '-inkey',
      'RSA-2048.pub.pem',
      '-pkeyopt',
      'rsa_padding_mode:pkcs1',
      '-in',
      'p1.in',
    ]);
    assert.ok(enc.ok, enc.stderr);
    assert.deepEqual(
      (await c.request(ASYM_DECRYPT, { key: rsa, algorithm: 'rsa-pkcs1', data: enc.stdout })).plaintext,
      message,
    );
    assert.ok(
      openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'r.key']).ok,
    );
    assert.ok(openssl(['pkey', '-in', 'r.key', '-pubout', '-out', 'r.pub']).ok);
    const p1 = await c.request(ASYM_ENCRYPT, {
      publicKey: readFileSync(join(dir, 'r.pub')),
      algorithm: 'rsa-pkcs1',
      data: message,
    });
    writeFileSync(join(dir, 'p1.ct'), p1.ciphertext);
    const dec = openssl([
      'pkeyutl',
      '-decrypt',
      '-inkey',
      'r.key',
      '-pkeyopt',
      'rsa_padding_mode:pkcs1',
      '-in',
      'p1.ct',
    ]);
    assert.ok(dec.ok, dec.stderr);
    assert.deepEqual(dec.stdout, message);
    // SM2: openssl encrypts to the device's key; the device encrypts to openssl's key (DER C1C3C2).
    const sm2 = keys['SM2']!.index;
    const sm2ct = openssl(['pkeyutl', '-encrypt', '-pubin', '-inkey', 'SM2.pub.pem', '-in', 'p1.in']);
    assert.ok(sm2ct.ok, sm2ct.stderr);
    assert.deepEqual(
      (await c.request(ASYM_DECRYPT, { key: sm2, algorithm: 'sm2', data: sm2ct.stdout })).plaintext,
      message,
    );
    assert.ok(
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', 's.key']).ok,
    );
    assert.ok(openssl(['pkey', '-in', 's.key', '-pubout', '-out', 's.pub']).ok);
    const toOpenssl = await c.request(ASYM_ENCRYPT, {
      publicKey: readFileSync(join(dir, 's.pub')),
      algorithm: 'sm2',
      data: message,
    });
    writeFileSync(join(dir, 'sm2.ct'), toOpenssl.ciphertext);
    const sm2dec = openssl(['pkeyutl', '-decrypt', '-inkey', 's.key', '-in', 'sm2.ct']);
    assert.ok(sm2dec.ok, sm2dec.stderr);
    assert.deepEqual(sm2dec.stdout, message);
    const raw = await c.request(ASYM_ENCRYPT, {
      key: sm2,
      algorithm: 'sm2',
      data: message,
      format: 'c1c3c2',
    });
    assert.equal(raw.ciphertext[0], 0x04);
    assert.deepEqual(
      (await c.request(ASYM_DECRYPT, { key: sm2, algorithm: 'sm2', data: raw.ciphertext })).plaintext,
      message,
    );
    await refusal(
      c.request(ASYM_DECRYPT, { key: keys['EC-P256']!.index, algorithm: 'sm2', data: raw.ciphertext }),
      'ERR_KEY_USAGE_NOT_ALLOWED',
    );
  });

  test('key transport: data keys and wraps under AES open with Node’s AES key wrap; RSA-OAEP and SM2 wraps open in the device', async () => {
    const aes = sym['AES-256']!;
    for (const [algorithm, nodeName, iv, length] of [
      ['aes-kw', 'id-aes256-wrap', 'A6A6A6A6A6A6A6A6', 32],
      ['aes-kwp', 'id-aes256-wrap-pad', 'A65959A6', 20],
    ] as const) {
      const dk = await c.request(GENERATE_DATA_KEY, { key: aes, algorithm, length });
      assert.equal(dk.plaintext.length, length);
      const unwrap = createDecipheriv(nodeName, secrets['AES-256']!, hex(iv));
      assert.deepEqual(Buffer.concat([unwrap.update(dk.wrapped), unwrap.final()]), dk.plaintext);
      const material = randomBytes(length);
      const wrap = createCipheriv(nodeName, secrets['AES-256']!, hex(iv));
      const wrapped = Buffer.concat([wrap.update(material), wrap.final()]);
      assert.deepEqual((await c.request(UNWRAP, { key: aes, algorithm, wrapped })).keyMaterial, material);
      assert.deepEqual(
        (await c.request(WRAP, { key: aes, algorithm, keyMaterial: material })).wrapped,
        wrapped,
      );
    }
    const broken = (await c.request(WRAP, { key: aes, algorithm: 'aes-kw', keyMaterial: randomBytes(16) }))
      .wrapped;
    broken[0]! ^= 1;
    await refusal(c.request(UNWRAP, { key: aes, algorithm: 'aes-kw', wrapped: broken }), 'ERR_CIPHERTEXT');
    const material = randomBytes(32);
    const oaep = publicEncrypt(
      { key: pub('RSA-2048'), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      material,
    );
    assert.deepEqual(
      (await c.request(UNWRAP, { key: keys['RSA-2048']!.index, algorithm: 'rsa-oaep-sha256', wrapped: oaep }))
        .keyMaterial,
      material,
    );
    const rsaDk = await c.request(GENERATE_DATA_KEY, {
      key: keys['RSA-2048']!.index,
      algorithm: 'rsa-oaep-sha1',
      length: 24,
    });
    assert.deepEqual(
      (
        await c.request(UNWRAP, {
          key: keys['RSA-2048']!.index,
          algorithm: 'rsa-oaep-sha1',
          wrapped: rsaDk.wrapped,
        })
      ).keyMaterial,
      rsaDk.plaintext,
    );
    writeFileSync(join(dir, 'kt.in'), material);
    const sm2w = openssl(['pkeyutl', '-encrypt', '-pubin', '-inkey', 'SM2.pub.pem', '-in', 'kt.in']);
    assert.deepEqual(
      (await c.request(UNWRAP, { key: keys['SM2']!.index, algorithm: 'sm2', wrapped: sm2w.stdout }))
        .keyMaterial,
      material,
    );
    await refusal(
      c.request(WRAP, { key: sym['SM4']!, algorithm: 'aes-kw', keyMaterial: material }),
      'ERR_ALGORITHM',
    );
    await refusal(
      c.request(WRAP, { key: aes, algorithm: 'aes-kw', keyMaterial: randomBytes(12) }),
      'ERR_CRYPTO_INPUT',
    );
  });

  test('derive: ECDH on P-256 and P-384 equals Node’s, raw and through HKDF', async () => {
    for (const [type, curve] of [
      ['EC-P256', 'prime256v1'],
      ['EC-P384', 'secp384r1'],
    ] as const) {
      const peer = generateKeyPairSync('ec', { namedCurve: curve });
      const publicKey = peer.publicKey.export({ format: 'der', type: 'spki' });
      const expected = diffieHellman({ privateKey: peer.privateKey, publicKey: pub(type) });
      assert.deepEqual((await c.request(DERIVE, { key: keys[type]!.index, publicKey })).secret, expected);
      const salt = randomBytes(16);
      const info = b('coffer test');
      const out = await c.request(DERIVE, {
        key: keys[type]!.index,
        publicKey,
        kdf: 'hkdf-sha384',
        salt,
        info,
        length: 40,
      });
      assert.deepEqual(out.secret, Buffer.from(hkdfSync('sha384', expected, salt, info, 40)));
    }
    const other = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({
      format: 'der',
      type: 'spki',
    });
    await refusal(c.request(DERIVE, { key: keys['EC-P256']!.index, publicKey: other }), 'ERR_CRYPTO_INPUT');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    await refusal(
      c.request(DERIVE, { key: keys['EC-P256']!.index, publicKey: ecdh.getPublicKey() }),
      'ERR_CRYPTO_INPUT',
    );
  });

  test('public-key, key-info and list-keys describe the operator’s keys as the management API does', async () => {
    for (const k of Object.values(keys)) {
      assert.equal((await c.request(PUBLIC_KEY, { key: k.index })).publicKey, k.publicKey);
      const info = await c.request(KEY_INFO, { key: k.index });
      assert.equal(info.type, k.type);
      assert.equal(info.status, 'normal');
      assert.deepEqual(info.usage, k.usage);
      assert.equal(info.publicKey, k.publicKey);
    }
    const aes = await c.request(KEY_INFO, { key: sym['AES-128']! });
    assert.equal(aes.keyClass, 'symmetric');
    assert.match(aes.checkValue!, /^[0-9A-F]{6}$/);
    await refusal(c.request(PUBLIC_KEY, { key: sym['AES-128']! }), 'ERR_ALGORITHM');
    const all = await c.request(LIST_KEYS, {});
    assert.equal(all.total, Object.keys(keys).length + Object.keys(sym).length);
    const indexes = all.keys.map((k) => k.index);
    assert.deepEqual(
      indexes,
      [...indexes].sort((x, y) => x - y),
    );
    const page = await c.request(LIST_KEYS, { offset: 2, limit: 3 });
    assert.deepEqual(
      page.keys.map((k) => k.index),
      indexes.slice(2, 5),
    );
    assert.equal(page.total, all.total);
  });

  test('batch: many signatures in one frame, one bad item refused on its own', async () => {
    const data = [b('one'), b('two'), b('three')];
    const items = data.map((d) =>
      SIGN.request.encode({ key: keys['Ed25519']!.index, algorithm: 'ed25519', data: d }),
    );
    items.splice(
      1,
      0,
      SIGN.request.encode({ key: keys['Ed25519']!.index, algorithm: 'ecdsa-sha256', data: b('x') }),
    );
    items.push(Buffer.from([1, 0, 0, 0, 9]));
    const { results } = await c.request(BATCH, { command: SIGN.code, items });
    assert.equal(results.length, 5);
    const ok = [results[0]!, results[2]!, results[3]!].map((r) => SIGN.response.decode(r.body!).signature);
    for (const [i, sig] of ok.entries()) assert.ok(verify(null, data[i]!, pub('Ed25519'), sig));
    assert.equal(results[1]!.errorCode, 'ERR_ALGORITHM');
    assert.equal(results[4]!.errorCode, 'ERR_BODY_MALFORMED');
    void BATCH_RESULT_BODY;
    await refusal(c.request(BATCH, { command: INFO.code, items: [] }), 'ERR_FIELD');
  });
});

describe('the Chinese standards’ published examples through the service', () => {
  // GB/T 32918.5-2017 Annex A/C: d, the public key, (r, s) over "message digest" with the default ID,
  // and the ciphertext of "encryption standard". The key is imported as PKCS#8 without its public
  // part; the device computes it.
  const D = '3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8';
  const PUBLIC =
    '09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020' +
    'CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13';
  const R_S =
    'F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3' +
    'B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA';
  const CIPHERTEXT =
    '307C0220' +
    '04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73' +
    '022100E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0' +
    '042059983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766' +
    '041321886CA989CA9C7D58087307CA93092D651EFA';

  test('GB/T 32918.5 Annex A and C: the published SM2 signature verifies with the stored key, the ciphertext decrypts', async () => {
    const ecPrivateKey = Buffer.concat([hex('302502010104'), Buffer.from([0x20]), hex(D)]);
    const octets = Buffer.concat([Buffer.from([0x04, ecPrivateKey.length]), ecPrivateKey]);
    const body = Buffer.concat([hex('020100'), hex('301306072a8648ce3d020106082a811ccf5501822d'), octets]);
    const pkcs8 = Buffer.concat([Buffer.from([0x30, body.length]), body]);
    const [index] = await d.importKeys(
      [{ pkcs8: pkcs8.toString('base64'), usage: ['sign', 'verify', 'decrypt'] }],
      ['ops'],
    );
    const key = index!;
    const { publicKey } = await c.request(PUBLIC_KEY, { key });
    assert.equal(
      createPublicKey(publicKey)
        .export({ format: 'der', type: 'spki' })
        .subarray(-64)
        .toString('hex')
        .toUpperCase(),
      PUBLIC,
    );
    const data = b('message digest');
    assert.equal(
      (await c.request(VERIFY, { key, algorithm: 'sm2-sm3', data, signature: hex(R_S), format: 'raw' }))
        .valid,
      true,
    );
    assert.equal(
      (
        await c.request(VERIFY, {
          key,
          algorithm: 'sm2-sm3',
          data,
          signature: hex(R_S),
          format: 'raw',
          id: b('1234567812345679'),
        })
      ).valid,
      false,
    );
    assert.equal(
      (await c.request(ASYM_DECRYPT, { key, algorithm: 'sm2', data: hex(CIPHERTEXT) })).plaintext.toString(),
      'encryption standard',
    );
  });

  test('GB/T 32907 example 1 (SM4) and GB/T 32905 examples 1 and 2 (SM3)', async () => {
    const k = '0123456789abcdeffedcba9876543210';
    const [key] = await d.importKeys([{ hex: k, type: 'SM4', usage: ['encrypt', 'decrypt'] }], ['ops']);
    const out = await c.request(ENCRYPT, { key: key!, mode: 'ecb', padding: 'none', data: hex(k) });
    assert.equal(out.ciphertext.toString('hex'), '681edf34d206965e86b3e94f536e4246');
    assert.equal(
      (await c.request(HASH, { algorithm: 'sm3', data: b('abc') })).digest.toString('hex'),
      '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0',
    );
    assert.equal(
      (await c.request(HASH, { algorithm: 'sm3', data: b('abcd'.repeat(16)) })).digest.toString('hex'),
      'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732',
    );
  });
});

describe('the crypto service over REST (the same dispatcher)', () => {
  const b64 = (x: Buffer | string) => Buffer.from(x).toString('base64');
  const un64 = (x: unknown) => Buffer.from(String(x), 'base64');

  test('info, random, hash and the key queries', async () => {
    const info = await rest.get('/v1/info');
    assert.equal(info['maxFrameBytes'], 1_048_576);
    assert.equal(un64((await rest.post('/v1/random', { length: 48 }))['data']).length, 48);
    const data = randomBytes(99);
    assert.deepEqual(
      un64((await rest.post('/v1/hash', { algorithm: 'sm3', data: b64(data) }))['digest']),
      createHash('sm3').update(data).digest(),
    );
    const list = await rest.get<{ total: number; keys: { index: number }[] }>('/v1/keys?limit=2');
    assert.equal(list.keys.length, 2);
    const rsa = keys['RSA-2048']!;
    assert.equal((await rest.get(`/v1/keys/${rsa.index}`))['type'], 'RSA-2048');
    assert.equal((await rest.get(`/v1/keys/${rsa.index}/public-key`))['publicKey'], rsa.publicKey);
  });

  test('sign and verify, encrypt and decrypt, mac, derive and wrap through JSON with base64 fields', async () => {
    const data = randomBytes(40);
    const sig = await rest.post('/v1/sign', {
      key: keys['EC-P256']!.index,
      algorithm: 'ecdsa-sha256',
      data: b64(data),
    });
    assert.ok(verify('sha256', data, pub('EC-P256'), un64(sig['signature'])));
    const v = await rest.post('/v1/verify', {
      publicKey: b64(keys['EC-P256']!.publicKey!),
      algorithm: 'ecdsa-sha256',
      data: b64(data),
      signature: sig['signature'],
    });
    assert.equal(v['valid'], true);
    const enc = await rest.post('/v1/encrypt', {
      key: sym['AES-128']!,
      mode: 'gcm',
      data: b64(data),
      aad: b64('x'),
    });
    // The binary protocol decrypts what REST encrypted.
    const back = await c.request(DECRYPT, {
      key: sym['AES-128']!,
      mode: 'gcm',
      data: un64(enc['ciphertext']),
      iv: un64(enc['iv']),
      tag: un64(enc['tag']),
      aad: b('x'),
    });
    assert.deepEqual(back.plaintext, data);
    const mac = await rest.post('/v1/mac', {
      key: sym['HMAC-SHA512']!,
      algorithm: 'hmac-sha512',
      data: b64(data),
    });
    assert.deepEqual(un64(mac['mac']), createHmac('sha512', secrets['HMAC-SHA512']!).update(data).digest());
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const derived = await rest.post('/v1/derive', {
      key: keys['EC-P256']!.index,
      publicKey: b64(peer.publicKey.export({ format: 'der', type: 'spki' })),
    });
    assert.deepEqual(
      un64(derived['secret']),
      diffieHellman({ privateKey: peer.privateKey, publicKey: pub('EC-P256') }),
    );
    const dk = await rest.post('/v1/generate-data-key', {
      key: sym['AES-192']!,
      algorithm: 'aes-kwp',
      length: 10,
    });
    const unwrapped = await rest.post('/v1/unwrap', {
      key: sym['AES-192']!,
      algorithm: 'aes-kwp',
      wrapped: dk['wrapped'],
    });
    assert.equal(unwrapped['keyMaterial'], dk['plaintext']);
  });

  test('curl with the licence’s certificate, key and CA works as documented', async () => {
    writeFileSync(join(dir, 'cert.pem'), lic.certPem);
    writeFileSync(join(dir, 'key.pem'), lic.keyPem);
    writeFileSync(join(dir, 'ca.pem'), lic.caPem);
    const url = `https://${d.address.host}:${d.address.port}/v1/hash`;
    // Asynchronously: the device runs in this process, so a synchronous spawn would wait on itself.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'curl',
        [
          '-sS',
          '--cert',
          'cert.pem',
          '--key',
          'key.pem',
          '--cacert',
          'ca.pem',
          '-H',
          'content-type: application/json',
          '-d',
          '{"algorithm":"sha256","data":"YWJj"}',
          url,
        ],
        { cwd: dir },
        (error, stdout, stderr) => resolve({ status: error ? 1 : 0, stdout, stderr }),
      );
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.toString()), {
      digest: createHash('sha256').update('abc').digest('base64'),
    });
  });

  test('a batch over REST, and refusals as { error: { code } } with their HTTP status', async () => {
    const out = await rest.post<{
      results: ({ response: { signature: string } } | { error: { code: string } })[];
    }>('/v1/batch/sign', {
      items: [
        { key: keys['Ed25519']!.index, algorithm: 'ed25519', data: b64('a') },
        { key: 999_999, algorithm: 'ed25519', data: b64('b') },
      ],
    });
    assert.ok(
      'response' in out.results[0]! &&
        verify(null, b('a'), pub('Ed25519'), un64(out.results[0].response.signature)),
    );
    assert.deepEqual('error' in out.results[1]! && out.results[1].error.code, 'ERR_KEY_NOT_FOUND');
    const bad = await rest.call('POST', '/v1/sign', {
      key: keys['Ed25519']!.index,
      algorithm: 'ed25519',
      data: 'not base64!',
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.body['error'] as { code: string }).code, 'ERR_BAD_REQUEST');
    const unknown = await rest.call('POST', '/v1/sign', {
      key: 999_999,
      algorithm: 'ed25519',
      data: b64('x'),
    });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body['error'] as { code: string }).code, 'ERR_KEY_NOT_FOUND');
    const extra = await rest.call('POST', '/v1/random', { length: 4, more: 1 });
    assert.equal(extra.status, 400);
    const both = await rest.call('POST', '/v1/verify', {
      key: keys['Ed25519']!.index,
      publicKey: b64(keys['Ed25519']!.publicKey!),
      algorithm: 'ed25519',
      data: b64('x'),
      signature: b64('y'),
    });
    assert.equal(both.status, 400);
    const gcm = await rest.call('POST', '/v1/decrypt', {
      key: sym['AES-128']!,
      mode: 'gcm',
      data: b64('xxxx'),
      iv: b64(randomBytes(12)),
      tag: b64(randomBytes(16)),
    });
    assert.equal(gcm.status, 422);
    assert.equal((gcm.body['error'] as { code: string }).code, 'ERR_CIPHERTEXT');
  });
});
