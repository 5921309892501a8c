import { type Address, Connection, describeAddress, type Pending, type ServerInfo } from './connection.js';
import {
  CofferClosedError,
  CofferConnectionError,
  CofferProtocolError,
  type CofferSdkError,
  CofferServiceError,
  CofferTimeoutError,
} from './errors.js';
import type { OpenedLicence } from './licence.js';

export interface PoolOptions {
  readonly addresses: readonly Address[];
  readonly licence: OpenedLicence;
  readonly poolSize: number;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly maxFrameBytes: number;
  /** How many connections one request may be sent on (a request in flight on a lost connection is resent). */
  readonly maxAttempts: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
}

type SlotState = 'connecting' | 'open' | 'backoff' | 'closed';

interface Slot {
  state: SlotState;
  connection: Connection | undefined;
  /** Consecutive rounds of addresses that all failed (the back-off exponent). */
  failures: number;
  /** Consecutive connections that died within STABLE_MS of opening. */
  quickLosses: number;
  timer: NodeJS.Timeout | undefined;
}

/** A connection that dies younger than this counts towards MAX_QUICK_LOSSES. */
const STABLE_MS = 1000;
/** After this many young deaths in a row, a slot backs off instead of reconnecting at once. */
const MAX_QUICK_LOSSES = 3;

/**
 * Up to `poolSize` connections, each kept up by its own slot: a slot tries the device addresses in
 * order (failover); a lost connection is replaced at once (unless connections keep dying young),
 * and after a round in which every address failed the slot waits with exponential back-off (with
 * jitter) before trying again. Requests go to the open connection with the fewest in flight. While none is open but one
 * is being made, requests wait for it; when a whole round of addresses fails and nothing is open,
 * they fail with that round's error (fail fast, so a refusal such as ERR_IP_NOT_ALLOWED is seen as
 * such rather than as a timeout). A request in flight on a connection that breaks is resent on
 * another (the protocol allows it: no command changes what the device stores), up to `maxAttempts`
 * sends and its deadline; a refusal of the connection itself fails it with the device's code.
 */
export class Pool {
  readonly #options: PoolOptions;
  readonly #slots: Slot[];
  #waiting: Pending[] = [];
  #closed = false;
  #lastError: CofferSdkError | undefined;
  #info: ServerInfo | undefined;
  #next = 0;
  readonly #ticker: NodeJS.Timeout;
  #firstRound:
    | { settled: boolean; failed: number; resolve(): void; reject(e: CofferSdkError): void }
    | undefined;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.#slots = Array.from({ length: options.poolSize }, () => ({
      state: 'backoff' as SlotState,
      connection: undefined,
      failures: 0,
      quickLosses: 0,
      timer: undefined,
    }));
    const keepAlive = options.keepAliveMs > 0 ? options.keepAliveMs / 4 : 250;
    const tickMs = Math.max(10, Math.floor(Math.min(250, options.timeoutMs / 10, keepAlive)));
    this.#ticker = setInterval(() => this.#tick(), tickMs);
    this.#ticker.unref();
  }

  /** Opens every slot; resolves once one connection is open, rejects when every slot's first round failed. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#firstRound = { settled: false, failed: 0, resolve, reject };
      for (const slot of this.#slots) void this.#connect(slot);
    });
  }

  /** What the server said in `info` on the first connection (limits for frames and batches). */
  get info(): ServerInfo | undefined {
    return this.#info;
  }

  /** Open connections and their requests in flight (for monitoring and tests). */
  get connections(): { address: string; inFlight: number }[] {
    return this.#slots
      .filter((s) => s.connection)
      .map((s) => ({ address: describeAddress(s.connection!.address), inFlight: s.connection!.inFlight }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  dispatch(pending: Pending): void {
    if (this.#closed) {
      pending.reject(new CofferClosedError());
      return;
    }
    const connection = this.#pick();
    if (connection) {
      try {
        connection.send(pending);
      } catch (error) {
        pending.reject(error as Error);
      }
      return;
    }
    if (this.#slots.some((s) => s.state === 'connecting')) {
      this.#waiting.push(pending);
      return;
    }
    pending.reject(
      this.#lastError ?? new CofferConnectionError('ERR_CONNECT', 'No connection to the device is open.'),
    );
  }

  /**
   * Stops taking requests, lets those in flight finish (each within its own deadline), then ends
   * every connection. With `force`, fails what is in flight with ERR_CLOSED at once.
   */
  async close(options: { force?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.#slots) clearTimeout(slot.timer);
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const p of waiting) p.reject(new CofferClosedError());
    if (!options.force) {
      while (this.#slots.some((s) => s.connection && s.connection.inFlight > 0)) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    clearInterval(this.#ticker);
    for (const slot of this.#slots) {
      slot.state = 'closed';
      const c = slot.connection;
      slot.connection = undefined;
      if (!c) continue;
      if (options.force) c.destroy(new CofferClosedError());
      else c.end();
    }
  }

  #pick(): Connection | undefined {
    const slots = this.#slots;
    let best: Connection | undefined;
    const n = slots.length;
    const start = this.#next;
    this.#next = (start + 1) % n;
    for (let i = 0; i < n; i++) {
      const c = slots[(start + i) % n]!.connection;
      if (!c || c.closed) continue;
      if (!best || c.inFlight < best.inFlight) {
        best = c;
        if (c.inFlight === 0) break;
      }
    }
    return best;
  }

  async #connect(slot: Slot): Promise<void> {
    if (this.#closed) return;
    slot.state = 'connecting';
    slot.timer = undefined;
    const errors: CofferSdkError[] = [];
    for (const address of this.#options.addresses) {
      let connection: Connection;
      try {
        connection = await Connection.open({
          address,
          licence: this.#options.licence,
          maxFrameBytes: this.#options.maxFrameBytes,
          connectTimeoutMs: this.#options.connectTimeoutMs,
          keepAliveMs: this.#options.keepAliveMs,
          onClose: (c, error, pending) => this.#lost(slot, c, error, pending),
        });
      } catch (error) {
        errors.push(error as CofferSdkError);
        if (this.#closed) return;
        continue;
      }
      if (this.#closed) {
        connection.end();
        return;
      }
      slot.connection = connection;
      slot.state = 'open';
      slot.failures = 0;
      this.#info ??= connection.info;
      this.#settleFirstRound();
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const p of waiting) this.dispatch(p);
      return;
    }
    const error = roundError(errors);
    this.#lastError = error;
    this.#backOff(slot);
    if (!this.#slots.some((s) => s.state === 'open' || s.state === 'connecting')) {
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const p of waiting) p.reject(error);
    }
    const first = this.#firstRound;
    if (first && !first.settled && ++first.failed === this.#slots.length) {
      first.settled = true;
      first.reject(error);
    }
  }

  #settleFirstRound(): void {
    const first = this.#firstRound;
    if (first && !first.settled) {
      first.settled = true;
      first.resolve();
    }
  }

  #backOff(slot: Slot): void {
    slot.state = 'backoff';
    const { backoffInitialMs, backoffMaxMs } = this.#options;
    const base = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(slot.failures, 30));
    slot.failures += 1;
    // Full jitter on the upper half, so that many clients cut at once do not come back at once.
    const delay = base / 2 + Math.random() * (base / 2);
    slot.timer = setTimeout(() => void this.#connect(slot), delay);
    slot.timer.unref();
  }

  #lost(slot: Slot, connection: Connection, error: CofferSdkError, pending: Pending[]): void {
    if (slot.connection === connection) slot.connection = undefined;
    const now = Date.now();
    // A refusal of the connection or a server breaking the protocol: resending would meet the same.
    const final = error instanceof CofferServiceError || error instanceof CofferProtocolError;
    const resend: Pending[] = [];
    for (const p of pending) {
      if (this.#closed || final || p.resend === false || p.attempts >= this.#options.maxAttempts)
        p.reject(error);
      else if (p.deadline <= now) p.reject(new CofferTimeoutError('No answer from the device in time.'));
      else resend.push(p);
    }
    if (this.#closed) return;
    this.#lastError = error;
    // Reconnect at once, unless connections keep dying young (then back off as after failures).
    slot.quickLosses = now - connection.openedAt < STABLE_MS ? slot.quickLosses + 1 : 0;
    if (slot.quickLosses < MAX_QUICK_LOSSES) void this.#connect(slot);
    else this.#backOff(slot);
    // Resent after the other connections cut in the same event (a device going away cuts them
    // all) have been seen, so that they do not go to a connection already dead.
    if (resend.length > 0)
      setImmediate(() => {
        for (const p of resend) this.dispatch(p);
      });
  }

  #tick(): void {
    const now = Date.now();
    if (this.#waiting.length > 0) {
      const still: Pending[] = [];
      for (const p of this.#waiting) {
        if (p.deadline <= now)
          p.reject(new CofferTimeoutError('No connection to the device came up in time.'));
        else still.push(p);
      }
      this.#waiting = still;
    }
    const { keepAliveMs, timeoutMs } = this.#options;
    for (const slot of this.#slots) {
      const c = slot.connection;
      if (!c || c.closed) continue;
      c.expire(now);
      if (keepAliveMs > 0 && now - c.lastReceived >= keepAliveMs) c.ping(timeoutMs);
    }
  }
}

/**
 * One error for a round over every address: a refusal by a device says most (ERR_IP_NOT_ALLOWED…),
 * then a TLS failure, else "could not connect" listing every address's reason.
 */
function roundError(errors: CofferSdkError[]): CofferSdkError {
  const refusal = errors.find((e) => e instanceof CofferServiceError || e instanceof CofferProtocolError);
  if (refusal) return refusal;
  if (errors.length === 1) return errors[0]!;
  const tls = errors.find((e) => e.code === 'ERR_TLS');
  if (tls) return tls;
  return new CofferConnectionError('ERR_CONNECT', errors.map((e) => e.message).join(' '));
}
