import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SIGN } from './commands/sign.js';
import { VERIFY } from './commands/verify.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';
import { COMMANDS } from './registry.js';

const field = (tag: number, value: Buffer) => {
  const header = Buffer.alloc(5);
  header[0] = tag;
  header.writeUInt32BE(value.length, 1);
  return Buffer.concat([header, value]);
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sign =
  (...fields: Buffer[]) =>
  () =>
    SIGN.request.decode(Buffer.concat(fields));
const refusedWith = (code: ProtocolErrorCode, name?: string) => (e: unknown) =>
  isProtocolError(e) && e.code === code && (name === undefined || e.details.field === name);

describe('TLV bodies', () => {
  const key = field(1, u32(5));
  const alg = field(2, Buffer.from('ed25519'));
  const data = field(3, Buffer.from('hello'));

  it('a well-formed sign request decodes, absent optional fields stay absent', () => {
    assert.deepEqual(sign(key, alg, data)(), { key: 5, algorithm: 'ed25519', data: Buffer.from('hello') });
  });

  it('refuses structure faults with ERR_BODY_MALFORMED: a cut header, a length past the end, an unknown tag, tags out of order or twice', () => {
    assert.throws(sign(key, alg, data, Buffer.from([4, 0, 0])), refusedWith('ERR_BODY_MALFORMED'));
    assert.throws(sign(key, alg, Buffer.from([3, 0, 0, 0, 9, 1])), refusedWith('ERR_BODY_MALFORMED'));
    assert.throws(sign(key, alg, data, field(99, Buffer.alloc(0))), refusedWith('ERR_BODY_MALFORMED'));
    assert.throws(sign(alg, key, data), refusedWith('ERR_BODY_MALFORMED'));
    assert.throws(sign(key, key, alg, data), refusedWith('ERR_BODY_MALFORMED'));
  });

  it('refuses bad values with ERR_FIELD naming the field: missing, wrong width, out of range, unknown enum, bad bool, not UTF-8', () => {
    assert.throws(sign(key, alg), refusedWith('ERR_FIELD', 'data'));
    assert.throws(sign(field(1, Buffer.alloc(2)), alg, data), refusedWith('ERR_FIELD', 'key'));
    assert.throws(sign(field(1, u32(0)), alg, data), refusedWith('ERR_FIELD', 'key'));
    assert.throws(sign(key, field(2, Buffer.from('md5-rsa')), data), refusedWith('ERR_FIELD', 'algorithm'));
    assert.throws(sign(key, alg, data, field(4, Buffer.from([2]))), refusedWith('ERR_FIELD', 'prehashed'));
    assert.throws(sign(key, alg, data, field(6, Buffer.alloc(8192))), refusedWith('ERR_FIELD', 'id'));
  });

  it('enforces a body’s rule on both sides: verify needs exactly one of key and publicKey', () => {
    const request = { algorithm: 'ed25519' as const, data: Buffer.alloc(1), signature: Buffer.alloc(64) };
    assert.throws(() => VERIFY.request.encode(request), refusedWith('ERR_FIELD'));
    assert.throws(
      () => VERIFY.request.encode({ ...request, key: 1, publicKey: Buffer.alloc(1) }),
      refusedWith('ERR_FIELD'),
    );
    const body = VERIFY.request.encode({ ...request, key: 1 });
    assert.throws(() => VERIFY.request.decode(body.subarray(9)), refusedWith('ERR_FIELD'));
  });

  it('refuses values the encoder cannot write with ERR_FIELD (a lone surrogate, a wrong type)', () => {
    assert.throws(
      () => SIGN.request.encode({ key: 1.5, algorithm: 'ed25519', data: Buffer.alloc(0) }),
      refusedWith('ERR_FIELD', 'key'),
    );
    assert.throws(
      () => SIGN.request.encode({ key: 1, algorithm: 'ed25519', data: 'x' as unknown as Buffer }),
      refusedWith('ERR_FIELD', 'data'),
    );
    const info = COMMANDS.find((c) => c.name === 'key-info')!;
    assert.throws(
      () =>
        info.response.encode({
          index: 1,
          type: 'AES-256',
          keyClass: 'symmetric',
          status: 'normal',
          usage: [],
          description: '\uD800',
          createdAt: '',
          expiresAt: '',
        }),
      refusedWith('ERR_FIELD', 'description'),
    );
  });

  it('any bytes given to any request or response decoder give a value or a ProtocolError, nothing else (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COMMANDS),
        fc.boolean(),
        fc.uint8Array({ maxLength: 200 }),
        (command, isRequest, bytes) => {
          try {
            (isRequest ? command.request : command.response).decode(bytes);
          } catch (error) {
            assert.ok(isProtocolError(error) && !error.fatal, String(error));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
