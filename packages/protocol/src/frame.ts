import { ProtocolError } from './errors.js';

/**
 * Frames (docs/protocol.md §2): `length u32 ‖ version u8 ‖ type u8 ‖ command u16 ‖ request id u32 ‖ body`,
 * all big-endian; `length` counts everything after itself (8 + body bytes).
 */

/** The TLS ALPN protocol id that selects this protocol on the service port (REST is `http/1.1`). */
export const ALPN_PROTOCOL = 'coffer/1';
export const PROTOCOL_VERSION = 1;
/** length (4) + version (1) + type (1) + command (2) + request id (4). */
export const FRAME_HEADER_BYTES = 12;
/** The largest whole frame, header included, that either side builds or accepts unless configured otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 1_048_576;
/** No configuration may go below this: every command's fixed part fits. */
export const MIN_MAX_FRAME_BYTES = 4096;

export const FRAME_TYPES = { request: 1, response: 2, error: 3 } as const;
export type FrameType = keyof typeof FRAME_TYPES;
const TYPE_BY_BYTE: readonly (FrameType | undefined)[] = [undefined, 'request', 'response', 'error'];

export interface Frame {
  readonly type: FrameType;
  /** The command code; a response or error frame echoes the request's. 0 only on connection-level errors. */
  readonly command: number;
  /** Chosen by the client, echoed by the server; 0 only on connection-level errors. */
  readonly requestId: number;
  readonly body: Buffer;
}

export function assertMaxFrameBytes(maxFrameBytes: number): void {
  if (
    !Number.isSafeInteger(maxFrameBytes) ||
    maxFrameBytes < MIN_MAX_FRAME_BYTES ||
    maxFrameBytes > 0xffff_ffff
  ) {
    throw new RangeError(`maxFrameBytes must be an integer from ${MIN_MAX_FRAME_BYTES} to 4294967295`);
  }
}

/**
 * The bytes of one frame.
 *
 * @throws ProtocolError ERR_FRAME_TOO_LARGE when the frame would exceed `maxFrameBytes`;
 *   ERR_FIELD when the command or request id is out of range.
 */
export function encodeFrame(frame: Frame, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  const total = FRAME_HEADER_BYTES + frame.body.length;
  if (total > maxFrameBytes) {
    throw new ProtocolError(
      'ERR_FRAME_TOO_LARGE',
      `The frame would be ${total} bytes; the limit is ${maxFrameBytes}.`,
    );
  }
  if (!Number.isInteger(frame.command) || frame.command < 0 || frame.command > 0xffff) {
    throw new ProtocolError('ERR_FIELD', 'The command code is a u16.', { field: 'command' });
  }
  if (!Number.isInteger(frame.requestId) || frame.requestId < 0 || frame.requestId > 0xffff_ffff) {
    throw new ProtocolError('ERR_FIELD', 'The request id is a u32.', { field: 'requestId' });
  }
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32BE(total - 4, 0);
  out[4] = PROTOCOL_VERSION;
  out[5] = FRAME_TYPES[frame.type];
  out.writeUInt16BE(frame.command, 6);
  out.writeUInt32BE(frame.requestId, 8);
  out.set(frame.body, FRAME_HEADER_BYTES);
  return out;
}

/** Reads the frame type byte. */
export function frameTypeOf(byte: number): FrameType | undefined {
  return TYPE_BY_BYTE[byte];
}
