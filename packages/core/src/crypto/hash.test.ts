import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCofferError } from '../errors.js';
import { digestLength, HASH_ALGORITHMS, type HashAlgorithm, hashData } from './hash.js';

// The "abc" examples of FIPS 180-4 (SHA-1, SHA-2; NIST CSRC example values) and FIPS 202 (SHA-3),
// and GB/T 32905 example 1 (SM3).
const ABC: Record<HashAlgorithm, string> = {
  sha1: 'a9993e364706816aba3e25717850c26c9cd0d89d',
  sha224: '23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7',
  sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  sha384: 'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
  sha512:
    'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
  'sha3-256': '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532',
  'sha3-384':
    'ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25',
  'sha3-512':
    'b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0',
  sm3: '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0',
};

describe('hashData', () => {
  for (const algorithm of HASH_ALGORITHMS) {
    it(`${algorithm} of "abc" is the published value, ${digestLength(algorithm)} bytes long`, () => {
      const digest = hashData(algorithm, Buffer.from('abc'));
      assert.equal(digest.toString('hex'), ABC[algorithm]);
      assert.equal(digest.length, digestLength(algorithm));
    });
  }

  it('an unknown algorithm is refused with ERR_ALGORITHM, data that is not bytes with ERR_CRYPTO_INPUT', () => {
    assert.throws(
      () => hashData('md5' as HashAlgorithm, Buffer.from('abc')),
      (e) => isCofferError(e) && e.code === 'ERR_ALGORITHM',
    );
    assert.throws(
      () => hashData('sha256', 'abc' as unknown as Buffer),
      (e) => isCofferError(e) && e.code === 'ERR_CRYPTO_INPUT',
    );
  });
});
