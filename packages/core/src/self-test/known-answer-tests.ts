import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPair,
  hkdf,
  pbkdf2,
  randomBytes,
  scrypt,
  sign,
  verify,
} from 'node:crypto';
import { promisify } from 'node:util';
import { CofferError } from '../errors.js';
import { combineShares, splitMasterKey } from '../keyring/quorum.js';

/**
 * One power-on self-test (DESIGN §10). `run` resolves when the check passes and throws when it
 * fails; the device turns any throw into a FAULT, so the message says what failed, never a secret.
 */
export interface SelfTest {
  name: string;
  run(): Promise<void>;
}

// Every byte string below is hex, copied from the cited source so it can be checked against it.

export interface DigestVector {
  source: string;
  message: string;
  digest: string;
}
export interface HmacVector {
  source: string;
  key: string;
  message: string;
  mac: string;
}
export interface HkdfVector {
  source: string;
  ikm: string;
  salt: string;
  info: string;
  okm: string;
}
export interface AesGcmVector {
  source: string;
  key: string;
  iv: string;
  aad: string;
  plaintext: string;
  ciphertext: string;
  tag: string;
}
export interface Pbkdf2Vector {
  source: string;
  password: string;
  salt: string;
  iterations: number;
  derived: string;
}
export interface ScryptVector {
  source: string;
  password: string;
  salt: string;
  N: number;
  r: number;
  p: number;
  derived: string;
}
export interface EcdsaVector {
  source: string;
  /** SPKI DER. */
  publicKey: string;
  message: string;
  /** IEEE P1363 `r ‖ s`, the encoding the cards use. */
  signature: string;
}
export interface ShamirVector {
  source: string;
  secret: string;
  /** Three shares in the library's layout: y bytes ‖ x. */
  shares: readonly [string, string, string];
}

/** The published vectors the power-on tests use. */
export const KAT_VECTORS = {
  sha256: {
    // FIPS 180-2, Appendix B.1: SHA-256 of "abc".
    source: 'FIPS 180-2 Appendix B.1',
    message: '616263',
    digest: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  },
  hmacSha256: {
    // RFC 4231 §4.3, test case 2: key "Jefe", data "what do ya want for nothing?".
    source: 'RFC 4231 test case 2',
    key: '4a656665',
    message: '7768617420646f2079612077616e7420666f72206e6f7468696e673f',
    mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  },
  hkdfSha256: {
    // RFC 5869 Appendix A.1, test case 1 (L = 42).
    source: 'RFC 5869 test case 1',
    ikm: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    salt: '000102030405060708090a0b0c',
    info: 'f0f1f2f3f4f5f6f7f8f9',
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  aes256Gcm: {
    // McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)" (submission to NIST), test case 16:
    // 256-bit key, 96-bit IV, 60-byte plaintext, 20-byte AAD.
    source: 'McGrew-Viega GCM test case 16',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    plaintext:
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    ciphertext:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
  pbkdf2Sha256: {
    // RFC 7914 §11, first vector: P = "passwd", S = "salt", c = 1, dkLen = 64.
    source: 'RFC 7914 §11 vector 1',
    password: '706173737764',
    salt: '73616c74',
    iterations: 1,
    derived:
      '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783',
  },
  scrypt: {
    // RFC 7914 §12, first vector: P = "", S = "", N = 16, r = 1, p = 1, dkLen = 64.
    source: 'RFC 7914 §12 vector 1',
    password: '',
    salt: '',
    N: 16,
    r: 1,
    p: 1,
    derived:
      '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906',
  },
  ecdsaP256: {
    // Project Wycheproof, testvectors_v1/ecdsa_secp256r1_sha256_p1363_test.json (commit dac1dd47),
    // first test group, tcId 1 ("signature malleability", result "valid").
    source: 'Wycheproof ecdsa_secp256r1_sha256_p1363 tcId 1',
    publicKey:
      '3059301306072a8648ce3d020106082a8648ce3d030107034200042927b10512bae3eddcfe467828128bad2903269919f7086069c8c4df6c732838c7787964eaac00e5921fb1498a60f4606766b3d9685001558d1a974e7341513e',
    message: '313233343030',
    signature:
      '2ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e184cd60b855d442f5b3c7b11eb6c4e0ae7525fe710fab9aa7c77a67f79e6fadd76',
  },
  shamir: {
    // No standard publishes Shamir vectors. This one is worked by hand: over GF(2^8) with
    // x^8 + x^4 + x^3 + x + 1 (the field of the library and of Vault's shamir), secret byte j is
    // j (00…0f), the degree-1 coefficient of byte j is a0 + j, and the shares are f(1), f(2), f(3).
    source: 'hand-worked GF(2^8) example',
    secret: '000102030405060708090a0b0c0d0e0f',
    shares: [
      'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a001',
      '5b585d5e57545152434045464f4c494a02',
      'fbf9fffdf3f1f7f5ebe9efede3e1e7e503',
    ],
  },
} as const satisfies {
  sha256: DigestVector;
  hmacSha256: HmacVector;
  hkdfSha256: HkdfVector;
  aes256Gcm: AesGcmVector;
  pbkdf2Sha256: Pbkdf2Vector;
  scrypt: ScryptVector;
  ecdsaP256: EcdsaVector;
  shamir: ShamirVector;
};

const hkdfAsync = promisify(hkdf);
const pbkdf2Async = promisify(pbkdf2);
const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * The known-answer tests of every algorithm the device uses (DESIGN §10), in the order they run.
 * Each test throws CofferError ERR_INTERNAL naming the algorithm and vector when it fails.
 */
export function knownAnswerTests(): SelfTest[] {
  const v = KAT_VECTORS;
  return [
    sha256Test(v.sha256),
    hmacSha256Test(v.hmacSha256),
    hkdfSha256Test(v.hkdfSha256),
    aes256GcmTest(v.aes256Gcm),
    pbkdf2Sha256Test(v.pbkdf2Sha256),
    scryptTest(v.scrypt),
    ecdsaP256VerifyTest(v.ecdsaP256),
    ecdsaP256PairwiseTest(),
    shamirTest(v.shamir),
  ];
}

/** SHA-256 of `v.message` must be `v.digest`. @throws CofferError ERR_INTERNAL from `run` on mismatch. */
export function sha256Test(v: DigestVector): SelfTest {
  return kat(`SHA-256 (${v.source})`, async (fail) => {
    const got = createHash('sha256').update(hex(v.message)).digest();
    if (!got.equals(hex(v.digest))) fail('the digest differs');
  });
}

/** HMAC-SHA256 must reproduce `v.mac`. @throws CofferError ERR_INTERNAL from `run` on mismatch. */
export function hmacSha256Test(v: HmacVector): SelfTest {
  return kat(`HMAC-SHA256 (${v.source})`, async (fail) => {
    const got = createHmac('sha256', hex(v.key)).update(hex(v.message)).digest();
    if (!got.equals(hex(v.mac))) fail('the MAC differs');
  });
}

/** HKDF-SHA256 must reproduce `v.okm`. @throws CofferError ERR_INTERNAL from `run` on mismatch. */
export function hkdfSha256Test(v: HkdfVector): SelfTest {
  return kat(`HKDF-SHA256 (${v.source})`, async (fail) => {
    const okm = hex(v.okm);
    const got = Buffer.from(await hkdfAsync('sha256', hex(v.ikm), hex(v.salt), hex(v.info), okm.length));
    if (!got.equals(okm)) fail('the output key material differs');
  });
}

/**
 * AES-256-GCM with AAD: encryption must give the vector's ciphertext and tag, decryption its
 * plaintext, and a flipped tag bit must be refused. @throws CofferError ERR_INTERNAL from `run`.
 */
export function aes256GcmTest(v: AesGcmVector): SelfTest {
  return kat(`AES-256-GCM (${v.source})`, async (fail) => {
    const [key, iv, aad, pt, ct, tag] = [v.key, v.iv, v.aad, v.plaintext, v.ciphertext, v.tag].map(
      hex,
    ) as Buffer[];
    const enc = createCipheriv('aes-256-gcm', key!, iv!);
    enc.setAAD(aad!);
    const gotCt = Buffer.concat([enc.update(pt!), enc.final()]);
    if (!gotCt.equals(ct!)) fail('encryption gives another ciphertext');
    if (!enc.getAuthTag().equals(tag!)) fail('encryption gives another tag');
    const open = (t: Buffer): Buffer => {
      const dec = createDecipheriv('aes-256-gcm', key!, iv!);
      dec.setAAD(aad!);
      dec.setAuthTag(t);
      return Buffer.concat([dec.update(ct!), dec.final()]);
    };
    let gotPt: Buffer | null = null;
    try {
      gotPt = open(tag!);
    } catch {
      fail('decryption refuses the valid tag');
    }
    if (!gotPt!.equals(pt!)) fail('decryption gives another plaintext');
    const badTag = Buffer.from(tag!);
    badTag[0]! ^= 0x01;
    let refused = false;
    try {
      open(badTag);
    } catch {
      refused = true;
    }
    if (!refused) fail('decryption accepts a wrong tag');
  });
}

/** PBKDF2-HMAC-SHA256 must reproduce `v.derived`. @throws CofferError ERR_INTERNAL from `run` on mismatch. */
export function pbkdf2Sha256Test(v: Pbkdf2Vector): SelfTest {
  return kat(`PBKDF2-HMAC-SHA256 (${v.source})`, async (fail) => {
    const want = hex(v.derived);
    const got = await pbkdf2Async(hex(v.password), hex(v.salt), v.iterations, want.length, 'sha256');
    if (!got.equals(want)) fail('the derived key differs');
  });
}

/** scrypt must reproduce `v.derived`. @throws CofferError ERR_INTERNAL from `run` on mismatch. */
export function scryptTest(v: ScryptVector): SelfTest {
  return kat(`scrypt (${v.source})`, async (fail) => {
    const want = hex(v.derived);
    const got = await new Promise<Buffer>((resolve, reject) =>
      scrypt(hex(v.password), hex(v.salt), want.length, { N: v.N, r: v.r, p: v.p }, (err, key) =>
        err ? reject(err) : resolve(key),
      ),
    );
    if (!got.equals(want)) fail('the derived key differs');
  });
}

/**
 * ECDSA P-256 / SHA-256 verification of a published valid signature, which must also fail once the
 * message changes. @throws CofferError ERR_INTERNAL from `run`.
 */
export function ecdsaP256VerifyTest(v: EcdsaVector): SelfTest {
  return kat(`ECDSA P-256 verify (${v.source})`, async (fail) => {
    const key = createPublicKey({ key: hex(v.publicKey), format: 'der', type: 'spki' });
    const check = (message: Buffer): boolean =>
      verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, hex(v.signature));
    if (!check(hex(v.message))) fail('the valid signature is refused');
    if (check(Buffer.concat([hex(v.message), Buffer.from([0])])))
      fail('the signature verifies another message');
  });
}

/**
 * ECDSA P-256 pairwise consistency (FIPS 140-3 style): a fresh key signs a random message and its
 * public half verifies it, and not a changed message. @throws CofferError ERR_INTERNAL from `run`.
 */
export function ecdsaP256PairwiseTest(): SelfTest {
  return kat('ECDSA P-256 sign/verify pairwise consistency', async (fail) => {
    const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    const message = randomBytes(32);
    const sig = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    if (!verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)) {
      fail('a fresh signature does not verify');
    }
    message[0]! ^= 0x01;
    if (verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)) {
      fail('a signature verifies a changed message');
    }
  });
}

/**
 * Shamir 2-of-3 through the device's own quorum code: every pair of the vector's shares must give
 * its secret, and a fresh split of a random key must combine back from every pair.
 * @throws CofferError ERR_INTERNAL from `run`.
 */
export function shamirTest(v: ShamirVector): SelfTest {
  return kat(`Shamir 2-of-3 (${v.source})`, async (fail) => {
    const pairs = [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const;
    const secret = hex(v.secret);
    for (const [i, j] of pairs) {
      const got = await combineShares([hex(v.shares[i]), hex(v.shares[j])]);
      if (!got.equals(secret)) fail(`shares ${i + 1} and ${j + 1} do not give the secret`);
    }
    const mk = randomBytes(secret.length);
    const shares = await splitMasterKey(mk);
    for (const [i, j] of pairs) {
      const got = await combineShares([shares[j], shares[i]]);
      if (!got.equals(mk)) fail('a fresh split does not combine back');
    }
  });
}

type Fail = (what: string) => never;

/** Thrown by `fail` inside a check; told apart from other exceptions by class, never by message. */
class Mismatch extends Error {}

/** Wraps a check so any failure (a mismatch or an exception) is one CofferError naming the test. */
function kat(name: string, check: (fail: Fail) => Promise<void>): SelfTest {
  const fail: Fail = (what) => {
    throw new Mismatch(what);
  };
  return {
    name,
    async run() {
      try {
        await check(fail);
      } catch (err) {
        const what = err instanceof Mismatch ? err.message : 'it threw';
        throw new CofferError(
          'ERR_INTERNAL',
          `Known-answer test ${name} failed: ${what}.`,
          {},
          { cause: err },
        );
      }
    },
  };
}

function hex(s: string): Buffer {
  return Buffer.from(s, 'hex');
}
