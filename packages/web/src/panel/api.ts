/**
 * The front-panel HTTP JSON API as the page sees it. The shapes mirror the device's response
 * schemas (packages/server/src/panel/panel-schemas.ts); the page depends on nothing of ours but HTTP.
 */

export type StateKind = 'SELF_TEST' | 'FAULT' | 'UNINITIALISED' | 'LOCKED' | 'READY' | 'SERVING';

export type InitStep = 'time' | `card-${string}` | `mk-part-${string}` | 'write' | 'managers' | 'finish';

export interface InitProgress {
  timeSet: boolean;
  deviceManagers: { slot: string; cardMade: boolean; mkPartSet: boolean; written: boolean }[];
  systemManagers: string[];
  safeManager: boolean;
  auditManager: boolean;
  next: InitStep;
}

export interface NetworkStatus {
  ip: string;
  port: number;
  mask: string;
  gateway: string | null;
  mac: string;
  boundPort: number | null;
}

export interface Networks {
  mNet0: NetworkStatus;
  aNet1: NetworkStatus;
}

export interface Indicators {
  power: boolean;
  error: boolean;
  waiting: boolean;
  working: boolean;
}

export interface Fault {
  code: string;
  reason: string;
  buzzer: string;
  detail: string;
  at: string;
}

export interface DeviceStatus {
  state: StateKind;
  words: string;
  indicators: Indicators;
  fault: Fault | null;
  time: string;
  clockOffsetMs: number;
  deviceId: string;
  init: InitProgress | null;
  network: Networks | null;
}

export interface DeviceInfo {
  manufacturer: string;
  deviceName: string;
  model: string;
  softwareVersion: string;
  deviceId: string;
  kcv: string;
  network: Networks | null;
}

/** A card the device has just made: the card slot hands it out as a file download. */
export interface NewCard {
  slot: string;
  fileName: string;
  card: unknown;
}

export interface TokenReply {
  token: string;
  slot?: string;
}

export interface WhitelistEntry {
  ip: string;
  addedAt: string;
  addedBy: string;
}

/** A refusal from the device: `{ error: { code, message, details } }`. Never matched on message text. */
export class DeviceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'DeviceError';
  }

  /** The form field the device named (`details.field`), if any. */
  get field(): string | undefined {
    return typeof this.details['field'] === 'string' ? this.details['field'] : undefined;
  }
}

/** The device did not answer at all (shut down, or the process is gone). */
export class UnreachableError extends Error {
  constructor() {
    super('The device does not answer.');
    this.name = 'UnreachableError';
  }
}

const TOKEN_HEADER = 'x-ceremony-token';

async function call<T>(method: 'GET' | 'POST', path: string, body?: object, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers[TOKEN_HEADER] = token;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new UnreachableError();
  }
  let json: unknown = {};
  try {
    const text = await response.text();
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new DeviceError(
      'ERR_INTERNAL',
      `The device answered ${response.status} with something that is not JSON.`,
    );
  }
  if (!response.ok) {
    const e = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
    throw new DeviceError(
      typeof e?.code === 'string' ? e.code : 'ERR_INTERNAL',
      typeof e?.message === 'string' ? e.message : `The device answered HTTP ${response.status}.`,
      e?.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {},
    );
  }
  return json as T;
}

export const api = {
  get: <T>(path: string, token?: string) => call<T>('GET', path, undefined, token),
  /** Every POST sends a JSON body (`{}` when the step has nothing to say). */
  post: <T>(path: string, body: object = {}, token?: string) => call<T>('POST', path, body, token),
};
