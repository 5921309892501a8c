import type { Socket } from 'node:net';
import {
  type AnyCommand,
  BATCH,
  decodeBatchItems,
  decodeRequest,
  encodeError,
  encodeFrame,
  encodeResponse,
  type Frame,
  FrameDecoder,
  isProtocolError,
  ProtocolError,
} from '@coffer/protocol';
import { type Dispatcher, type ServiceSession, type WireError, wireError } from './dispatcher.js';
import type { ServiceRequest, SingleCommandName } from './service-commands.js';

export interface BinaryConnectionOptions {
  maxFrameBytes: number;
  /** Requests a connection may have in flight before the server stops reading from it. */
  maxInFlight: number;
  /** How long a closing connection may take to flush its last frame before it is destroyed. */
  closeGraceMs?: number;
}

/**
 * One admitted connection speaking the binary protocol (docs/protocol.md): frames in, each request
 * handed to the dispatcher, replies out in whatever order they complete, written in bursts (one
 * write per tick). Protocol errors follow §4: a frame that puts the stream out of step (too large,
 * too short, wrong version or type) is answered with an error frame for request 0 and the
 * connection is closed; a request that does not decode is answered with an error frame for its id
 * and the connection goes on. When more than `maxInFlight` requests are outstanding the server
 * stops reading until replies have gone out (back-pressure instead of unbounded queues).
 */
export class BinaryConnection {
  readonly #socket: Socket;
  readonly #session: ServiceSession;
  readonly #dispatcher: Dispatcher;
  readonly #opts: BinaryConnectionOptions;
  readonly #decoder: FrameDecoder;
  #out: Buffer[] = [];
  #flushScheduled = false;
  #inFlight = 0;
  #paused = false;
  #closing = false;

  constructor(
    socket: Socket,
    session: ServiceSession,
    dispatcher: Dispatcher,
    opts: BinaryConnectionOptions,
  ) {
    this.#socket = socket;
    this.#session = session;
    this.#dispatcher = dispatcher;
    this.#opts = opts;
    this.#decoder = new FrameDecoder({ maxFrameBytes: opts.maxFrameBytes });
    socket.on('data', (chunk: Buffer) => {
      if (this.#closing) return;
      this.#decoder.push(chunk);
      this.#drain();
    });
    socket.on('drain', () => this.#maybeResume());
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Decodes and handles every whole frame buffered, unless back-pressure says to wait. */
  #drain(): void {
    while (!this.#closing) {
      if (this.#inFlight >= this.#opts.maxInFlight || this.#socket.writableNeedDrain) {
        if (!this.#paused) {
          this.#paused = true;
          this.#socket.pause();
        }
        return;
      }
      let result: ReturnType<FrameDecoder['next']>;
      try {
        result = this.#decoder.next();
      } catch (error) {
        this.close(error instanceof ProtocolError ? error : wireError(error));
        return;
      }
      if ('need' in result) return;
      this.#onFrame(result.frame);
    }
  }

  #maybeResume(): void {
    if (!this.#paused || this.#closing) return;
    if (this.#inFlight >= this.#opts.maxInFlight / 2 || this.#socket.writableNeedDrain) return;
    this.#paused = false;
    this.#drain();
    if (!this.#paused && !this.#closing) this.#socket.resume();
  }

  #onFrame(frame: Frame): void {
    let command: AnyCommand;
    let request: unknown;
    try {
      ({ command, request } = decodeRequest(frame));
    } catch (error) {
      if (isProtocolError(error) && error.fatal) {
        this.close(error);
      } else {
        this.#session.requests += 1;
        this.#session.errors += 1;
        this.#send(encodeError(frame.command, frame.requestId, wireError(error), this.#opts.maxFrameBytes));
      }
      return;
    }
    this.#inFlight += 1;
    if (command.code === BATCH.code) {
      this.#batch(frame, request as { command: number; items: Buffer[] });
      return;
    }
    let answer: unknown;
    try {
      answer = this.#dispatcher.execute(this.#session, {
        command: command.name as SingleCommandName,
        request,
      } as ServiceRequest);
    } catch (error) {
      this.#reply(frame, command, undefined, error);
      return;
    }
    if (answer instanceof Promise) {
      answer.then(
        (response) => this.#reply(frame, command, response, undefined),
        (error) => this.#reply(frame, command, undefined, error),
      );
    } else {
      this.#reply(frame, command, answer, undefined);
    }
  }

  #batch(frame: Frame, batch: { command: number; items: Buffer[] }): void {
    let inner: ReturnType<typeof decodeBatchItems>;
    try {
      inner = decodeBatchItems(batch);
    } catch (error) {
      this.#reply(frame, BATCH, undefined, error);
      return;
    }
    const items = inner.items.map((item) =>
      'error' in item ? { error: wireError(item.error) as WireError } : { request: item.request },
    );
    this.#dispatcher.executeBatch(this.#session, inner.command.name as SingleCommandName, items).then(
      (results) => {
        let encoded: { body?: Buffer; errorCode?: string; errorMessage?: string }[];
        try {
          encoded = results.map((r) => {
            if ('error' in r) return { errorCode: r.error.code, errorMessage: truncate(r.error.message) };
            try {
              return { body: inner.command.response.encode(r.response) };
            } catch (error) {
              const e = wireError(error);
              return { errorCode: e.code, errorMessage: e.message };
            }
          });
        } catch (error) {
          this.#reply(frame, BATCH, undefined, error);
          return;
        }
        this.#reply(frame, BATCH, { results: encoded }, undefined);
      },
      (error) => this.#reply(frame, BATCH, undefined, error),
    );
  }

  #reply(frame: Frame, command: AnyCommand, response: unknown, error: unknown): void {
    this.#inFlight -= 1;
    if (this.#closing) return;
    let bytes: Buffer;
    if (error === undefined) {
      try {
        bytes = encodeResponse(command, frame.requestId, response, this.#opts.maxFrameBytes);
      } catch (encodeFailure) {
        const e =
          isProtocolError(encodeFailure) && encodeFailure.code === 'ERR_FRAME_TOO_LARGE'
            ? wireError(encodeFailure)
            : { code: 'ERR_INTERNAL', message: 'The device could not encode its answer.' };
        bytes = encodeError(frame.command, frame.requestId, e, this.#opts.maxFrameBytes);
      }
    } else {
      bytes = encodeError(frame.command, frame.requestId, wireError(error), this.#opts.maxFrameBytes);
    }
    this.#send(bytes);
    if (this.#paused) queueMicrotask(() => this.#maybeResume());
  }

  #send(bytes: Buffer): void {
    this.#out.push(bytes);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const out = this.#out;
    this.#out = [];
    if (out.length === 0 || this.#socket.destroyed) return;
    if (out.length === 1) {
      this.#socket.write(out[0]!);
      return;
    }
    this.#socket.cork();
    for (const b of out) this.#socket.write(b);
    this.#socket.uncork();
  }

  /**
   * Ends the connection with a connection-level error frame (command 0, request id 0) saying why:
   * a fatal protocol error, or the device cutting the operator off (ERR_LICENCE_REVOKED…,
   * ERR_SERVICE_STOPPED). Replies still outstanding are dropped.
   */
  close(reason: WireError): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#flush();
    endWithFrame(this.#socket, encodeFrameSafely(reason, this.#opts.maxFrameBytes), this.#opts.closeGraceMs);
  }
}

function truncate(message: string): string {
  return Buffer.byteLength(message) <= 1024 ? message : `${message.slice(0, 300)}…`;
}

/** A connection-level error frame (command 0, request 0). */
export function connectionErrorFrame(reason: WireError, maxFrameBytes: number): Buffer {
  return encodeFrameSafely(reason, maxFrameBytes);
}

function encodeFrameSafely(reason: WireError, maxFrameBytes: number): Buffer {
  try {
    return encodeError(0, 0, reason, maxFrameBytes);
  } catch {
    return encodeFrame({ type: 'error', command: 0, requestId: 0, body: Buffer.alloc(0) }, maxFrameBytes);
  }
}

/**
 * Writes `last` and closes gracefully: FIN after the bytes, reading (and discarding) what the peer
 * still sends so that the kernel does not answer with a reset that could destroy the last frame
 * before the peer read it; destroyed after `graceMs` at the latest.
 */
export function endWithFrame(socket: Socket, last: Buffer | null, graceMs = 2000): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), graceMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  if (last) socket.end(last);
  else socket.end();
}
