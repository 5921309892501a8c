import { constants, createHash, createPrivateKey } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import {
  type Device,
  type ErrorCode,
  isCofferError,
  type RunningLog,
  type ServiceListener,
} from '@coffer/core';
import { ALPN_PROTOCOL, DEFAULT_MAX_FRAME_BYTES } from '@coffer/protocol';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { issueServerCertificate, loadDeviceCa } from '../daemon/device-ca.js';
import { HTTP_STATUS } from '../http/error-status.js';
import { type Admission, checkLicence, checkWhitelist, type PresentedCertificate } from './admission.js';
import { BinaryConnection, connectionErrorFrame, endWithFrame } from './binary-connection.js';
import { Dispatcher, type ServiceSession, type WireError } from './dispatcher.js';
import { KeyAccess } from './key-access.js';
import { buildServiceRestApp } from './rest-app.js';
import { ServiceAudit } from './service-audit.js';
import type { ServiceEvents } from './service-events.js';
import { WorkerPool } from './worker-pool.js';

export interface CryptoServiceListenerOptions {
  /** The running log (pino's surface): refusals, failures, start and stop. */
  log?: RunningLog & Partial<FastifyBaseLogger>;
  /** Change notices from the management service (cuts and key changes bite at once instead of within `recheckMs`). */
  events?: ServiceEvents;
  /** Crypto worker threads; `os.availableParallelism()` by default. */
  workers?: number;
  /** Largest frame accepted and sent (docs/protocol.md §2); 1 MiB by default. */
  maxFrameBytes?: number;
  /** Requests one binary connection may have in flight before the server stops reading it; 1024 by default. */
  maxInFlight?: number;
  /** How often live connections are checked against the store (licence, operator, whitelist); 500 ms by default. */
  recheckMs?: number;
  /** How long a key's record and bindings are trusted before re-reading; 500 ms by default. */
  keyTtlMs?: number;
  /** TCP connections at once, admitted or not; 20,000 by default. */
  maxConnections?: number;
  /** Validity of the TLS certificate issued at each start, in days. */
  certValidityDays?: number;
  /** Called once listening. */
  onListening?: (info: { host: string; port: number }) => void;
}

/** One admitted connection. */
interface LiveSession extends ServiceSession {
  readonly serial: string;
  readonly fingerprint: string;
  readonly protocol: 'coffer/1' | 'http/1.1';
  readonly connectedAt: number;
  readonly socket: TLSSocket;
  binary: BinaryConnection | null;
  /** Why the device ended it, when it did. */
  cut: WireError | null;
  /** Key refusals counted but not written one by one (rate limit). */
  unlogged: number;
}

interface Running {
  readonly device: Device;
  readonly server: TlsServer;
  readonly http: HttpServer;
  readonly app: FastifyInstance;
  readonly pool: WorkerPool;
  readonly keys: KeyAccess;
  readonly dispatcher: Dispatcher;
  readonly audit: ServiceAudit;
  readonly sockets: Set<Socket>;
  readonly sessions: Map<number, LiveSession>;
  readonly byOperator: Map<string, Set<LiveSession>>;
  readonly bySocket: WeakMap<object, LiveSession>;
  readonly host: string;
  readonly port: number;
  timer: NodeJS.Timeout | null;
  unsubscribe: (() => void) | null;
  rechecking: boolean;
  recheckAgain: boolean;
  stopping: boolean;
  admitted: number;
  refused: number;
}

/** TLS 1.3, and for TLS 1.2 only ECDHE with AEAD ciphers (the certificate is ECDSA P-256). */
const CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
].join(':');

const STOPPED: WireError = { code: 'ERR_SERVICE_STOPPED', message: 'The crypto service has stopped.' };

/**
 * The crypto service on A-Net1 (manual §2, §5; DESIGN §5): one TLS port, mutually authenticated with
 * the device CA, speaking the binary protocol (ALPN `coffer/1`) or the REST API (ALPN `http/1.1`,
 * or no ALPN). A certificate issued by the device CA for the A-Net1 address (and `localhost`) is
 * made at each start.
 *
 * Each connection is admitted on `secureConnection` by the checks of `admission.ts` (licence,
 * operator, whitelist) and the licence's connection limit; a refusal reaches the client with its
 * code (binary: an error frame for request 0, then close; REST: a 403 JSON body, then close) and is
 * an operator-log entry. Admitted connections are checked again every `recheckMs`, and at once when
 * the management service reports a change (`events`): an operator deleted, its licence re-issued or
 * its whitelist entry removed loses its connections within that time. Stopping the service closes
 * every connection (binary clients are told ERR_SERVICE_STOPPED), ends the crypto workers and
 * forgets every opened key.
 */
export class CryptoServiceListener implements ServiceListener {
  readonly name = 'crypto-service';
  readonly network = 'aNet1' as const;
  readonly #opts: CryptoServiceListenerOptions;
  readonly #maxFrameBytes: number;
  #run: Running | null = null;
  #nextSessionId = 1;

  constructor(opts: CryptoServiceListenerOptions = {}) {
    this.#opts = opts;
    this.#maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Where the service listens while it runs, else null. */
  get address(): { host: string; port: number } | null {
    return this.#run ? { host: this.#run.host, port: this.#run.port } : null;
  }

  /** Counters while the service runs: connections, requests per command, crypto workers. */
  stats(): {
    connections: number;
    admitted: number;
    refused: number;
    keysOpen: number;
    workers: number[];
    workerJobs: number;
    commands: Record<string, { requests: number; errors: number }>;
  } | null {
    const run = this.#run;
    if (!run) return null;
    return {
      connections: run.sessions.size,
      admitted: run.admitted,
      refused: run.refused,
      keysOpen: run.keys.size,
      workers: run.pool.load,
      workerJobs: run.pool.completed,
      commands: run.dispatcher.counts(),
    };
  }

  async start(address: { ip: string; port: number }, device: Device): Promise<{ port: number }> {
    if (this.#run) throw new Error('the crypto service listener is already started');
    const { caPem, ...tls } = await this.#serverCertificate(device, address.ip);
    const info = await device.deviceInfo().catch(() => null);
    const server = `coffer/${info?.softwareVersion ?? '0.0.0'}`;
    const log = this.#opts.log;

    const pool = new WorkerPool({
      ...(this.#opts.workers ? { size: this.#opts.workers } : {}),
      onWorkerError: (error) => log?.error({ err: String(error) }, 'crypto service: a crypto worker failed'),
    });
    try {
      await pool.ready();
    } catch (error) {
      await pool.close();
      throw error;
    }
    const keys = new KeyAccess({
      store: () => device.store,
      keyring: () => device.keyring(),
      now: () => device.clock.now(),
      ...(this.#opts.keyTtlMs !== undefined ? { ttlMs: this.#opts.keyTtlMs } : {}),
      forget: (id) => pool.forget(id),
      onBrokenBinding: (index, operator) =>
        log?.error(
          { index, operator },
          'crypto service: a key binding fails its integrity check; it is ignored',
        ),
    });
    const audit = new ServiceAudit({ audit: () => device.auditLog, log });
    const dispatcher = new Dispatcher({
      keys,
      pool,
      maxFrameBytes: this.#maxFrameBytes,
      server,
      onKeyRefusal: (session, command, index, error) => {
        const written = audit.recordLimited(`key|${session.id}|${error.code}|${index}`, {
          account: session.operator,
          clientIp: session.ip,
          businessType: 'use',
          result: 'failure',
          content: `${command};Key index number:${index}`,
          details: `${error.code}: ${error.message}`,
        });
        if (!written) (session as LiveSession).unlogged += 1;
      },
      onInternalError: (session, command, error) =>
        log?.error(
          { err: error instanceof Error ? error.stack : String(error), command, operator: session.operator },
          'crypto service: a request failed unexpectedly',
        ),
    });

    const http = createHttpServer();
    http.headersTimeout = 15_000;
    http.requestTimeout = 60_000;
    http.keepAliveTimeout = 5_000;
    const bySocket = new WeakMap<object, LiveSession>();
    let app: FastifyInstance;
    try {
      app = await buildServiceRestApp({
        dispatcher,
        sessionOf: (request) => bySocket.get(request.socket) ?? null,
        cutReason: (request) => {
          const cut = bySocket.get(request.socket)?.cut;
          return cut ? { code: cut.code as ErrorCode, message: cut.message } : null;
        },
        serverFactory: (handler) => {
          http.on('request', handler);
          return http;
        },
      });
    } catch (error) {
      await pool.close();
      throw error;
    }

    const tlsServer = createTlsServer({
      ...tls,
      ca: [caPem],
      requestCert: true,
      // Verified here, then checked on `secureConnection`, so that a refusal can say why.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ciphers: CIPHERS,
      honorCipherOrder: true,
      ALPNProtocols: [ALPN_PROTOCOL, 'http/1.1'],
      handshakeTimeout: 10_000,
      // Replies are small and written in bursts already: Nagle's delay only adds latency.
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
      // No resumption: every connection presents its certificate afresh.
      secureOptions: constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION,
    });
    tlsServer.maxConnections = this.#opts.maxConnections ?? 20_000;
    const sockets = new Set<Socket>();
    tlsServer.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    tlsServer.on('tlsClientError', (_error, socket) => socket.destroy());

    try {
      await new Promise<void>((resolve, reject) => {
        tlsServer.once('error', reject);
        tlsServer.listen({ host: address.ip, port: address.port, exclusive: true }, () => {
          tlsServer.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await app.close();
      await pool.close();
      throw error;
    }
    const bound = tlsServer.address();
    const port = typeof bound === 'object' && bound ? bound.port : address.port;
    const run: Running = {
      device,
      server: tlsServer,
      http,
      app,
      pool,
      keys,
      dispatcher,
      audit,
      sockets,
      sessions: new Map(),
      byOperator: new Map(),
      bySocket,
      host: address.ip,
      port,
      timer: null,
      unsubscribe: null,
      rechecking: false,
      recheckAgain: false,
      stopping: false,
      admitted: 0,
      refused: 0,
    };
    tlsServer.on('secureConnection', (socket: TLSSocket) => {
      this.#admit(run, socket).catch((error) => {
        log?.error({ err: String(error) }, 'crypto service: admission failed');
        socket.destroy();
      });
    });
    run.timer = setInterval(() => void this.#recheck(run), this.#opts.recheckMs ?? 500);
    run.timer.unref();
    run.unsubscribe =
      this.#opts.events?.subscribe((change) => {
        if (change.kind === 'operators') void this.#recheck(run);
        else run.keys.invalidate(change.indexes);
      }) ?? null;
    this.#run = run;
    log?.info({ host: address.ip, port, workers: pool.size }, 'crypto service listening');
    this.#opts.onListening?.({ host: address.ip, port });
    return { port };
  }

  /** A fresh TLS certificate from the device CA, and the CA certificate clients are checked against. */
  async #serverCertificate(
    device: Device,
    ip: string,
  ): Promise<{ key: string; cert: string; caPem: string }> {
    const ca = await loadDeviceCa(device);
    try {
      const issued = await issueServerCertificate(ca, {
        commonName: `Coffer crypto service ${ip}`,
        ips: [ip],
        dnsNames: ['localhost'],
        validityDays: this.#opts.certValidityDays ?? 397,
      });
      const key = createPrivateKey({ key: issued.keyPkcs8, format: 'der', type: 'pkcs8' });
      issued.keyPkcs8.fill(0);
      return {
        key: key.export({ format: 'pem', type: 'pkcs8' }) as string,
        cert: issued.certPem,
        caPem: ca.certPem,
      };
    } finally {
      ca.keyPkcs8.fill(0);
    }
  }

  async #admit(run: Running, socket: TLSSocket): Promise<void> {
    socket.on('error', () => socket.destroy());
    const ip = String(socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const protocol = socket.alpnProtocol === ALPN_PROTOCOL ? 'coffer/1' : 'http/1.1';
    const presented = presentedCertificate(socket);
    let decision: Admission;
    try {
      const keyring = run.device.keyring();
      const store = run.device.store;
      decision = await checkLicence(store, keyring, presented);
      if (decision.ok) {
        decision = (await checkWhitelist(store, keyring, decision.licence.operator, ip)) ?? decision;
      }
    } catch (error) {
      decision = {
        ok: false,
        code: isCofferError(error) ? error.code : 'ERR_INTERNAL',
        message: isCofferError(error) ? error.message : 'The device could not check this connection.',
      };
    }
    if (socket.destroyed) return;
    if (run.stopping) decision = { ok: false, ...STOPPED } as Admission;
    if (decision.ok) {
      const operator = decision.licence.operator;
      const live = run.byOperator.get(operator)?.size ?? 0;
      if (live >= decision.licence.maxConnections) {
        decision = {
          ok: false,
          code: 'ERR_CONNECTION_LIMIT',
          message: `${operator} already has ${live} connection${live === 1 ? '' : 's'}, the most its licence allows.`,
          operator,
        };
      }
    }
    if (!decision.ok) {
      this.#refuse(run, socket, protocol, ip, decision);
      return;
    }

    // Reserve the place synchronously (the limit is counted here), then record the admission.
    const licence = decision.licence;
    const session: LiveSession = {
      id: this.#nextSessionId++,
      operator: licence.operator,
      ip,
      requests: 0,
      errors: 0,
      serial: licence.serial,
      fingerprint: presented.fingerprint!,
      protocol,
      connectedAt: Date.now(),
      socket,
      binary: null,
      cut: null,
      unlogged: 0,
    };
    run.sessions.set(session.id, session);
    let mine = run.byOperator.get(session.operator);
    if (!mine) {
      mine = new Set();
      run.byOperator.set(session.operator, mine);
    }
    mine.add(session);
    run.bySocket.set(socket, session);
    let admittedAt = 0;
    socket.once('close', () => {
      run.sessions.delete(session.id);
      mine.delete(session);
      if (mine.size === 0 && run.byOperator.get(session.operator) === mine)
        run.byOperator.delete(session.operator);
      if (admittedAt) this.#recordDisconnect(run, session);
    });
    try {
      await run.audit.record({
        account: session.operator,
        clientIp: ip,
        businessType: 'connect',
        result: 'success',
        content: `Connect;${protocol}`,
        details: `licence ${licence.serial}; connection ${mine.size} of ${licence.maxConnections}`,
      });
    } catch (error) {
      run.sessions.delete(session.id);
      mine.delete(session);
      this.#refuse(run, socket, protocol, ip, {
        ok: false,
        code: isCofferError(error) ? error.code : 'ERR_AUDIT_WRITE',
        message: 'The connection could not be recorded in the operator log, so it is refused.',
        operator: session.operator,
      });
      return;
    }
    admittedAt = Date.now();
    run.admitted += 1;
    if (socket.destroyed) return;
    if (run.stopping) {
      this.#cut(session, STOPPED);
      return;
    }
    if (protocol === 'coffer/1') {
      session.binary = new BinaryConnection(socket, session, run.dispatcher, {
        maxFrameBytes: this.#maxFrameBytes,
        maxInFlight: this.#opts.maxInFlight ?? 1024,
      });
    } else {
      run.http.emit('connection', socket);
    }
  }

  #refuse(
    run: Running,
    socket: TLSSocket,
    protocol: 'coffer/1' | 'http/1.1',
    ip: string,
    decision: Extract<Admission, { ok: false }>,
  ): void {
    run.refused += 1;
    const account = decision.operator ?? '-';
    run.audit.recordLimited(`refused|${ip}|${account}|${decision.code}`, {
      account,
      clientIp: ip,
      businessType: 'connect',
      result: 'failure',
      content: `Connect refused;${decision.code}`,
      details: decision.message,
    });
    this.#opts.log?.warn(
      { ip, operator: account, code: decision.code },
      'crypto service: connection refused',
    );
    const reason = { code: decision.code, message: decision.message };
    endWithFrame(
      socket,
      protocol === 'coffer/1' ? connectionErrorFrame(reason, this.#maxFrameBytes) : httpRefusal(reason),
    );
  }

  #recordDisconnect(run: Running, session: LiveSession): void {
    const seconds = ((Date.now() - session.connectedAt) / 1000).toFixed(1);
    const suppressed = session.unlogged;
    run.audit.recordLater({
      account: session.operator,
      clientIp: session.ip,
      businessType: 'disconnect',
      result: session.cut && session.cut.code !== 'ERR_SERVICE_STOPPED' ? 'failure' : 'success',
      content: `Disconnect;${session.cut ? session.cut.code : 'closed'}`,
      details: `${session.protocol}; ${seconds} s; requests ${session.requests}; refused ${session.errors}${suppressed ? `; ${suppressed} key refusals not logged separately` : ''}`,
    });
  }

  /** Ends a session, telling the client why (binary: an error frame; REST: the socket is closed at once). */
  #cut(session: LiveSession, reason: WireError): void {
    if (session.cut) return;
    session.cut = reason;
    if (session.binary) session.binary.close(reason);
    else session.socket.destroy();
  }

  /** Checks every live connection against the store again; cuts those that no longer pass. */
  async #recheck(run: Running): Promise<void> {
    if (run.rechecking) {
      run.recheckAgain = true;
      return;
    }
    run.rechecking = true;
    try {
      do {
        run.recheckAgain = false;
        if (run.sessions.size === 0 || run.stopping) break;
        const keyring = run.device.keyring();
        const store = run.device.store;
        const live = [...run.sessions.values()].filter((s) => !s.cut);
        const bySerial = groupBy(live, (s) => s.serial);
        for (const sessions of bySerial.values()) {
          const first = sessions[0]!;
          const result = await checkLicence(store, keyring, {
            authorized: true,
            serial: first.serial,
            fingerprint: first.fingerprint,
          });
          if (!result.ok) for (const s of sessions) this.#cut(s, result);
        }
        const byPair = groupBy(
          live.filter((s) => !s.cut),
          (s) => `${s.operator}\u0000${s.ip}`,
        );
        for (const sessions of byPair.values()) {
          const first = sessions[0]!;
          const refused = await checkWhitelist(store, keyring, first.operator, first.ip);
          if (refused && !refused.ok) for (const s of sessions) this.#cut(s, refused);
        }
      } while (run.recheckAgain && !run.stopping);
    } catch (error) {
      this.#opts.log?.error({ err: String(error) }, 'crypto service: live connections could not be checked');
    } finally {
      run.rechecking = false;
    }
  }

  async stop(): Promise<void> {
    const run = this.#run;
    this.#run = null;
    if (!run) return;
    run.stopping = true;
    if (run.timer) clearInterval(run.timer);
    run.unsubscribe?.();
    const closed = new Promise<void>((resolve) => run.server.close(() => resolve()));
    for (const session of run.sessions.values()) {
      if (session.binary) this.#cut(session, STOPPED);
      else {
        session.cut = STOPPED;
        session.socket.destroy();
      }
    }
    for (const socket of run.sockets) if (!run.bySocket.has(socket)) socket.destroy();
    // Binary clients get a moment to read ERR_SERVICE_STOPPED; then whatever is left is cut.
    const late = setTimeout(() => {
      for (const socket of run.sockets) socket.destroy();
    }, 500);
    await closed;
    clearTimeout(late);
    await run.app.close().catch(() => undefined);
    await run.pool.close();
    run.keys.clear();
    await run.audit.settle();
    this.#opts.log?.info({}, 'crypto service stopped');
  }
}

function presentedCertificate(socket: TLSSocket): PresentedCertificate {
  const cert = socket.getPeerCertificate();
  if (!cert?.raw) return { authorized: false };
  return {
    authorized: socket.authorized,
    ...(socket.authorizationError ? { authorizationError: String(socket.authorizationError) } : {}),
    serial: cert.serialNumber.toLowerCase(),
    fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
  };
}

/** A refusal as a complete HTTP/1.1 response, for a REST client refused before any request is read. */
function httpRefusal(reason: WireError): Buffer {
  const status = HTTP_STATUS[reason.code as ErrorCode] ?? 403;
  const body = JSON.stringify({ error: { code: reason.code, message: reason.message, details: {} } });
  return Buffer.from(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Forbidden'}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
