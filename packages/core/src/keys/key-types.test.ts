import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { canonicalUsage, KEY_TYPE_NAMES, KEY_TYPES, keyTypeInfo, resolveUsage } from './key-types.js';

const code = (c: string) => (err: unknown) => err instanceof CofferError && err.code === c;

describe('the key type catalogue', () => {
  it('name every type the issue asks for, as dev.json writes them', () => {
    for (const name of [
      'AES-128',
      'AES-192',
      'AES-256',
      'SM4',
      '3DES',
      'HMAC-SHA256',
      'HMAC-SHA384',
      'HMAC-SHA512',
      'HMAC-SM3',
      'RSA-1024',
      'RSA-2048',
      'RSA-3072',
      'RSA-4096',
      'EC-P256',
      'EC-P384',
      'SM2',
      'Ed25519',
    ]) {
      assert.ok(KEY_TYPE_NAMES.includes(name as never), name);
    }
  });

  it('give every type default usage within its allowed usage', () => {
    for (const t of KEY_TYPES) {
      assert.ok(t.defaultUsage.length > 0, t.name);
      for (const u of t.defaultUsage)
        assert.ok((t.allowedUsage as readonly string[]).includes(u), `${t.name} ${u}`);
    }
  });

  it('refuse an unknown type with ERR_KEY_TYPE naming the known ones', () => {
    assert.throws(
      () => keyTypeInfo('AES-512'),
      (e: unknown) => code('ERR_KEY_TYPE')(e) && /AES-256/.test((e as Error).message),
    );
  });
});

describe('resolveUsage', () => {
  it('give the default when none is asked for', () => {
    assert.deepEqual(resolveUsage('RSA-2048'), ['sign', 'verify']);
    assert.deepEqual(resolveUsage('HMAC-SHA256', null), ['mac']);
  });

  it('de-duplicate and order the flags canonically', () => {
    assert.deepEqual(resolveUsage('AES-256', ['unwrap', 'encrypt', 'encrypt', 'mac']), [
      'encrypt',
      'mac',
      'unwrap',
    ]);
    assert.deepEqual(canonicalUsage(['verify', 'sign']), ['sign', 'verify']);
  });

  it('refuse a flag the type does not allow with ERR_KEY_USAGE', () => {
    assert.throws(() => resolveUsage('Ed25519', ['encrypt']), code('ERR_KEY_USAGE'));
    assert.throws(() => resolveUsage('HMAC-SHA256', ['sign']), code('ERR_KEY_USAGE'));
    assert.throws(() => resolveUsage('EC-P256', ['decrypt']), code('ERR_KEY_USAGE'));
  });

  it('refuse an unknown flag and an empty list with ERR_KEY_USAGE', () => {
    assert.throws(() => resolveUsage('AES-256', ['fly']), code('ERR_KEY_USAGE'));
    assert.throws(() => resolveUsage('AES-256', []), code('ERR_KEY_USAGE'));
  });
});
