import { isIP } from 'node:net';
import { createSecureContext, type SecureContext, type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  ALPN_PROTOCOL,
  type AnyCommand,
  DEFAULT_MAX_FRAME_BYTES,
  decodeReply,
  ERROR_BODY,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_TYPES,
  type Frame,
  FrameDecoder,
  INFO,
  isProtocolError,
  PING,
  PROTOCOL_VERSION,
  type ProtocolError,
} from '@coffer/protocol';
import {
  CofferConnectionError,
  CofferProtocolError,
  CofferRequestError,
  type CofferSdkError,
  CofferServiceError,
  CofferTimeoutError,
} from './errors.js';
import type { OpenedLicence } from './licence.js';

/** A device's crypto-service address. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** What the server told in `info` when the connection opened. */
export interface ServerInfo {
  readonly protocolVersion: number;
  readonly maxFrameBytes: number;
  readonly maxBatchItems: number;
  readonly server: string;
}

/** One request on its way: kept by the pool until answered, so that it can be resent elsewhere. */
export interface Pending {
  readonly command: AnyCommand;
  /** The encoded request body (the frame is built per connection: the request id differs). */
  readonly body: Buffer;
  /** `Date.now()` after which the request fails with ERR_TIMEOUT. */
  readonly deadline: number;
  /** How many connections it has been sent on. */
  attempts: number;
  /** False for the SDK's own pings: never resent on another connection. */
  readonly resend?: boolean;
  resolve(response: unknown): void;
  reject(error: Error): void;
}

export interface ConnectionOptions {
  readonly address: Address;
  readonly licence: OpenedLicence;
  /** The largest frame this side accepts, and sends unless the server's limit is lower. */
  readonly maxFrameBytes: number;
  readonly connectTimeoutMs: number;
  /** TCP keep-alive initial delay (the protocol ping is the pool's). */
  readonly keepAliveMs: number;
  /** Called once when the connection ends after it opened: the pool resends or fails `pending`. */
  readonly onClose: (connection: Connection, error: CofferSdkError, pending: Pending[]) => void;
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_OSSL)/;

/**
 * One TLS context per opened licence (its certificate, key and the pinned CA as the only trust
 * anchor), shared by every connection made with it: parsing them once, not per connection, matters
 * for clients that hold thousands of connections.
 */
const contexts = new WeakMap<OpenedLicence, SecureContext>();
function secureContextOf(licence: OpenedLicence): SecureContext {
  let context = contexts.get(licence);
  if (!context) {
    context = createSecureContext({
      ca: [licence.caPem],
      cert: licence.certPem,
      key: licence.keyPem,
      minVersion: 'TLSv1.2',
    });
    contexts.set(licence, context);
  }
  return context;
}

function describeAddress(a: Address): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** A socket error as the SDK reports it: certificate and handshake failures are ERR_TLS. */
function socketError(address: Address, error: NodeJS.ErrnoException, lost: boolean): CofferConnectionError {
  const code = error.code ?? '';
  const where = describeAddress(address);
  if (TLS_CODES.test(code) || /alert|certificate|handshake/i.test(error.message))
    return new CofferConnectionError('ERR_TLS', `TLS with ${where} failed: ${error.message}`, {
      cause: error,
    });
  return new CofferConnectionError(
    lost ? 'ERR_CONNECTION_LOST' : 'ERR_CONNECT',
    lost
      ? `The connection to ${where} broke: ${error.message}`
      : `Cannot connect to ${where}: ${error.message}`,
    { cause: error },
  );
}

function protocolError(error: ProtocolError): CofferProtocolError {
  return new CofferProtocolError(error.code, `The server sent a bad reply: ${error.message}`);
}

/**
 * One TLS connection speaking the binary protocol (docs/protocol.md): many requests in flight,
 * matched to their replies by request id whatever the order; frames written in one piece per tick;
 * frames cut from the byte stream by the protocol's decoder with the local size limit.
 */
export class Connection {
  readonly address: Address;
  readonly info: ServerInfo;
  readonly openedAt = Date.now();
  /** `Date.now()` of the last frame received (the pool pings a connection idle for too long). */
  lastReceived = Date.now();
  /** Set while a keep-alive ping is unanswered. */
  pinging = false;
  readonly #socket: TLSSocket;
  readonly #decoder: FrameDecoder;
  readonly #pending = new Map<number, Pending>();
  readonly #sendLimit: number;
  readonly #onClose: ConnectionOptions['onClose'];
  #nextId = 1;
  #out: Buffer[] = [];
  #flushQueued = false;
  #closed = false;

  private constructor(
    socket: TLSSocket,
    decoder: FrameDecoder,
    options: ConnectionOptions,
    info: ServerInfo,
  ) {
    this.#socket = socket;
    this.#decoder = decoder;
    this.address = options.address;
    this.info = info;
    this.#sendLimit = Math.min(options.maxFrameBytes, info.maxFrameBytes);
    this.#onClose = options.onClose;
  }

  /** Requests sent on this connection and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Opens a connection: TCP, TLS with the licence's certificate and the device CA pinned (the
   * server's certificate must name the host), ALPN `coffer/1`, then `info` — whose answer is how
   * the client learns it was admitted (a refusal arrives as an error frame with request id 0).
   *
   * @throws CofferConnectionError ERR_CONNECT / ERR_TLS; CofferServiceError for a refusal
   *   (ERR_IP_NOT_ALLOWED, ERR_LICENCE_SUPERSEDED, ERR_CONNECTION_LIMIT, …).
   */
  static open(options: ConnectionOptions): Promise<Connection> {
    const { address, licence } = options;
    const where = describeAddress(address);
    return new Promise<Connection>((resolve, reject) => {
      const decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes });
      const socket = tlsConnect({
        host: address.host,
        port: address.port,
        // SNI only for names; Node checks the certificate against the host, IP or name, either way.
        ...(isIP(address.host) ? {} : { servername: address.host }),
        secureContext: secureContextOf(licence),
        ALPNProtocols: [ALPN_PROTOCOL],
        rejectUnauthorized: true,
      });
      let settled = false;
      const fail = (error: CofferSdkError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new CofferConnectionError('ERR_CONNECT', `Connecting to ${where} timed out.`)),
        options.connectTimeoutMs,
      );
      socket.setNoDelay(true);
      socket.setKeepAlive(true, options.keepAliveMs);
      socket.once('error', (error) => fail(socketError(address, error, false)));
      socket.once('close', () =>
        fail(
          new CofferConnectionError(
            'ERR_CONNECT',
            `${where} closed the connection before admitting this client.`,
          ),
        ),
      );
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== ALPN_PROTOCOL) {
          fail(
            new CofferConnectionError(
              'ERR_TLS',
              `${where} does not speak ${ALPN_PROTOCOL} (ALPN: ${socket.alpnProtocol || 'none'}).`,
            ),
          );
          return;
        }
        socket.write(
          encodeFrame({ type: 'request', command: INFO.code, requestId: 1, body: INFO.request.encode({}) }),
        );
      });
      const onAdmission = (chunk: Buffer) => {
        decoder.push(chunk);
        let frame: Frame;
        try {
          const next = decoder.next();
          if (!('frame' in next)) return;
          frame = next.frame;
        } catch (error) {
          if (isProtocolError(error)) return fail(protocolError(error));
          throw error;
        }
        if (frame.type === 'error' && frame.requestId === 0) return fail(connectionRefusal(frame));
        if (frame.requestId !== 1)
          return fail(new CofferProtocolError('ERR_FIELD', `${where} answered a request it was not sent.`));
        let reply: ReturnType<typeof decodeReply<ServerInfo>>;
        try {
          reply = decodeReply(INFO, frame);
        } catch (error) {
          if (isProtocolError(error)) return fail(protocolError(error));
          throw error;
        }
        if (!reply.ok) return fail(new CofferServiceError(reply.error.code, reply.error.message));
        if (reply.response.protocolVersion !== 1)
          return fail(
            new CofferConnectionError(
              'ERR_CONNECT',
              `${where} speaks protocol version ${reply.response.protocolVersion}.`,
            ),
          );
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        socket.off('data', onAdmission);
        const connection = new Connection(socket, decoder, options, reply.response);
        socket.on('data', (data: Buffer) => connection.#receive(data));
        socket.on('error', (error) => connection.destroy(socketError(address, error, true)));
        socket.on('close', () =>
          connection.destroy(
            new CofferConnectionError('ERR_CONNECTION_LOST', `${where} closed the connection.`),
          ),
        );
        resolve(connection);
        // Frames that came with the info reply.
        connection.#receive(Buffer.alloc(0));
      };
      socket.on('data', onAdmission);
    });
  }

  /**
   * Sends a request on this connection.
   * @throws CofferRequestError ERR_FRAME_TOO_LARGE when the frame would exceed the smaller of the
   *   two sides' limits (nothing is sent).
   */
  send(pending: Pending): void {
    const total = FRAME_HEADER_BYTES + pending.body.length;
    if (total > this.#sendLimit) {
      throw new CofferRequestError(
        'ERR_FRAME_TOO_LARGE',
        `The request frame would be ${total} bytes; the limit is ${this.#sendLimit}.`,
      );
    }
    const requestId = this.#allocateId();
    // The header alone (the body is already encoded): one copy of the body, at flush time.
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(total - 4, 0);
    header[4] = PROTOCOL_VERSION;
    header[5] = FRAME_TYPES.request;
    header.writeUInt16BE(pending.command.code, 6);
    header.writeUInt32BE(requestId, 8);
    pending.attempts += 1;
    this.#pending.set(requestId, pending);
    this.#out.push(header, pending.body);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      // After every promise continuation of this turn has run: one write for all of them.
      process.nextTick(() => this.#flush());
    }
  }

  /** Sends a keep-alive ping (the pool calls it on an idle connection). */
  ping(timeoutMs: number): void {
    if (this.#closed || this.pinging) return;
    this.pinging = true;
    const onDone = () => {
      this.pinging = false;
    };
    this.send({
      command: PING,
      body: PING.request.encode({}),
      deadline: Date.now() + timeoutMs,
      attempts: 0,
      resend: false,
      resolve: onDone,
      reject: (error) => {
        onDone();
        if (error instanceof CofferTimeoutError)
          this.destroy(
            new CofferConnectionError(
              'ERR_CONNECTION_LOST',
              `${describeAddress(this.address)} did not answer a ping.`,
            ),
          );
      },
    });
  }

  /** Fails the requests whose deadline has passed (the pool calls it on its tick). */
  expire(now: number): void {
    for (const [id, pending] of this.#pending) {
      if (pending.deadline > now) continue;
      this.#pending.delete(id);
      pending.reject(new CofferTimeoutError(`No answer from ${describeAddress(this.address)} in time.`));
    }
  }

  /** Ends the connection once what is queued is written. */
  end(): void {
    if (this.#closed) return;
    this.#flush();
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  /**
   * Closes the connection at once; the pool gets the requests still in flight with `error` (it
   * resends them, or fails them with it).
   */
  destroy(error: CofferSdkError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#out = [];
    this.#onClose(this, error, pending);
  }

  #allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id >= 0xffff_ffff ? 1 : id + 1;
      if (!this.#pending.has(id)) return id;
    }
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#closed || this.#out.length === 0) return;
    const data = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out);
    this.#out = [];
    this.#socket.write(data);
  }

  #receive(chunk: Buffer): void {
    if (this.#closed) return;
    this.lastReceived = Date.now();
    this.#decoder.push(chunk);
    for (;;) {
      let frame: Frame;
      try {
        const next = this.#decoder.next();
        if (!('frame' in next)) return;
        frame = next.frame;
      } catch (error) {
        if (!isProtocolError(error)) throw error;
        this.destroy(protocolError(error));
        return;
      }
      if (frame.requestId === 0 && frame.type === 'error') {
        this.#refused(frame);
        return;
      }
      this.#answer(frame);
      if (this.#closed) return;
    }
  }

  #answer(frame: Frame): void {
    if (frame.type === 'request') {
      this.destroy(new CofferProtocolError('ERR_FRAME_TYPE', 'The server sent a request frame.'));
      return;
    }
    const pending = this.#pending.get(frame.requestId);
    // An answer to a request that timed out: nobody waits for it any more.
    if (!pending) return;
    this.#pending.delete(frame.requestId);
    try {
      const reply = decodeReply(pending.command, frame);
      if (reply.ok) pending.resolve(reply.response);
      else pending.reject(new CofferServiceError(reply.error.code, reply.error.message));
    } catch (error) {
      if (isProtocolError(error)) pending.reject(protocolError(error));
      else pending.reject(error as Error);
    }
  }

  /** An error frame with request id 0: the server refused or cut the connection and closes it. */
  #refused(frame: Frame): void {
    this.destroy(connectionRefusal(frame));
  }
}

function connectionRefusal(frame: Frame): CofferSdkError {
  try {
    const { code, message } = ERROR_BODY.decode(frame.body);
    return new CofferServiceError(code, message, { connectionLevel: true });
  } catch (error) {
    if (isProtocolError(error)) return protocolError(error);
    throw error;
  }
}

export { DEFAULT_MAX_FRAME_BYTES, describeAddress };
