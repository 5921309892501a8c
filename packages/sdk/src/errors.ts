import { PROTOCOL_ERROR_CODES, type ProtocolErrorCode } from '@coffer/protocol';

/**
 * The SDK's errors (STYLE item 2, after panva/jose): one base class with a `code`, one subclass per
 * kind of failure. Act on `code` and on the class, never on the message.
 *
 * - {@link CofferServiceError}: the device refused (an error frame): `code` is the device's.
 * - {@link CofferConnectionError}: no connection could be made or kept (ERR_CONNECT, ERR_CONNECTION_LOST, ERR_TLS).
 * - {@link CofferTimeoutError}: no answer in time (ERR_TIMEOUT).
 * - {@link CofferClosedError}: the client was closed (ERR_CLOSED).
 * - {@link CofferRequestError}: a request this side would not send (ERR_FIELD, ERR_FRAME_TOO_LARGE).
 * - {@link CofferProtocolError}: the server broke the protocol (a bad frame or body).
 * - {@link CofferLicenceError}: the licence file is malformed (ERR_LICENCE_FORMAT) or its PIN wrong (ERR_PIN_WRONG).
 */
export abstract class CofferSdkError extends Error {
  abstract readonly code: string;
}

/**
 * The device codes a crypto-service client meets (docs/protocol.md §4), and the protocol's own.
 * The server may add codes: treat one you do not know as a generic refusal.
 */
export const KNOWN_SERVICE_ERROR_CODES = [
  ...PROTOCOL_ERROR_CODES,
  // the request was read and refused
  'ERR_ALGORITHM',
  'ERR_CRYPTO_INPUT',
  'ERR_CIPHERTEXT',
  'ERR_KEY_NOT_FOUND',
  'ERR_KEY_NOT_BOUND',
  'ERR_KEY_DISCARDED',
  'ERR_KEY_INVALID',
  'ERR_KEY_USAGE_NOT_ALLOWED',
  'ERR_KEY_USAGE',
  'ERR_KEY_STATUS',
  'ERR_NOT_FOUND',
  'ERR_BAD_REQUEST',
  'ERR_INTEGRITY',
  'ERR_STATE_SELF_TEST',
  'ERR_STATE_FAULT',
  'ERR_STATE_UNINITIALISED',
  'ERR_STATE_LOCKED',
  'ERR_STATE_READY',
  'ERR_INTERNAL',
  // the connection was refused or cut (request id 0)
  'ERR_LICENCE_UNKNOWN',
  'ERR_LICENCE_SUPERSEDED',
  'ERR_LICENCE_REVOKED',
  'ERR_IP_NOT_ALLOWED',
  'ERR_CONNECTION_LIMIT',
  'ERR_SERVICE_STOPPED',
] as const;

export type KnownServiceErrorCode = (typeof KNOWN_SERVICE_ERROR_CODES)[number];
/** A device code: one of the known ones, or a newer one this SDK does not list. */
export type ServiceErrorCode = KnownServiceErrorCode | (string & {});

/** The device (or its protocol layer) refused a request, or refused or cut the connection. */
export class CofferServiceError extends CofferSdkError {
  readonly code: ServiceErrorCode;
  /** True when the refusal came with request id 0: it concerns the connection, which the server then closed. */
  readonly connectionLevel: boolean;

  constructor(code: ServiceErrorCode, message: string, options: { connectionLevel?: boolean } = {}) {
    super(message);
    this.name = 'CofferServiceError';
    this.code = code;
    this.connectionLevel = options.connectionLevel ?? false;
  }
}

export type ConnectionErrorCode = 'ERR_CONNECT' | 'ERR_CONNECTION_LOST' | 'ERR_TLS';

/** No connection to any device address, or the connection broke with the request in flight. */
export class CofferConnectionError extends CofferSdkError {
  readonly code: ConnectionErrorCode;

  constructor(code: ConnectionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CofferConnectionError';
    this.code = code;
  }
}

/** The request got no answer within its timeout (it may or may not have been carried out). */
export class CofferTimeoutError extends CofferSdkError {
  readonly code = 'ERR_TIMEOUT' as const;

  constructor(message: string) {
    super(message);
    this.name = 'CofferTimeoutError';
  }
}

/** The client was closed before the request was answered, or a request came after `close()`. */
export class CofferClosedError extends CofferSdkError {
  readonly code = 'ERR_CLOSED' as const;

  constructor(message = 'The Coffer client is closed.') {
    super(message);
    this.name = 'CofferClosedError';
  }
}

/** A request the SDK refused to send: a field out of range, or a frame over the size limit. */
export class CofferRequestError extends CofferSdkError {
  readonly code: ProtocolErrorCode;
  /** The field concerned, when there is one. */
  readonly field: string | undefined;

  constructor(code: ProtocolErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'CofferRequestError';
    this.code = code;
    this.field = field;
  }
}

/** The server sent what the protocol does not allow (a frame too large, a body that does not decode…). */
export class CofferProtocolError extends CofferSdkError {
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'CofferProtocolError';
    this.code = code;
  }
}

export type LicenceErrorCode = 'ERR_LICENCE_FORMAT' | 'ERR_PIN_WRONG';

/** The licence file cannot be read (ERR_LICENCE_FORMAT) or does not open with the PIN (ERR_PIN_WRONG). */
export class CofferLicenceError extends CofferSdkError {
  readonly code: LicenceErrorCode;
  /** The field of the file concerned, when there is one. */
  readonly field: string | undefined;

  constructor(code: LicenceErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'CofferLicenceError';
    this.code = code;
    this.field = field;
  }
}

export function isCofferSdkError(value: unknown): value is CofferSdkError {
  return value instanceof CofferSdkError;
}
