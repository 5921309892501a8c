import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import {
  ALPN_PROTOCOL,
  type AnyCommand,
  commandByName,
  DEFAULT_MAX_FRAME_BYTES,
  decodeBatchItems,
  decodeRequest,
  encodeError,
  encodeFrame,
  type Frame,
  FrameDecoder,
  isProtocolError,
  type WireError,
} from '@coffer/protocol';
import type { TestPki } from './test-pki.js';

/**
 * A crypto service made from the protocol's own codecs, for the SDK's offline tests (STYLE item 8):
 * real TLS with the test PKI, the binary protocol with its size limits, and a handful of operations
 * done with Node's crypto on keys it holds in memory. Knobs let a test delay, withhold, reorder or
 * drop replies, refuse connections, and break the protocol on purpose. Test-only.
 */

/** A refusal a handler throws: it becomes an error frame with the code. */
export class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A handler returns this to send no reply at all (the client's timeout is then tested). */
export const NO_REPLY = Symbol('no reply');

export interface RequestContext {
  readonly command: AnyCommand;
  readonly requestId: number;
  readonly socket: TLSSocket;
  /** The requests this connection has received and not yet answered, this one included. */
  readonly outstanding: number;
}

// biome-ignore lint/suspicious/noExplicitAny: each handler knows its command's request type
export type Handler = (request: any, context: RequestContext) => unknown | Promise<unknown>;

export interface FakeServerOptions {
  pki: TestPki;
  /** The server's certificate and key (default: the PKI's server certificate). */
  certPem?: string;
  keyPem?: string;
  /** ALPN protocols offered (default coffer/1). */
  alpn?: string[];
  /** The largest frame accepted (default 1 MiB). */
  maxFrameBytes?: number;
  /** What `info` tells (default: maxFrameBytes); a lie lets a test see the server's own check. */
  advertisedMaxFrameBytes?: number;
  maxBatchItems?: number;
  /** Decides admission: a WireError refuses the connection (error frame with request id 0, then close). */
  admit?: (socket: TLSSocket) => WireError | undefined;
  /** Replaces or adds handlers by command name. */
  handlers?: Record<string, Handler>;
  /** The port to listen on (default: any free one). */
  port?: number;
  /** Do not ask for a client certificate (default: required, from the PKI's CA). */
  noClientAuth?: boolean;
}

export interface ServiceKeys {
  ec: { index: number; privateKey: KeyObject; publicKey: KeyObject };
  ed25519: { index: number; privateKey: KeyObject; publicKey: KeyObject };
  hmac: { index: number; secret: Buffer };
  aes: { index: number; secret: Buffer };
}

export class FakeServer {
  readonly keys: ServiceKeys;
  /** Every request frame received: command name and request id, in arrival order. */
  readonly received: { command: string; requestId: number }[] = [];
  /** The largest number of unanswered requests one connection had at once. */
  maxOutstanding = 0;
  /** Connections admitted since start. */
  accepted = 0;
  readonly #server: Server;
  readonly #sockets = new Set<TLSSocket>();
  readonly #options: FakeServerOptions;
  readonly #handlers: Record<string, Handler>;
  readonly #maxFrameBytes: number;

  private constructor(server: Server, options: FakeServerOptions) {
    this.#server = server;
    this.#options = options;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ed = generateKeyPairSync('ed25519');
    this.keys = {
      ec: { index: 3, ...ec },
      ed25519: { index: 5, ...ed },
      hmac: { index: 6, secret: randomBytes(32) },
      aes: { index: 1, secret: randomBytes(32) },
    };
    this.#handlers = { ...this.#defaultHandlers(), ...options.handlers };
  }

  static async start(options: FakeServerOptions): Promise<FakeServer> {
    const server = createServer({
      cert: options.certPem ?? options.pki.serverCertPem,
      key: options.keyPem ?? options.pki.serverKeyPem,
      ca: [options.pki.caPem],
      requestCert: !options.noClientAuth,
      rejectUnauthorized: !options.noClientAuth,
      ALPNProtocols: options.alpn ?? [ALPN_PROTOCOL],
      minVersion: 'TLSv1.2',
    });
    const fake = new FakeServer(server, options);
    server.on('secureConnection', (socket) => fake.#accept(socket));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
    return fake;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get address(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.port };
  }

  /** Connections open now. */
  get connections(): number {
    return this.#sockets.size;
  }

  setHandler(name: string, handler: Handler): void {
    this.#handlers[name] = handler;
  }

  /** Cuts every connection at once (as a device that restarts). */
  dropAll(): void {
    for (const s of this.#sockets) s.destroy();
  }

  /** Writes raw bytes to every connection (to break the protocol on purpose). */
  writeRaw(bytes: Buffer): void {
    for (const s of this.#sockets) s.write(bytes);
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: TLSSocket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    const refusal = this.#options.admit?.(socket);
    if (refusal) {
      socket.end(encodeError(0, 0, refusal));
      return;
    }
    this.accepted += 1;
    const decoder = new FrameDecoder({ maxFrameBytes: this.#maxFrameBytes });
    let outstanding = 0;
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (;;) {
        let frame: Frame;
        try {
          const next = decoder.next();
          if (!('frame' in next)) return;
          frame = next.frame;
        } catch (error) {
          if (!isProtocolError(error)) throw error;
          socket.end(encodeError(0, 0, error));
          return;
        }
        outstanding += 1;
        this.maxOutstanding = Math.max(this.maxOutstanding, outstanding);
        void this.#serve(socket, frame, outstanding).finally(() => {
          outstanding -= 1;
        });
      }
    });
  }

  async #serve(socket: TLSSocket, frame: Frame, outstanding: number): Promise<void> {
    let reply: Buffer | undefined;
    try {
      const { command, request } = decodeRequest(frame);
      this.received.push({ command: command.name, requestId: frame.requestId });
      const handler = this.#handlers[command.name];
      if (!handler) throw new Refusal('ERR_UNKNOWN_COMMAND', `The fake server does not do ${command.name}.`);
      const response = await handler(request, { command, requestId: frame.requestId, socket, outstanding });
      if (response === NO_REPLY) return;
      const body = command.response.encode(response);
      try {
        reply = encodeFrame(
          { type: 'response', command: command.code, requestId: frame.requestId, body },
          this.#maxFrameBytes,
        );
      } catch (error) {
        if (!isProtocolError(error)) throw error;
        reply = encodeError(frame.command, frame.requestId, {
          code: 'ERR_FRAME_TOO_LARGE',
          message: error.message,
        });
      }
    } catch (error) {
      if (isProtocolError(error) && error.fatal) {
        socket.end(encodeError(0, 0, error));
        return;
      }
      const wire =
        error instanceof Refusal || isProtocolError(error)
          ? { code: error.code, message: error.message }
          : { code: 'ERR_INTERNAL', message: String(error) };
      reply = encodeError(frame.command, frame.requestId, wire);
    }
    if (!socket.destroyed) socket.write(reply);
  }

  /** Sends a frame bigger than `bytes` to every connection, as a reply to `requestId`. */
  sendOversized(requestId: number, bytes: number): void {
    const ping = commandByName('ping')!;
    const header = Buffer.alloc(12);
    header.writeUInt32BE(bytes - 4, 0);
    header[4] = 1;
    header[5] = 2;
    header.writeUInt16BE(ping.code, 6);
    header.writeUInt32BE(requestId, 8);
    for (const s of this.#sockets) s.write(header);
  }

  #defaultHandlers(): Record<string, Handler> {
    const keys = (): ServiceKeys => this.keys;
    const notFound = () => new Refusal('ERR_KEY_NOT_BOUND', 'Key is not bound to this operator.');
    const handlers: Record<string, Handler> = {
      ping: (r: { data?: Buffer }) => (r.data ? { data: r.data } : {}),
      info: () => ({
        protocolVersion: 1,
        maxFrameBytes: this.#options.advertisedMaxFrameBytes ?? this.#maxFrameBytes,
        maxBatchItems: this.#options.maxBatchItems ?? 1000,
        server: 'coffer-fake/1',
      }),
      random: (r: { length: number }) => ({ data: randomBytes(r.length) }),
      hash: (r: { algorithm: string; data: Buffer }) => {
        if (!['sha256', 'sha384', 'sha512', 'sm3'].includes(r.algorithm))
          throw new Refusal('ERR_ALGORITHM', 'no');
        return { digest: createHash(r.algorithm).update(r.data).digest() };
      },
      mac: (r: { key: number; algorithm: string; data: Buffer }) => {
        if (r.key !== keys().hmac.index) throw notFound();
        if (r.algorithm !== 'hmac-sha256')
          throw new Refusal('ERR_ALGORITHM', 'The key is an HMAC-SHA256 key.');
        return { mac: createHmac('sha256', keys().hmac.secret).update(r.data).digest() };
      },
      'verify-mac': (r: { key: number; data: Buffer; mac: Buffer }) => {
        if (r.key !== keys().hmac.index) throw notFound();
        const mac = createHmac('sha256', keys().hmac.secret)
          .update(r.data)
          .digest()
          .subarray(0, r.mac.length);
        return { valid: r.mac.length >= 8 && timingSafeEqual(mac, r.mac) };
      },
      encrypt: (r: { key: number; mode: string; iv?: Buffer; aad?: Buffer; data: Buffer }) => {
        if (r.key !== keys().aes.index) throw notFound();
        if (r.mode !== 'gcm') throw new Refusal('ERR_ALGORITHM', 'GCM only here.');
        const iv = r.iv ?? randomBytes(12);
        const c = createCipheriv('aes-256-gcm', keys().aes.secret, iv);
        if (r.aad) c.setAAD(r.aad);
        const ciphertext = Buffer.concat([c.update(r.data), c.final()]);
        return { ciphertext, iv, tag: c.getAuthTag() };
      },
      decrypt: (r: { key: number; iv: Buffer; aad?: Buffer; tag: Buffer; data: Buffer }) => {
        if (r.key !== keys().aes.index) throw notFound();
        try {
          const d = createDecipheriv('aes-256-gcm', keys().aes.secret, r.iv);
          if (r.aad) d.setAAD(r.aad);
          d.setAuthTag(r.tag);
          return { plaintext: Buffer.concat([d.update(r.data), d.final()]) };
        } catch {
          throw new Refusal('ERR_CIPHERTEXT', 'The ciphertext does not open.');
        }
      },
      sign: (r: { key: number; algorithm: string; data: Buffer }) => {
        const k = keys();
        if (r.key === k.ec.index && r.algorithm === 'ecdsa-sha256')
          return { signature: nodeSign('sha256', r.data, k.ec.privateKey) };
        if (r.key === k.ed25519.index && r.algorithm === 'ed25519')
          return { signature: nodeSign(null, r.data, k.ed25519.privateKey) };
        if (r.key === k.hmac.index) throw new Refusal('ERR_KEY_USAGE_NOT_ALLOWED', 'The key may not sign.');
        if (r.key === k.ec.index || r.key === k.ed25519.index)
          throw new Refusal('ERR_ALGORITHM', 'Not for this key.');
        throw notFound();
      },
      verify: (r: {
        key?: number;
        publicKey?: Buffer;
        algorithm: string;
        data: Buffer;
        signature: Buffer;
      }) => {
        const k = keys();
        const pub =
          r.publicKey !== undefined
            ? createPublicKey(
                r.publicKey.toString('latin1').includes('-----BEGIN')
                  ? r.publicKey
                  : { key: r.publicKey, format: 'der', type: 'spki' },
              )
            : r.key === k.ec.index
              ? k.ec.publicKey
              : r.key === k.ed25519.index
                ? k.ed25519.publicKey
                : undefined;
        if (!pub) throw notFound();
        return { valid: nodeVerify(r.algorithm === 'ed25519' ? null : 'sha256', r.data, pub, r.signature) };
      },
      'public-key': (r: { key: number }) => {
        const k = keys();
        const pub =
          r.key === k.ec.index ? k.ec.publicKey : r.key === k.ed25519.index ? k.ed25519.publicKey : undefined;
        if (!pub) throw notFound();
        return { publicKey: pub.export({ format: 'pem', type: 'spki' }).toString() };
      },
      'key-info': (r: { key: number }) => {
        const info = keyInfos(keys()).find((k) => k.index === r.key);
        if (!info) throw notFound();
        return info;
      },
      'list-keys': (r: { offset?: number; limit?: number }) => {
        const all = keyInfos(keys());
        const offset = r.offset ?? 0;
        return { total: all.length, keys: all.slice(offset, offset + (r.limit ?? 100)) };
      },
      batch: async (r: { command: number; items: Buffer[] }, context: RequestContext) => {
        const { command, items } = decodeBatchItems(r);
        const handler = this.#handlers[command.name]!;
        const results = [];
        for (const item of items) {
          if ('error' in item) {
            results.push({ errorCode: item.error.code, errorMessage: item.error.message });
            continue;
          }
          try {
            const response = await handler(item.request, { ...context, command });
            results.push({ body: command.response.encode(response) });
          } catch (error) {
            const e = error as Refusal;
            results.push({ errorCode: e.code ?? 'ERR_INTERNAL', errorMessage: e.message });
          }
        }
        return { results };
      },
    };
    return handlers;
  }
}

function keyInfos(k: ServiceKeys) {
  const base = {
    status: 'normal' as const,
    description: 'fake',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2027-01-01T00:00:00.000Z',
  };
  return [
    {
      ...base,
      index: k.aes.index,
      type: 'AES-256',
      keyClass: 'symmetric' as const,
      usage: ['encrypt', 'decrypt'] as const,
    },
    {
      ...base,
      index: k.ec.index,
      type: 'EC-P256',
      keyClass: 'asymmetric' as const,
      usage: ['sign', 'verify'] as const,
      publicKey: k.ec.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    },
    {
      ...base,
      index: k.ed25519.index,
      type: 'Ed25519',
      keyClass: 'asymmetric' as const,
      usage: ['sign', 'verify'] as const,
      publicKey: k.ed25519.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    },
    {
      ...base,
      index: k.hmac.index,
      type: 'HMAC-SHA256',
      keyClass: 'symmetric' as const,
      usage: ['mac'] as const,
    },
  ].map((i) => ({ ...i, usage: [...i.usage] }));
}
