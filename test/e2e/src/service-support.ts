import { Agent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { AdminClient } from '@coffer/cli';
import { openLicence } from '@coffer/core';
import {
  ALPN_PROTOCOL,
  type AnyCommand,
  commandByName,
  decodeReply,
  ERROR_BODY,
  encodeRequest,
  type Frame,
  FrameDecoder,
  type RequestOf,
  type ResponseOf,
} from '@coffer/protocol';
import { type ServingDevice, startServingDevice } from './management-support.js';

/*
 * What the crypto-service end-to-end tests share: a serving device with operators, licences and
 * keys made through the management API, a minimal client of the binary protocol (the SDK is written
 * separately; these tests do not depend on it) and a REST client, both over real mutual TLS.
 */

export const LICENCE_PIN = '12AB34CD';

export interface Licence {
  operator: string;
  serial: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  maxConnections: number;
}

export interface ConnectOptions {
  localAddress?: string;
  alpn?: string[];
  /** Connect without a client certificate. */
  anonymous?: boolean;
}

/** A refusal from the service (error frame or REST error body). */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * A minimal client of the binary protocol (docs/protocol.md): frames out, replies matched by request
 * id, connection-level error frames (request id 0) kept in `connectionError`.
 */
export class ServiceClient {
  readonly socket: TLSSocket;
  readonly #decoder = new FrameDecoder();
  readonly #pending = new Map<
    number,
    { command: AnyCommand; resolve(v: unknown): void; reject(e: unknown): void }
  >();
  readonly #unsolicited: Frame[] = [];
  #waiters: ((frame: Frame) => void)[] = [];
  #nextId = 1;
  /** The first error frame with request id 0 (why the server closed), if any. */
  connectionError: { code: string; message: string } | null = null;
  readonly closed: Promise<void>;
  /** Every frame received, in order (for tests of ordering). */
  readonly received: Frame[] = [];

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (;;) {
        let result: ReturnType<FrameDecoder['next']>;
        try {
          result = this.#decoder.next();
        } catch {
          socket.destroy();
          return;
        }
        if ('need' in result) break;
        this.#onFrame(result.frame);
      }
    });
    socket.on('close', () => {
      const error = new ServiceError(
        this.connectionError?.code ?? 'ERR_CLOSED',
        this.connectionError?.message ?? 'the connection closed',
      );
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    });
  }

  static async connect(
    address: { host: string; port: number },
    licence: Licence,
    options: ConnectOptions = {},
  ): Promise<ServiceClient> {
    const socket = tlsConnect({
      host: address.host,
      port: address.port,
      ca: licence.caPem,
      ...(options.anonymous ? {} : { cert: licence.certPem, key: licence.keyPem }),
      ALPNProtocols: options.alpn ?? [ALPN_PROTOCOL],
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const client = new ServiceClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return client;
  }

  #onFrame(frame: Frame): void {
    this.received.push(frame);
    if (frame.type === 'error' && frame.requestId === 0 && !this.connectionError) {
      this.connectionError = ERROR_BODY.decode(frame.body);
    }
    const pending = this.#pending.get(frame.requestId);
    if (pending && frame.requestId !== 0) {
      this.#pending.delete(frame.requestId);
      try {
        const reply = decodeReply(pending.command, frame);
        if (reply.ok) pending.resolve(reply.response);
        else pending.reject(new ServiceError(reply.error.code, reply.error.message));
      } catch (error) {
        pending.reject(error);
      }
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(frame);
    else this.#unsolicited.push(frame);
  }

  /** Sends a request and resolves with its response (rejects with a ServiceError for an error frame). */
  request<C extends AnyCommand>(command: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(encodeRequest(command, id, request));
    });
  }

  /** The same by command name (`sign`, `verify-mac`, …). */
  call(name: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const command = commandByName(name);
    if (!command) throw new Error(`no command ${name}`);
    return this.request(command, request as never) as Promise<Record<string, unknown>>;
  }

  /** Writes raw bytes (bad-frame tests). */
  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next frame that answered no pending request (raw tests), or null if the connection closes first. */
  nextFrame(timeoutMs = 5000): Promise<Frame | null> {
    const queued = this.#unsolicited.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      const waiter = (frame: Frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
      this.#waiters.push(waiter);
      void this.closed.then(() => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(null);
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The code a connection was refused or cut with: waits for the server to close it. */
export async function closedWith(client: ServiceClient, timeoutMs = 5000): Promise<string | null> {
  await Promise.race([client.closed, sleep(timeoutMs)]);
  return client.socket.destroyed || client.socket.readableEnded
    ? (client.connectionError?.code ?? 'closed')
    : null;
}

export interface RestReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** A REST client of the crypto service: HTTPS with the licence's certificate, keep-alive. */
export class RestClient {
  readonly agent: Agent;
  constructor(
    readonly address: { host: string; port: number },
    licence: Licence,
    readonly options: ConnectOptions & { keepAlive?: boolean } = {},
  ) {
    this.agent = new Agent({
      ca: licence.caPem,
      ...(options.anonymous ? {} : { cert: licence.certPem, key: licence.keyPem }),
      keepAlive: options.keepAlive ?? true,
      maxSockets: 4,
    });
  }

  call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<RestReply> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = httpsRequest(
        {
          host: this.address.host,
          port: this.address.port,
          method,
          path,
          agent: this.agent,
          ...(this.options.localAddress ? { localAddress: this.options.localAddress } : {}),
          headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              parsed = { text };
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  /** POST and return the body, or throw a ServiceError with the refusal's code. */
  async post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    const reply = await this.call('POST', path, body);
    if (reply.status !== 200) throw restError(reply);
    return reply.body as T;
  }

  async get<T = Record<string, unknown>>(path: string): Promise<T> {
    const reply = await this.call('GET', path);
    if (reply.status !== 200) throw restError(reply);
    return reply.body as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

function restError(reply: RestReply): ServiceError {
  const error = (reply.body['error'] ?? {}) as { code?: string; message?: string };
  return new ServiceError(error.code ?? `HTTP_${reply.status}`, error.message ?? JSON.stringify(reply.body));
}

export interface KeyView {
  index: number;
  type: string;
  usage: string[];
  publicKey: string | null;
  checkValue: string | null;
  status: string;
}

/** A serving device set up for the crypto service: System (B1) and Safe (C1) Managers logged in. */
export interface ServiceDevice {
  dev: ServingDevice;
  b1: AdminClient;
  c1: AdminClient;
  /** Where the crypto service listens. */
  address: { host: string; port: number };
  /** Adds the operator (if new), whitelists it for `whitelist` IPs (default 127.0.0.1) and downloads a licence. */
  licence(operator: string, opts?: { maxConnections?: number; whitelist?: string[] }): Promise<Licence>;
  /** Generates a key inside the device and binds it to `operators`. */
  addKey(
    type: string,
    operators: string[],
    opts?: { usage?: string[]; validityDays?: number },
  ): Promise<KeyView>;
  /** Imports a Coffer import list and binds every key to `operators`; returns the indexes in order. */
  importKeys(entries: Record<string, unknown>[], operators: string[]): Promise<number[]>;
  bind(index: number, operators: string[]): Promise<void>;
  connect(licence: Licence, opts?: ConnectOptions): Promise<ServiceClient>;
  rest(licence: Licence, opts?: ConnectOptions & { keepAlive?: boolean }): RestClient;
  close(): Promise<void>;
}

async function waitJob<R>(
  client: AdminClient,
  jobId: string,
): Promise<{ status: string; result: R; error: unknown }> {
  for (;;) {
    const job = await client.get<{ status: string; result: R; error: unknown }>(`/api/jobs/${jobId}`);
    if (job.status !== 'running') return job;
    await sleep(20);
  }
}

export async function startServiceDevice(
  opts: { extra?: Parameters<typeof startServingDevice>[0] } = {},
): Promise<ServiceDevice> {
  const dev = await startServingDevice(opts.extra);
  const closers: (() => void)[] = [];
  try {
    const b1 = await dev.admin('B1');
    const c1 = await dev.admin('C1');
    const address = dev.daemon.crypto?.address;
    if (!address) throw new Error('the crypto service did not start');
    const operators = new Set<string>();
    const whitelisted = new Set<string>();
    const self: ServiceDevice = {
      dev,
      b1,
      c1,
      address,
      async licence(operator, o = {}) {
        if (!operators.has(operator)) {
          await b1.post('/api/operators', { name: operator, description: 'service test' });
          operators.add(operator);
        }
        for (const ip of o.whitelist ?? ['127.0.0.1']) {
          if (whitelisted.has(`${ip}/${operator}`)) continue;
          await b1.post('/api/whitelist', { ip, operators: [operator] });
          whitelisted.add(`${ip}/${operator}`);
        }
        const file = await b1.post(`/api/operators/${operator}/licence`, {
          pin: LICENCE_PIN,
          pinConfirm: LICENCE_PIN,
          maxConnections: o.maxConnections ?? 64,
        });
        const opened = await openLicence(file, LICENCE_PIN);
        return {
          operator,
          serial: opened.serial,
          caPem: opened.caPem,
          certPem: opened.certPem,
          keyPem: opened.keyPem,
          maxConnections: opened.maxConnections,
        };
      },
      async addKey(type, ops, o = {}) {
        const key = await c1.post<KeyView>('/api/keys', {
          type,
          description: `${type} for the service tests`,
          ...(o.usage ? { usage: o.usage } : {}),
          ...(o.validityDays ? { validityDays: o.validityDays } : {}),
        });
        if (ops.length > 0) await c1.post(`/api/keys/${key.index}/bind`, { operators: ops });
        return key;
      },
      async importKeys(entries, ops) {
        const list = { format: 'coffer-key-import', version: 1, keys: entries };
        const started = await c1.post<{ jobId: string }>('/api/keys/import', {
          content: Buffer.from(JSON.stringify(list)).toString('base64'),
          fileName: 'service-test.json',
        });
        const job = await waitJob<{ entries: { index: number | null; outcome: string; message: string }[] }>(
          c1,
          started.jobId,
        );
        if (job.status !== 'done')
          throw new Error(`import failed: ${JSON.stringify(job.error ?? job.result)}`);
        const indexes = job.result.entries.map((e) => {
          if (e.index === null) throw new Error(`an entry was not imported: ${e.message}`);
          return e.index;
        });
        if (ops.length > 0)
          for (const index of indexes) await c1.post(`/api/keys/${index}/bind`, { operators: ops });
        return indexes;
      },
      async bind(index, ops) {
        await c1.post(`/api/keys/${index}/bind`, { operators: ops });
      },
      async connect(licence, o) {
        const client = await ServiceClient.connect(address, licence, o);
        closers.push(() => client.close());
        return client;
      },
      rest(licence, o) {
        const client = new RestClient(address, licence, o);
        closers.push(() => client.close());
        return client;
      },
      async close() {
        for (const close of closers) close();
        await dev.close();
      },
    };
    return self;
  } catch (error) {
    await dev.close();
    throw error;
  }
}

/** A loopback address that is not whitelisted: Linux routes all of 127/8 to loopback, so a client can connect from it. */
export const SECOND_LOOPBACK = '127.0.0.2';
