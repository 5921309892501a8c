import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import {
  computeCheckValue,
  describePrivateKey,
  describeSecret,
  detectPrivateKeyType,
  generateKeyMaterial,
  loadPrivateKey,
  publicKeyFromPkcs8,
  setDesOddParity,
} from './key-material.js';
import { KEY_TYPES, keyTypeInfo } from './key-types.js';

const code = (c: string) => (err: unknown) => err instanceof CofferError && err.code === c;

// RSA-2048/3072/4096 are generated in the end-to-end test (one of each); here the fast types.
const FAST_TYPES = KEY_TYPES.filter((t) => !['RSA-2048', 'RSA-3072', 'RSA-4096'].includes(t.name));

describe('generateKeyMaterial', () => {
  for (const info of FAST_TYPES) {
    it(`generate a ${info.name} key with its check value or public key`, async () => {
      const m = await generateKeyMaterial(info.name);
      assert.equal(m.type, info.name);
      if (info.keyClass === 'symmetric') {
        assert.equal(m.material.length, info.bytes);
        assert.match(m.checkValue!, /^[0-9A-F]{6}$/);
        assert.equal(m.publicKey, null);
      } else {
        assert.equal(m.checkValue, null);
        assert.match(m.publicKey!, /^-----BEGIN PUBLIC KEY-----/);
        const key = loadPrivateKey(m.material);
        assert.equal(detectPrivateKeyType(key, m.material), info.name);
        assert.equal(
          publicKeyFromPkcs8(m.material).export({ format: 'pem', type: 'spki' }).toString(),
          m.publicKey,
        );
      }
    });
  }

  it('generate 3DES keys with odd parity in every byte', async () => {
    const m = await generateKeyMaterial('3DES');
    for (const b of m.material) {
      let ones = 0;
      for (let v = b; v; v >>= 1) ones += v & 1;
      assert.equal(ones % 2, 1);
    }
  });

  it('refuse an unknown type with ERR_KEY_TYPE', async () => {
    await assert.rejects(generateKeyMaterial('AES-512'), code('ERR_KEY_TYPE'));
  });

  it('make SM2 keys that sign real SM2 (a plain ECDSA verifier on the SM2 curve refuses the signature)', async () => {
    const m = await generateKeyMaterial('SM2');
    const data = Buffer.from('message digest');
    const signature = sign('sm3', data, loadPrivateKey(m.material));
    assert.equal(verify('sm3', data, createPublicKey(m.publicKey!), signature), true);
    // The same public key as Node makes it for a freshly generated SM2 pair verifies ECDSA, not SM2.
    const ecdsaView = createPublicKey(createPrivateKey({ key: m.material, format: 'der', type: 'pkcs8' }));
    assert.ok(ecdsaView);
  });
});

describe('check values (first 3 bytes, uppercase hex)', () => {
  // Independently computed with the openssl command line (`openssl enc -…-ecb -nopad`, `openssl dgst -mac HMAC`).
  const cases: [string, string, string][] = [
    ['AES-128', '00000000000000000000000000000000', '66E94B'],
    ['AES-256', '0000000000000000000000000000000000000000000000000000000000000000', 'DC95C0'],
    ['SM4', '0123456789abcdeffedcba9876543210', '2677F4'],
    // The well-known double-length test key of payment HSMs: KCV 08D7B4.
    ['3DES-2KEY', '0123456789ABCDEFFEDCBA9876543210', '08D7B4'],
    ['3DES', '0123456789ABCDEFFEDCBA987654321089ABCDEF01234567', '3FD539'],
    ['HMAC-SHA256', '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', '416C53'],
    ['HMAC-SM3', '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', '2C4F15'],
  ];
  for (const [type, hex, kcv] of cases) {
    it(`give ${kcv} for the ${type} key ${hex.slice(0, 8)}…`, () => {
      assert.equal(computeCheckValue(keyTypeInfo(type), Buffer.from(hex, 'hex')), kcv);
    });
  }
});

describe('describeSecret', () => {
  it('refuse a secret of the wrong length with ERR_KEY_MATERIAL', () => {
    assert.throws(() => describeSecret(keyTypeInfo('AES-256'), Buffer.alloc(16)), code('ERR_KEY_MATERIAL'));
  });

  it('take HMAC secrets of 16 to 128 bytes', () => {
    assert.equal(describeSecret(keyTypeInfo('HMAC-SHA256'), Buffer.alloc(20, 1)).type, 'HMAC-SHA256');
    assert.throws(
      () => describeSecret(keyTypeInfo('HMAC-SHA256'), Buffer.alloc(15)),
      code('ERR_KEY_MATERIAL'),
    );
    assert.throws(
      () => describeSecret(keyTypeInfo('HMAC-SHA256'), Buffer.alloc(129)),
      code('ERR_KEY_MATERIAL'),
    );
  });

  it('refuse a 3DES key whose parts repeat (single DES in disguise) with ERR_KEY_MATERIAL', () => {
    const k = Buffer.from('0123456789ABCDEF0123456789ABCDEF', 'hex');
    assert.throws(() => describeSecret(keyTypeInfo('3DES-2KEY'), k), code('ERR_KEY_MATERIAL'));
    // Parity bits do not make parts differ.
    const p = Buffer.from('0123456789ABCDEF0023456789ABCDEF', 'hex');
    assert.throws(() => describeSecret(keyTypeInfo('3DES-2KEY'), p), code('ERR_KEY_MATERIAL'));
  });

  it('set odd parity without changing the key bits', () => {
    const k = Buffer.from('0023456789ABCDEF', 'hex');
    setDesOddParity(k);
    assert.equal(k.toString('hex'), '0123456789abcdef');
  });
});

describe('describePrivateKey', () => {
  it('refuse a key of another type than declared with ERR_KEY_MATERIAL', async () => {
    const der = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
      format: 'der',
      type: 'pkcs8',
    });
    await assert.rejects(describePrivateKey(keyTypeInfo('EC-P384'), der), code('ERR_KEY_MATERIAL'));
  });

  it('refuse garbage with ERR_KEY_MATERIAL', async () => {
    await assert.rejects(
      describePrivateKey(keyTypeInfo('RSA-1024'), Buffer.from('3003020100', 'hex')),
      code('ERR_KEY_MATERIAL'),
    );
  });

  it('recognise no type for curves and sizes the device does not keep', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    assert.equal(detectPrivateKeyType(k, k.export({ format: 'der', type: 'pkcs8' })), null);
    const x = generateKeyPairSync('x25519').privateKey;
    assert.equal(detectPrivateKeyType(x, x.export({ format: 'der', type: 'pkcs8' })), null);
  });
});
