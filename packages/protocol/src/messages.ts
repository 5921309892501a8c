import type { AnyCommand, CommandCodec } from './command.js';
import { ProtocolError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, type Frame } from './frame.js';
import { LONE_SURROGATE, required, string, struct } from './tlv.js';

/** The body of every error frame: the refusal's code (the device's, or a ProtocolError's) and a sentence. */
export const ERROR_BODY = struct({
  code: required(1, string(64, 1), 'e.g. ERR_KEY_USAGE, ERR_FIELD'),
  message: required(2, string(1024), 'for people; never match on it'),
});

export interface WireError {
  readonly code: string;
  readonly message: string;
}

/** A request frame for `command`. @throws ProtocolError ERR_FIELD / ERR_FRAME_TOO_LARGE. */
export function encodeRequest<Req>(
  command: CommandCodec<Req, unknown>,
  requestId: number,
  request: Req,
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): Buffer {
  return encodeFrame(
    { type: 'request', command: command.code, requestId, body: command.request.encode(request) },
    maxFrameBytes,
  );
}

/** A response frame echoing the request's command code and id. @throws as encodeRequest. */
export function encodeResponse<Res>(
  command: CommandCodec<unknown, Res>,
  requestId: number,
  response: Res,
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): Buffer {
  return encodeFrame(
    { type: 'response', command: command.code, requestId, body: command.response.encode(response) },
    maxFrameBytes,
  );
}

/**
 * An error frame for the request (`command` code and `requestId` echoed; both 0 for a
 * connection-level error). The message is cut to 1024 bytes of UTF-8 if need be.
 */
export function encodeError(
  command: number,
  requestId: number,
  error: WireError,
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): Buffer {
  let message = error.message.replace(LONE_SURROGATE, '\uFFFD');
  const bytes = Buffer.from(message, 'utf8');
  // Cut at 1024 bytes, then drop a character the cut may have split (decoded as U+FFFD).
  if (bytes.length > 1024)
    message = bytes
      .subarray(0, 1024)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
  return encodeFrame(
    { type: 'error', command, requestId, body: ERROR_BODY.encode({ code: error.code, message }) },
    maxFrameBytes,
  );
}

export type Reply<Res> =
  | { readonly ok: true; readonly response: Res }
  | { readonly ok: false; readonly error: WireError };

/**
 * What the server answered to a request of `command`: its response, or its error (a normal
 * outcome, so a value).
 *
 * @throws ProtocolError ERR_FRAME_TYPE when the frame is a request; ERR_FIELD when it echoes another command;
 *   ERR_BODY_MALFORMED / ERR_FIELD from the codecs.
 */
export function decodeReply<Res>(command: CommandCodec<unknown, Res> | AnyCommand, frame: Frame): Reply<Res> {
  if (frame.type === 'error') {
    return { ok: false, error: ERROR_BODY.decode(frame.body) };
  }
  if (frame.type !== 'response')
    throw new ProtocolError('ERR_FRAME_TYPE', 'A request frame came where a reply belongs.');
  if (frame.command !== command.code) {
    throw new ProtocolError('ERR_FIELD', `The reply echoes command ${frame.command}, not ${command.code}.`, {
      field: 'command',
    });
  }
  return { ok: true, response: command.response.decode(frame.body) as Res };
}
