import { ProtocolError } from './errors.js';
import {
  assertMaxFrameBytes,
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  type Frame,
  frameTypeOf,
  PROTOCOL_VERSION,
} from './frame.js';

/** What `next()` returns: a whole frame, or how many more bytes are needed before one can be. */
export type DecodeResult = { readonly frame: Frame } | { readonly need: number };

/**
 * Cuts a byte stream into frames, however it arrives in chunks. Incomplete input is a normal
 * outcome (`{ need }`), not an error; bad input throws one ProtocolError and poisons the decoder
 * (every later call throws it again), because after a bad header the stream is out of step. A
 * declared length over the limit is refused as soon as the 4 length bytes are in, before any of the
 * body is buffered. Frame bodies may share memory with the pushed chunks.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failed: ProtocolError | undefined;

  constructor(options: { maxFrameBytes?: number } = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    assertMaxFrameBytes(this.maxFrameBytes);
  }

  /** Bytes received and not yet returned as frames. */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    this.#buffered += chunk.length;
  }

  /**
   * The next complete frame, or the number of bytes still needed.
   *
   * @throws ProtocolError ERR_FRAME_TOO_LARGE, ERR_FRAME_MALFORMED (length below the header),
   *   ERR_FRAME_VERSION or ERR_FRAME_TYPE.
   */
  next(): DecodeResult {
    if (this.#failed) throw this.#failed;
    const header = this.#peek(Math.min(this.#buffered, FRAME_HEADER_BYTES));
    if (header.length >= 4) {
      const total = header.readUInt32BE(0) + 4;
      if (total > this.maxFrameBytes)
        return this.#fail(
          'ERR_FRAME_TOO_LARGE',
          `A frame of ${total} bytes exceeds the limit of ${this.maxFrameBytes}.`,
        );
      if (total < FRAME_HEADER_BYTES)
        return this.#fail('ERR_FRAME_MALFORMED', `A frame of ${total} bytes is shorter than its header.`);
    }
    if (header.length >= 5 && header[4] !== PROTOCOL_VERSION) {
      return this.#fail(
        'ERR_FRAME_VERSION',
        `Protocol version ${header[4]} is not spoken here (only ${PROTOCOL_VERSION}).`,
      );
    }
    if (header.length >= 6 && frameTypeOf(header[5]!) === undefined) {
      return this.#fail(
        'ERR_FRAME_TYPE',
        `Frame type ${header[5]} is not request (1), response (2) or error (3).`,
      );
    }
    if (header.length < FRAME_HEADER_BYTES) return { need: FRAME_HEADER_BYTES - header.length };
    const total = header.readUInt32BE(0) + 4;
    if (this.#buffered < total) return { need: total - this.#buffered };
    const bytes = this.#take(total);
    return {
      frame: {
        type: frameTypeOf(bytes[5]!)!,
        command: bytes.readUInt16BE(6),
        requestId: bytes.readUInt32BE(8),
        body: bytes.subarray(FRAME_HEADER_BYTES),
      },
    };
  }

  #fail(
    code: 'ERR_FRAME_TOO_LARGE' | 'ERR_FRAME_MALFORMED' | 'ERR_FRAME_VERSION' | 'ERR_FRAME_TYPE',
    message: string,
  ): never {
    this.#failed = new ProtocolError(code, message);
    this.#chunks = [];
    this.#buffered = 0;
    throw this.#failed;
  }

  /** The first `n` buffered bytes, without consuming them (n ≤ 12, so copying is cheap). */
  #peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.length >= n) return first.subarray(0, n);
    const out = Buffer.alloc(n);
    let at = 0;
    for (const chunk of this.#chunks) {
      if (at >= n) break;
      at += chunk.copy(out, at, 0, Math.min(chunk.length, n - at));
    }
    return out;
  }

  /** Consumes the first `n` buffered bytes (a view when they lie in one chunk). */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0]!;
      const used = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, used);
      at += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
