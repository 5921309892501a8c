import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type AnyCommand, exactlyOneKey } from './command.js';
import { FrameDecoder } from './frame-decoder.js';
import { decodeReply, encodeError, encodeRequest, encodeResponse } from './messages.js';
import { COMMANDS, decodeRequest } from './registry.js';
import type { StructCodec, ValueType } from './tlv.js';

// Arbitraries generated from each command's own field declarations, so that every command, every
// field and every bound is covered without a hand-written generator per command.
function valueArbitrary(type: ValueType<unknown>): fc.Arbitrary<unknown> {
  switch (type.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
      return fc.integer({ min: type.min, max: type.max });
    case 'bool':
      return fc.boolean();
    case 'bytes':
      return fc
        .uint8Array({ minLength: type.min, maxLength: Math.min(type.max, type.min + 48) })
        .map((b) => Buffer.from(b));
    case 'string':
      return fc
        .string({ unit: 'binary', minLength: type.min, maxLength: Math.min(type.max, type.min + 24) })
        .filter((s) => Buffer.byteLength(s) >= type.min && Buffer.byteLength(s) <= type.max);
    case 'enum':
      return fc.constantFrom(...type.values!);
    case 'struct':
      return bodyArbitrary(type.struct!);
  }
}

function bodyArbitrary(codec: StructCodec<unknown>): fc.Arbitrary<unknown> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of codec.fields) {
    model[f.name] =
      f.presence === 'repeated'
        ? fc.array(valueArbitrary(f.type), { maxLength: Math.min(f.maxCount, 4) })
        : valueArbitrary(f.type);
  }
  const requiredKeys = codec.fields.filter((f) => f.presence !== 'optional').map((f) => f.name);
  return fc
    .record(model, { requiredKeys, noNullPrototype: true })
    .filter((v) => codec.check(v) === undefined);
}

function roundTrips(codec: StructCodec<unknown>, value: unknown): void {
  const body = codec.encode(value);
  const decoded = codec.decode(body);
  assert.deepEqual(decoded, value);
  assert.deepEqual(codec.encode(decoded), body, 'the encoding is canonical');
}

describe('every command encodes and decodes back to the same value (property)', () => {
  for (const command of COMMANDS as AnyCommand[]) {
    it(`${command.name} (0x${command.code.toString(16).padStart(4, '0')}): request and response bodies, and whole frames`, () => {
      fc.assert(
        fc.property(
          bodyArbitrary(command.request),
          bodyArbitrary(command.response),
          fc.nat({ max: 0xffff_ffff }),
          (request, response, id) => {
            roundTrips(command.request, request);
            roundTrips(command.response, response);
            const decoder = new FrameDecoder();
            decoder.push(encodeRequest(command, id, request));
            decoder.push(encodeResponse(command, id, response));
            const first = decoder.next() as { frame: import('./frame.js').Frame };
            assert.deepEqual(decodeRequest(first.frame), { command, request });
            const second = decoder.next() as { frame: import('./frame.js').Frame };
            assert.equal(second.frame.requestId, id);
            assert.deepEqual(decodeReply(command, second.frame), { ok: true, response });
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('an error frame echoes the command and request id and carries the code and message', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeError(0x0040, 9, { code: 'ERR_KEY_USAGE', message: 'é'.repeat(600) }));
    const { frame } = decoder.next() as { frame: import('./frame.js').Frame };
    assert.equal(frame.type, 'error');
    assert.equal(frame.command, 0x0040);
    assert.equal(frame.requestId, 9);
    const reply = decodeReply(COMMANDS.find((c) => c.code === 0x0040)!, frame);
    assert.equal(reply.ok, false);
    if (!reply.ok) {
      assert.equal(reply.error.code, 'ERR_KEY_USAGE');
      assert.equal(Buffer.byteLength(reply.error.message), 1024);
    }
  });

  it('commands have distinct codes and names, and exactlyOneKey is the rule of the bodies that name one', () => {
    assert.equal(new Set(COMMANDS.map((c) => c.code)).size, COMMANDS.length);
    assert.equal(exactlyOneKey({ key: 1 }), undefined);
    assert.notEqual(exactlyOneKey({}), undefined);
    assert.notEqual(exactlyOneKey({ key: 1, publicKey: Buffer.alloc(1) }), undefined);
  });
});
