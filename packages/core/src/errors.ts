/**
 * Coffer's closed set of error codes. Every refusal anywhere in the device carries one of these;
 * each boundary (front-panel HTTP, management HTTP, the binary protocol, the CLI's exit status)
 * maps codes through one table. Never match on message text.
 */
export const ERROR_CODES = [
  // device state: an operation was asked for in a state that does not accept it
  'ERR_STATE_SELF_TEST',
  'ERR_STATE_FAULT',
  'ERR_STATE_UNINITIALISED',
  'ERR_STATE_LOCKED',
  'ERR_STATE_READY',
  'ERR_STATE_SERVING',
  // input
  'ERR_BAD_REQUEST',
  'ERR_PIN_RULE',
  'ERR_PIN_MISMATCH',
  'ERR_MK_PART_FORMAT',
  'ERR_MK_PART_MISMATCH',
  'ERR_FACTOR_FORMAT',
  'ERR_TIME_FORMAT',
  'ERR_NETWORK_SETTINGS',
  'ERR_IP_FORMAT',
  // ceremonies
  'ERR_CEREMONY_ORDER',
  'ERR_CEREMONY_EXPIRED',
  'ERR_CEREMONY_UNKNOWN',
  'ERR_REMAKE_SYSTEM_MANAGER',
  'ERR_MK_PART_PIN_WRONG',
  'ERR_INIT_INCOMPLETE',
  // cards
  'ERR_CARD_FORMAT',
  'ERR_CARD_FOREIGN',
  'ERR_CARD_UNKNOWN',
  'ERR_CARD_REPLACED',
  'ERR_CARD_BLOCKED',
  'ERR_CARD_ROLE',
  'ERR_CARD_SAME',
  'ERR_CARD_FORGED',
  'ERR_PIN_WRONG',
  'ERR_CARD_KDF_WEAK',
  // keys and integrity
  'ERR_MK_MISMATCH',
  'ERR_INTEGRITY',
  'ERR_DECRYPT',
  // storage and audit
  'ERR_STORE',
  'ERR_STORE_FOREIGN',
  'ERR_STORE_SCHEMA',
  'ERR_AUDIT_WRITE',
  'ERR_AUDIT_CHAIN',
  'ERR_NOT_FOUND',
  'ERR_CONFLICT',
  // management service
  'ERR_SESSION_REQUIRED',
  'ERR_SESSION_EXPIRED',
  'ERR_CHALLENGE',
  'ERR_FORBIDDEN',
  'ERR_NOT_WHITELISTED',
  'ERR_LOGIN_THROTTLED',
  'ERR_OPERATOR_NAME',
  'ERR_LICENCE_FORMAT',
  // keys
  'ERR_KEY_TYPE',
  'ERR_KEY_USAGE',
  'ERR_KEY_INDEX',
  'ERR_KEY_STATUS',
  'ERR_KEY_MATERIAL',
  'ERR_IMPORT_FORMAT',
  'ERR_BACKUP_FORMAT',
  'ERR_BACKUP_DOMAIN',
  // crypto service: the algorithm, its inputs, a ciphertext that does not open
  'ERR_ALGORITHM',
  'ERR_CRYPTO_INPUT',
  'ERR_CIPHERTEXT',
  // crypto service: who may connect (each refusal its own code) and which keys a request may use
  'ERR_LICENCE_UNKNOWN',
  'ERR_LICENCE_SUPERSEDED',
  'ERR_LICENCE_REVOKED',
  'ERR_IP_NOT_ALLOWED',
  'ERR_CONNECTION_LIMIT',
  'ERR_SERVICE_STOPPED',
  'ERR_KEY_NOT_FOUND',
  'ERR_KEY_NOT_BOUND',
  'ERR_KEY_DISCARDED',
  'ERR_KEY_INVALID',
  'ERR_KEY_USAGE_NOT_ALLOWED',
  // anything else
  'ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One error class for every refusal; `code` is the contract, `message` is a sentence for people. */
export class CofferError extends Error {
  readonly code: ErrorCode;
  /** Non-secret facts a client may show next to the field concerned (attempts left, field name, state). */
  readonly details: Readonly<Record<string, string | number | boolean | string[]>>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, string | number | boolean | string[]> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CofferError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details: CofferError['details'] } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isCofferError(value: unknown): value is CofferError {
  return value instanceof CofferError;
}

export function isErrorCode(value: string): value is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(value);
}
