import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isProtocolError } from './errors.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  FRAME_HEADER_BYTES,
  type Frame,
  MIN_MAX_FRAME_BYTES,
} from './frame.js';
import { FrameDecoder } from './frame-decoder.js';

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  return out;
}

/** Feeds every chunk and collects frames until the decoder needs more or throws. */
function drain(decoder: FrameDecoder, chunks: Buffer[]): Frame[] {
  const frames: Frame[] = [];
  for (const c of chunks) {
    decoder.push(c);
    for (let r = decoder.next(); 'frame' in r; r = decoder.next()) frames.push(r.frame);
  }
  return frames;
}

const frameArbitrary = fc.record(
  {
    type: fc.constantFrom('request' as const, 'response' as const, 'error' as const),
    command: fc.integer({ min: 0, max: 0xffff }),
    requestId: fc.nat({ max: 0xffff_ffff }),
    body: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  },
  { noNullPrototype: true },
);

describe('FrameDecoder', () => {
  it('any bytes in any chunking: only frames within the limit, { need }, or a ProtocolError — never anything else (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        (bytes, cuts, prefixValid) => {
          const limit = MIN_MAX_FRAME_BYTES;
          const decoder = new FrameDecoder({ maxFrameBytes: limit });
          // Half the time start with a plausible header so that more than the first check is reached.
          const input = Buffer.from(bytes);
          if (prefixValid && input.length >= 6) {
            input.writeUInt32BE(input.length % 700, 0);
            input[4] = 1;
            input[5] = 1 + (input[5]! % 3);
          }
          try {
            for (const f of drain(decoder, chunk(input, cuts))) {
              assert.ok(f.body.length + FRAME_HEADER_BYTES <= limit);
            }
            const r = decoder.next();
            if ('need' in r) assert.ok(r.need >= 1);
          } catch (error) {
            assert.ok(isProtocolError(error), String(error));
            assert.ok(error.fatal);
            assert.throws(
              () => decoder.next(),
              (e) => e === error,
            );
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('frames written back to back come out the same, in order, however the stream is cut (property)', () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (frames, cuts) => {
          const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
          const decoder = new FrameDecoder();
          const out = drain(decoder, chunk(stream, cuts));
          assert.deepEqual(
            out.map((f) => ({ ...f, body: Buffer.from(f.body) })),
            frames,
          );
          assert.deepEqual(decoder.next(), { need: FRAME_HEADER_BYTES });
          assert.equal(decoder.buffered, 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a declared length over the limit is refused with ERR_FRAME_TOO_LARGE as soon as the 4 length bytes arrive', () => {
    const decoder = new FrameDecoder();
    decoder.push(Buffer.from([0x00, 0x10, 0x00]));
    assert.deepEqual(decoder.next(), { need: FRAME_HEADER_BYTES - 3 });
    decoder.push(Buffer.from([0x00]));
    assert.throws(
      () => decoder.next(),
      (e) => isProtocolError(e) && e.code === 'ERR_FRAME_TOO_LARGE',
    );
    assert.throws(
      () => decoder.next(),
      (e) => isProtocolError(e) && e.code === 'ERR_FRAME_TOO_LARGE',
    );
  });

  it('says how many bytes it still needs for the header and then for the body', () => {
    const bytes = encodeFrame({ type: 'request', command: 0x40, requestId: 7, body: Buffer.alloc(10) });
    const decoder = new FrameDecoder();
    decoder.push(bytes.subarray(0, 5));
    assert.deepEqual(decoder.next(), { need: 7 });
    decoder.push(bytes.subarray(5, 15));
    assert.deepEqual(decoder.next(), { need: 7 });
    decoder.push(bytes.subarray(15));
    assert.equal((decoder.next() as { frame: Frame }).frame.requestId, 7);
  });

  it('refuses a short length, another version and an unknown frame type, each with its own code', () => {
    for (const [hex, code] of [
      ['00000007', 'ERR_FRAME_MALFORMED'],
      ['0000000802', 'ERR_FRAME_VERSION'],
      ['000000080104', 'ERR_FRAME_TYPE'],
      ['000000080100', 'ERR_FRAME_TYPE'],
    ] as const) {
      const decoder = new FrameDecoder();
      decoder.push(Buffer.from(hex, 'hex'));
      assert.throws(
        () => decoder.next(),
        (e) => isProtocolError(e) && e.code === code,
        hex,
      );
    }
  });

  it('the limit is checked when building too: a frame one byte over is refused with ERR_FRAME_TOO_LARGE', () => {
    const body = Buffer.alloc(DEFAULT_MAX_FRAME_BYTES - FRAME_HEADER_BYTES);
    assert.equal(
      encodeFrame({ type: 'response', command: 1, requestId: 1, body }).length,
      DEFAULT_MAX_FRAME_BYTES,
    );
    assert.throws(
      () => encodeFrame({ type: 'response', command: 1, requestId: 1, body: Buffer.alloc(body.length + 1) }),
      (e) => isProtocolError(e) && e.code === 'ERR_FRAME_TOO_LARGE',
    );
    const frame = encodeFrame({
      type: 'request',
      command: 1,
      requestId: 1,
      body: Buffer.alloc(MIN_MAX_FRAME_BYTES),
    });
    const decoder = new FrameDecoder({ maxFrameBytes: MIN_MAX_FRAME_BYTES });
    decoder.push(frame);
    assert.throws(
      () => decoder.next(),
      (e) => isProtocolError(e) && e.code === 'ERR_FRAME_TOO_LARGE',
    );
  });
});
