import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '@coffer/core';
import { devClientExample, parseAddress } from './client.js';

describe('coffer client helpers', () => {
  it('parses device addresses as host:port, [IPv6]:port or name:port', () => {
    assert.deepEqual(parseAddress('127.0.0.1:1813'), { host: '127.0.0.1', port: 1813 });
    assert.deepEqual(parseAddress('[::1]:1813'), { host: '::1', port: 1813 });
    assert.deepEqual(parseAddress('hsm.example:443'), { host: 'hsm.example', port: 443 });
  });

  it('refuses an address without a port, or with a port out of range, with ERR_BAD_REQUEST', () => {
    for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', ':1813', '::1:1813']) {
      assert.throws(
        () => parseAddress(bad),
        (e) => e instanceof CofferError && e.code === 'ERR_BAD_REQUEST',
        bad,
      );
    }
  });

  it('the dev example signs with the EC-P256 demo key when there is one, at the service address', () => {
    const command = devClientExample({
      service: { host: '127.0.0.1', port: 40123 },
      operator: { license: '/data/demo.license', pin: '12AB34CD' },
      keys: [
        { index: 1, type: 'AES-256' },
        { index: 2, type: 'RSA-2048' },
        { index: 3, type: 'EC-P256' },
      ],
    });
    assert.match(command!, /^COFFER_LICENCE_PIN=12AB34CD node \S+ client --license \/data\/demo\.license /);
    assert.match(
      command!,
      /--address 127\.0\.0\.1:40123 sign --key 3 --alg ecdsa-sha256 --text 'hello, Coffer'/,
    );
  });

  it('the dev example falls back to another signing key, and is absent without operator, service or key', () => {
    const base = {
      service: { host: '127.0.0.1', port: 1813 },
      operator: { license: 'demo.license', pin: '12AB34CD' },
    };
    assert.match(devClientExample({ ...base, keys: [{ index: 9, type: 'SM2' }] })!, /--key 9 --alg sm2-sm3/);
    assert.equal(devClientExample({ ...base, keys: [{ index: 1, type: 'AES-256' }] }), null);
    assert.equal(devClientExample({ ...base, operator: null, keys: [{ index: 3, type: 'EC-P256' }] }), null);
    assert.equal(devClientExample({ ...base, service: null, keys: [{ index: 3, type: 'EC-P256' }] }), null);
  });
});
