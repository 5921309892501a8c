/**
 * The protocol's own refusals: a frame or body that cannot be read. Everything the device refuses
 * after reading a request travels as an error frame carrying the device's code (ERR_KEY_USAGE, …);
 * these codes are for the framing and the codecs themselves. One class, a closed set of codes, and
 * never a message to match on (STYLE item 2).
 */
export const PROTOCOL_ERROR_CODES = [
  // frame level: the connection cannot continue (the reader no longer knows where frames start)
  'ERR_FRAME_TOO_LARGE',
  'ERR_FRAME_MALFORMED',
  'ERR_FRAME_VERSION',
  'ERR_FRAME_TYPE',
  // request level: answered with an error frame for that request id; the connection goes on
  'ERR_UNKNOWN_COMMAND',
  'ERR_BODY_MALFORMED',
  'ERR_FIELD',
] as const;

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/** The codes after which a server answers with request id 0 and closes the connection. */
export const FATAL_PROTOCOL_ERROR_CODES: readonly ProtocolErrorCode[] = [
  'ERR_FRAME_TOO_LARGE',
  'ERR_FRAME_MALFORMED',
  'ERR_FRAME_VERSION',
  'ERR_FRAME_TYPE',
];

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  /** The field concerned (by name and tag) when there is one. */
  readonly details: Readonly<{ field?: string; tag?: number }>;

  constructor(code: ProtocolErrorCode, message: string, details: { field?: string; tag?: number } = {}) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.details = details;
  }

  /** Whether the connection must close after this error (the frame stream is out of step). */
  get fatal(): boolean {
    return FATAL_PROTOCOL_ERROR_CODES.includes(this.code);
  }
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}
