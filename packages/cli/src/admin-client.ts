import { Agent, request as httpsRequest } from 'node:https';
import {
  CARD_KDF_ITERATIONS,
  CofferError,
  type ErrorCode,
  isErrorCode,
  type ManagerRole,
  parseCardFile,
  signChallenge,
  unsealCard,
} from '@coffer/core';

export interface LoginReply {
  token: string;
  account: string;
  role: ManagerRole;
  slot: string;
  idleTimeoutMs: number;
}

export interface AdminClientOptions {
  /** The device CA certificate (PEM). The server's certificate must chain to exactly this CA. */
  caPem: string;
  /** The local address to connect from (tests: a loopback address that is not whitelisted). */
  localAddress?: string;
  /** The least PBKDF2 count a card may use when it is unsealed here (600,000 unless testing). */
  minCardIterations?: number;
  /** Per-request timeout; 5 minutes by default (backups of many keys take a while). */
  timeoutMs?: number;
}

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * A client of the management API over HTTPS with the device CA pinned: Node's default trust store
 * is replaced by the one CA certificate given, and the server certificate must name the host of the
 * URL (its IP address, or `localhost`). Logs in with a manager card unsealed here with its PIN: the
 * PIN and the card's private key never leave this process; only the signature of the device's
 * challenge is sent.
 */
export class AdminClient {
  readonly #agent: Agent;
  readonly baseUrl: URL;
  token: string | null = null;

  constructor(
    baseUrl: string,
    private readonly opts: AdminClientOptions,
  ) {
    this.baseUrl = new URL(baseUrl);
    if (this.baseUrl.protocol !== 'https:') {
      throw new CofferError('ERR_BAD_REQUEST', `The management URL must be https://…, not ${baseUrl}.`);
    }
    this.#agent = new Agent({ ca: opts.caPem, keepAlive: true, maxSockets: 8, minVersion: 'TLSv1.2' });
  }

  /**
   * Unseals the card with its PIN, answers a challenge, and keeps the session token.
   * @throws ERR_CARD_FORMAT, ERR_PIN_WRONG, ERR_CARD_KDF_WEAK locally; the device's refusals
   *   (ERR_CHALLENGE, ERR_CARD_*, ERR_LOGIN_THROTTLED…) otherwise.
   */
  async login(card: unknown, pin: string): Promise<LoginReply> {
    const file = parseCardFile(card);
    const contents = await unsealCard(file, pin, {
      minIterations: this.opts.minCardIterations ?? CARD_KDF_ITERATIONS,
    });
    contents.share?.fill(0);
    const { challenge } = await this.post<{ challenge: string }>('/api/login/challenge', {
      cardId: file.cardId,
    });
    const signature = signChallenge(contents.privateKey, Buffer.from(challenge, 'base64')).toString('base64');
    const reply = await this.post<LoginReply>('/api/login', { cardId: file.cardId, challenge, signature });
    this.token = reply.token;
    return reply;
  }

  async logout(): Promise<void> {
    if (!this.token) return;
    try {
      await this.post('/api/logout');
    } finally {
      this.token = null;
    }
  }

  async get<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    return this.json<T>('GET', withQuery(path, query));
  }

  async post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  async put<T>(path: string, body: unknown = {}): Promise<T> {
    return this.json<T>('PUT', path, body);
  }

  async delete<T>(path: string, body?: unknown): Promise<T> {
    return this.json<T>('DELETE', path, body);
  }

  /** A JSON request; a refusal becomes a CofferError with the device's code. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const reply = await this.raw(method, path, body);
    return parseReply<T>(reply);
  }

  /** A request whose answer is a file (an export, a backup, a running log): the bytes, or a CofferError. */
  async download(method: string, path: string, body?: unknown): Promise<RawReply> {
    const reply = await this.raw(method, path, body);
    if (reply.status >= 400) parseReply(reply);
    return reply;
  }

  /** Sends one request and reads the whole answer. Transport failures are ERR_INTERNAL with the cause. */
  raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawReply> {
    const url = new URL(path, this.baseUrl);
    // A Buffer is sent as it is (tests send malformed JSON); anything else as JSON.
    const payload =
      body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (payload) {
      h['content-type'] = 'application/json';
      h['content-length'] = String(payload.length);
    }
    if (this.token) h['authorization'] = `Bearer ${this.token}`;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method,
          headers: h,
          agent: this.#agent,
          ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
          timeout: this.opts.timeoutMs ?? 300_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', (error) => reject(transportError(this.baseUrl, error)));
        },
      );
      req.on('timeout', () => req.destroy(new Error('the request timed out')));
      req.on('error', (error) => reject(transportError(this.baseUrl, error)));
      req.end(payload);
    });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }
}

function withQuery(path: string, query?: Record<string, string | number | boolean | undefined>): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

function parseReply<T>(reply: RawReply): T {
  const text = reply.body.toString('utf8');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new CofferError(
      'ERR_INTERNAL',
      `The management service answered ${reply.status} with something that is not JSON.`,
    );
  }
  if (reply.status >= 400) {
    const e = (json as { error?: { code?: string; message?: string; details?: Record<string, string> } })
      .error;
    const code: ErrorCode = e?.code && isErrorCode(e.code) ? e.code : 'ERR_INTERNAL';
    throw new CofferError(code, e?.message ?? `HTTP ${reply.status}`, e?.details ?? {});
  }
  return json as T;
}

function transportError(base: URL, error: Error & { code?: string }): CofferError {
  const tlsCodes = [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'CERT_SIGNATURE_FAILURE',
  ];
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
    // The device drops connections from addresses off the tool white list before any TLS byte; the
    // client cannot tell that from other resets, so the message says "probably".
    return new CofferError(
      'ERR_NOT_WHITELISTED',
      `The management service at ${base.origin} closed the connection at once: this address is probably not on the tool white list (front panel, Setting → Tool IP White list).`,
      { cause: error.code },
    );
  }
  const hint =
    error.code && tlsCodes.includes(error.code)
      ? ' (the server certificate is not from the pinned device CA, or does not name this address)'
      : '';
  return new CofferError(
    'ERR_INTERNAL',
    `Cannot reach the management service at ${base.origin}: ${error.message}${hint}`,
    {
      cause: error.code ?? 'unknown',
    },
  );
}
