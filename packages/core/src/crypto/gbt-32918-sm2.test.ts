import assert from 'node:assert/strict';
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { bigintToBytes } from './input-checks.js';
import {
  computeSm2Digest,
  computeSm2Z,
  computeZ,
  decryptSm2,
  defineSm2Curve,
  encodeSm2Ciphertext,
  encryptWithNonce,
  SM2_CURVE,
  signWithNonce,
  verifyEquation,
  verifySm2,
} from './sm2.js';

// The worked examples of the SM2 standard, with their fixed nonces k, as OpenSSL's
// test/sm2_internal_test.c reproduces them:
// - GB/T 32918.2 / draft-shen-sm2-ecdsa-02 signature example on the 256-bit test curve, ID ALICE123@YAHOO.COM;
// - GB/T 32918.5-2017 Annex A (signature) and Annex C (encryption) on the recommended curve;
// - the GB/T 32918.4 encryption example on the test curve.
const h = (s: string) => BigInt(`0x${s}`);
const hex = (v: bigint) => bigintToBytes(v, 32).toString('hex').toUpperCase();

const TEST_CURVE = defineSm2Curve({
  p: h('8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3'),
  a: h('787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498'),
  b: h('63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A'),
  Gx: h('421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D'),
  Gy: h('0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2'),
  n: h('8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7'),
});

/** A KeyObject for the recommended-curve scalar `d`, as PKCS#8 (RFC 5915 inside) the way Node exports SM2 keys. */
function sm2PrivateKey(d: bigint): KeyObject {
  const point = SM2_CURVE.Point.BASE.multiply(d).toBytes(false);
  const der = Buffer.concat([
    Buffer.from('308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420', 'hex'),
    bigintToBytes(d, 32),
    Buffer.from('a144034200', 'hex'),
    point,
  ]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

describe('SM2 signatures against the GB/T 32918 examples', () => {
  it('test curve, ID ALICE123@YAHOO.COM: the public key, Z, e and (r, s) are the published ones, and (r, s) verifies', () => {
    const d = h('128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263');
    const P = TEST_CURVE.Point.BASE.multiply(d);
    assert.equal(hex(P.x), '0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A');
    assert.equal(hex(P.y), '7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857');
    const z = computeZ(TEST_CURVE, Buffer.from('ALICE123@YAHOO.COM'), P);
    assert.equal(
      z.toString('hex').toUpperCase(),
      'F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A',
    );
    const e = h(createHash('sm3').update(z).update('message digest').digest('hex'));
    assert.equal(hex(e), 'B524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76');
    const k = h('6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F');
    const sig = signWithNonce(TEST_CURVE, d, e, k, TEST_CURVE.Point.BASE.multiply(k).x)!;
    assert.equal(hex(sig.r), '40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1');
    assert.equal(hex(sig.s), '6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7');
    assert.equal(verifyEquation(TEST_CURVE, P, e, sig.r, sig.s), true);
    assert.equal(verifyEquation(TEST_CURVE, P, e + 1n, sig.r, sig.s), false);
  });

  it('recommended curve, default ID (GB/T 32918.5 Annex A): (r, s) is the published one and verifies through the KeyObject API', () => {
    const d = h('3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8');
    const key = sm2PrivateKey(d);
    const message = Buffer.from('message digest');
    const e = h(computeSm2Digest(key, message).toString('hex'));
    const k = h('59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21');
    const sig = signWithNonce(SM2_CURVE, d, e, k, SM2_CURVE.Point.BASE.multiply(k).x)!;
    assert.equal(hex(sig.r), 'F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3');
    assert.equal(hex(sig.s), 'B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA');
    const raw = Buffer.concat([bigintToBytes(sig.r, 32), bigintToBytes(sig.s, 32)]);
    assert.equal(verifySm2(key, message, raw, { format: 'raw' }), true);
    assert.equal(verifySm2(key, message, raw, { format: 'raw', id: Buffer.from('1234567812345679') }), false);
    assert.equal(verifySm2(key, Buffer.from('message digesT'), raw, { format: 'raw' }), false);
    assert.equal(computeSm2Z(key).length, 32);
  });
});

describe('SM2 encryption against the GB/T 32918 examples', () => {
  it('recommended curve (GB/T 32918.5 Annex C): "encryption standard" encrypts to the published C1, C3, C2 and decrypts back', () => {
    const d = h('3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8');
    const key = sm2PrivateKey(d);
    const k = h('59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21');
    const parts = encryptWithNonce(
      SM2_CURVE,
      SM2_CURVE.Point.BASE.multiply(d),
      Buffer.from('encryption standard'),
      k,
    )!;
    const der = encodeSm2Ciphertext(parts, 'der');
    assert.equal(
      der.toString('hex').toUpperCase(),
      '307C0220' +
        '04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73' +
        '022100E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0' +
        '042059983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766' +
        '041321886CA989CA9C7D58087307CA93092D651EFA',
    );
    assert.equal(decryptSm2(key, der).toString(), 'encryption standard');
    assert.equal(decryptSm2(key, encodeSm2Ciphertext(parts, 'c1c3c2')).toString(), 'encryption standard');
  });

  it('test curve (GB/T 32918.4 example): the published ciphertext', () => {
    const d = h('1649AB77A00637BD5E2EFE283FBF353534AA7F7CB89463F208DDBC2920BB0DA0');
    const k = h('4C62EEFD6ECFC2B95B92FD6C3D9575148AFA17425546D49018E5388D49DD7B4F');
    const parts = encryptWithNonce(
      TEST_CURVE,
      TEST_CURVE.Point.BASE.multiply(d),
      Buffer.from('encryption standard'),
      k,
    )!;
    assert.equal(
      encodeSm2Ciphertext(parts, 'der').toString('hex').toUpperCase(),
      '307B0220245C26FB68B1DDDDB12C4B6BF9F2B6D5FE60A383B0D18D1C4144ABF17F' +
        '6252E7022076CB9264C2A7E88E52B19903FDC47378F605E36811F5C07423A24B84' +
        '400F01B804209C3D7360C30156FAB7C80A0276712DA9D8094A634B766D3A285E07' +
        '480653426D0413650053A89B41C418B0C3AAD00D886C00286467',
    );
  });
});
