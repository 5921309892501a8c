import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { unwrapKey, wrapKey } from './key-wrap.js';

const refused = (err: unknown) => err instanceof CofferError && err.code === 'ERR_KEY_MATERIAL';
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 3394 §4.1–4.6: KEK 000102…, key data 00112233…
const RFC3394: { name: string; kek: string; data: string; wrapped: string }[] = [
  {
    name: '4.1 128 bits of key data with a 128-bit KEK',
    kek: '000102030405060708090A0B0C0D0E0F',
    data: '00112233445566778899AABBCCDDEEFF',
    wrapped: '1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5',
  },
  {
    name: '4.2 128 bits of key data with a 192-bit KEK',
    kek: '000102030405060708090A0B0C0D0E0F1011121314151617',
    data: '00112233445566778899AABBCCDDEEFF',
    wrapped: '96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D',
  },
  {
    name: '4.3 128 bits of key data with a 256-bit KEK',
    kek: '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F',
    data: '00112233445566778899AABBCCDDEEFF',
    wrapped: '64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7',
  },
  {
    name: '4.4 192 bits of key data with a 192-bit KEK',
    kek: '000102030405060708090A0B0C0D0E0F1011121314151617',
    data: '00112233445566778899AABBCCDDEEFF0001020304050607',
    wrapped: '031D33264E15D332 68F24EC260743EDC E1C6C7DDEE725A93 6BA814915C6762D2',
  },
  {
    name: '4.5 192 bits of key data with a 256-bit KEK',
    kek: '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F',
    data: '00112233445566778899AABBCCDDEEFF0001020304050607',
    wrapped: 'A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1',
  },
  {
    name: '4.6 256 bits of key data with a 256-bit KEK',
    kek: '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F',
    data: '00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F',
    wrapped: '28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21',
  },
];

describe('AES key wrap against RFC 3394 §4', () => {
  for (const v of RFC3394) {
    it(`wrap and unwrap ${v.name}`, () => {
      assert.deepEqual(wrapKey(hex(v.kek), hex(v.data), 'aes-kw'), hex(v.wrapped));
      assert.deepEqual(unwrapKey(hex(v.kek), hex(v.wrapped), 'aes-kw').plaintext, hex(v.data));
      // Without naming the algorithm, the integrity value tells RFC 3394 from RFC 5649.
      assert.equal(unwrapKey(createSecretKey(hex(v.kek)), hex(v.wrapped)).alg, 'aes-kw');
    });
  }
});

describe('AES key wrap with padding against RFC 5649 §6', () => {
  const kek = hex('5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8');
  it('wrap and unwrap 20 octets', () => {
    const key = hex('c37b7e6492584340 bed1220780894115 5068f738');
    const wrapped = hex('138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a');
    assert.deepEqual(wrapKey(kek, key, 'aes-kwp'), wrapped);
    assert.deepEqual(unwrapKey(kek, wrapped).plaintext, key);
    assert.equal(unwrapKey(kek, wrapped).alg, 'aes-kwp');
  });
  it('wrap and unwrap 7 octets', () => {
    const key = hex('466f7250617369');
    const wrapped = hex('afbeb0f07dfbf541 9200f2ccb50bb24f');
    assert.deepEqual(wrapKey(kek, key, 'aes-kwp'), wrapped);
    assert.deepEqual(unwrapKey(kek, wrapped, 'aes-kwp').plaintext, key);
  });
});

describe('key wrap refusals', () => {
  it('refuse a wrapped key under the wrong KEK with ERR_KEY_MATERIAL', () => {
    const v = RFC3394[0]!;
    assert.throws(() => unwrapKey(Buffer.alloc(16, 7), hex(v.wrapped)), refused);
  });
  it('refuse a KEK that is not 16, 24 or 32 bytes with ERR_KEY_MATERIAL', () => {
    assert.throws(() => wrapKey(Buffer.alloc(20), Buffer.alloc(16)), refused);
  });
  it('refuse RFC 3394 input that is not a multiple of 8 bytes, at least 16', () => {
    assert.throws(() => wrapKey(Buffer.alloc(16), Buffer.alloc(8), 'aes-kw'), refused);
    assert.throws(() => wrapKey(Buffer.alloc(16), Buffer.alloc(20), 'aes-kw'), refused);
  });
});
