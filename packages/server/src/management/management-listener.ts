import { createPrivateKey } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Device, ServiceListener } from '@coffer/core';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { issueServerCertificate, loadDeviceCa } from '../daemon/device-ca.js';
import { buildManagementApp, type ManagementAppOptions } from './management-app.js';

export interface ManagementListenerOptions extends Omit<ManagementAppOptions, 'device' | 'serverFactory'> {
  /** The running log: connection refusals and request logs go there. */
  log?: FastifyBaseLogger;
  /** Validity of the TLS certificate issued at each start, in days (a new one is issued every start). */
  certValidityDays?: number;
  /** Called once listening, with the service URL and the CA certificate clients pin. */
  onListening?: (info: { url: string; caCertPem: string }) => void;
  /** Called after the listener stopped. */
  onStopped?: () => void;
}

/** At most one audit entry per refused address in this window (a connection flood must not flood the log). */
const REFUSAL_AUDIT_WINDOW_MS = 10_000;

/**
 * The management service on M-Net0 (manual §4.2): HTTPS with a certificate issued at each start by
 * the device CA for the M-Net0 address (and `localhost`), TLS 1.3 only. A plain TCP server accepts
 * each connection paused and hands it to the HTTPS server only if the client address is on the tool
 * whitelist (front panel §3.6); otherwise the socket is destroyed before any TLS byte is read and
 * the refusal is audited. Stop closes the server, every open connection and every session.
 */
export class ManagementListener implements ServiceListener {
  readonly name = 'management';
  readonly network = 'mNet0' as const;
  #net: NetServer | null = null;
  #app: FastifyInstance | null = null;
  readonly #sockets = new Set<Socket>();
  readonly #lastRefusalAudit = new Map<string, { at: number; suppressed: number }>();
  #url: string | null = null;
  #caCertPem: string | null = null;

  constructor(private readonly opts: ManagementListenerOptions = {}) {}

  /** The service's base URL while it listens (`https://127.0.0.1:1812/`), else null. */
  get url(): string | null {
    return this.#url;
  }

  /** The device CA that issued the current certificate (clients pin it), while listening. */
  get caCertPem(): string | null {
    return this.#caCertPem;
  }

  /** The Fastify app while listening (tests, the browser UI's static files). */
  get app(): FastifyInstance | null {
    return this.#app;
  }

  async start(address: { ip: string; port: number }, device: Device): Promise<{ port: number }> {
    if (this.#net) throw new Error('the management listener is already started');
    const ca = await loadDeviceCa(device);
    let tls: { key: string; cert: string };
    try {
      const issued = await issueServerCertificate(ca, {
        commonName: `Coffer management ${address.ip}`,
        ips: [address.ip],
        dnsNames: ['localhost'],
        validityDays: this.opts.certValidityDays ?? 397,
      });
      const key = createPrivateKey({ key: issued.keyPkcs8, format: 'der', type: 'pkcs8' });
      issued.keyPkcs8.fill(0);
      tls = { key: key.export({ format: 'pem', type: 'pkcs8' }) as string, cert: issued.certPem };
    } finally {
      ca.keyPkcs8.fill(0);
    }
    const https = createHttpsServer({
      ...tls,
      minVersion: 'TLSv1.3',
      handshakeTimeout: 10_000,
      // Only HTTP/1.1; no session tickets (a resumed session would skip nothing we check, but keep it simple).
      ALPNProtocols: ['http/1.1'],
    });
    https.headersTimeout = 15_000;
    https.requestTimeout = 120_000;
    https.keepAliveTimeout = 5_000;
    const { log, certValidityDays: _validity, onListening, onStopped: _stopped, ...appOptions } = this.opts;
    const app = await buildManagementApp({
      ...appOptions,
      device,
      requireToolWhitelist: true,
      ...(log ? { loggerInstance: log } : {}),
      serverFactory: (handler) => {
        https.on('request', handler);
        return https;
      },
    });
    const net = createNetServer({ pauseOnConnect: true }, (socket) => {
      void this.#accept(socket, device, https);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        net.once('error', reject);
        net.listen({ host: address.ip, port: address.port, exclusive: true }, () => {
          net.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await app.close();
      throw error;
    }
    const bound = net.address();
    const port = typeof bound === 'object' && bound ? bound.port : address.port;
    this.#net = net;
    this.#app = app;
    this.#url = `https://${address.ip}:${port}/`;
    this.#caCertPem = (await device.store.getDomain())?.caCertPem ?? null;
    log?.info({ url: this.#url }, 'management service listening');
    if (this.#caCertPem) onListening?.({ url: this.#url, caCertPem: this.#caCertPem });
    return { port };
  }

  async #accept(socket: Socket, device: Device, https: HttpsServer): Promise<void> {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const ip = String(socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    let allowed = false;
    try {
      allowed = await device.isToolWhitelisted(ip);
    } catch {
      allowed = false; // not booted, or the store failed: refuse
    }
    if (!allowed || this.#net === null) {
      socket.destroy();
      await this.#auditRefusal(device, ip);
      return;
    }
    https.emit('connection', socket);
    socket.resume();
  }

  async #auditRefusal(device: Device, ip: string): Promise<void> {
    const now = Date.now();
    const last = this.#lastRefusalAudit.get(ip);
    if (last && now - last.at < REFUSAL_AUDIT_WINDOW_MS) {
      last.suppressed += 1;
      return;
    }
    this.#lastRefusalAudit.set(ip, { at: now, suppressed: 0 });
    if (this.#lastRefusalAudit.size > 10_000) this.#lastRefusalAudit.clear();
    try {
      await device.auditLog.append({
        source: 'management',
        account: '-',
        clientIp: ip,
        businessType: 'connect',
        result: 'failure',
        content: `Refused connection from ${ip}: not on the tool white list`,
        details: last?.suppressed
          ? `${last.suppressed} further refusals from ${ip} were not recorded separately`
          : '',
      });
    } catch (error) {
      this.opts.log?.error({ err: String(error), ip }, 'refused management connection could not be audited');
    }
    this.opts.log?.warn({ ip }, 'management connection refused: not on the tool white list');
  }

  async stop(): Promise<void> {
    const net = this.#net;
    const app = this.#app;
    this.#net = null;
    this.#app = null;
    this.#url = null;
    this.#caCertPem = null;
    if (!net) return;
    const closed = new Promise<void>((resolve) => net.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
    await app?.close();
    this.opts.log?.info({}, 'management service stopped');
    this.opts.onStopped?.();
  }
}
