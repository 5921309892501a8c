import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { CofferError } from '@coffer/core';
import type { Logger } from 'pino';

/** The running log's levels (pino's), lowest first. The manual's screen shows ERROR. */
export const RUNNING_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type RunningLogLevel = (typeof RUNNING_LOG_LEVELS)[number];

/** The Audit Manager's running-log parameters (manual §4.4.3.3), kept in the store's setting `runningLog`. */
export interface RunningLogSettings {
  level: RunningLogLevel;
  /** Rotated files older than this many days are deleted (1–365). */
  retentionDays: number;
  /** The current file is rotated when it would grow past this many MB (1–10240). */
  backupSizeMb: number;
}

export const DEFAULT_RUNNING_LOG_SETTINGS: RunningLogSettings = {
  level: 'info',
  retentionDays: 30,
  backupSizeMb: 10,
};

export const CURRENT_LOG_NAME = 'running.log';
/** `running-20260315T101530123Z.log`, or with `-2`, `-3`… when two rotations share a millisecond. */
const ROTATED = /^running-(\d{8}T\d{9}Z)(?:-\d+)?\.log$/;

/** Checks and completes stored or submitted settings. @throws ERR_BAD_REQUEST naming the field. */
export function checkRunningLogSettings(input: Partial<RunningLogSettings>): RunningLogSettings {
  const s = { ...DEFAULT_RUNNING_LOG_SETTINGS, ...input };
  if (!(RUNNING_LOG_LEVELS as readonly string[]).includes(s.level)) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `The log level must be one of ${RUNNING_LOG_LEVELS.join(', ')}.`,
      {
        field: 'level',
      },
    );
  }
  if (!Number.isInteger(s.retentionDays) || s.retentionDays < 1 || s.retentionDays > 365) {
    throw new CofferError('ERR_BAD_REQUEST', 'The retention must be a whole number of days from 1 to 365.', {
      field: 'retentionDays',
    });
  }
  if (!Number.isInteger(s.backupSizeMb) || s.backupSizeMb < 1 || s.backupSizeMb > 10240) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      'The backup size threshold must be a whole number of MB from 1 to 10240.',
      {
        field: 'backupSizeMb',
      },
    );
  }
  return s;
}

/** Reads the stored setting; a missing or unreadable one gives the defaults. */
export function parseRunningLogSettings(text: string | null): RunningLogSettings {
  if (!text) return { ...DEFAULT_RUNNING_LOG_SETTINGS };
  try {
    return checkRunningLogSettings(JSON.parse(text) as Partial<RunningLogSettings>);
  } catch {
    return { ...DEFAULT_RUNNING_LOG_SETTINGS };
  }
}

function stamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

function stampTime(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(s);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : Number.NaN;
}

/**
 * The running log's file: pino writes lines into it synchronously; when a line would take it past
 * the size threshold, `running.log` is renamed `running-<device time>.log` and a new one is begun.
 */
export class RotatingLogStream {
  #fd: number;
  #size: number;
  #closed = false;
  maxBytes: number;
  onRotate: (() => void) | null = null;

  constructor(
    readonly dir: string,
    maxBytes: number,
    private readonly now: () => Date,
  ) {
    this.maxBytes = maxBytes;
    this.#fd = openSync(join(dir, CURRENT_LOG_NAME), 'a', 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  write(chunk: string): boolean {
    if (this.#closed) return false; // after the daemon closed: nothing more is written
    const bytes = Buffer.byteLength(chunk);
    if (this.#size > 0 && this.#size + bytes > this.maxBytes) this.rotate();
    writeSync(this.#fd, chunk);
    this.#size += bytes;
    return true;
  }

  /** Closes the current file under a rotated name and starts a new one. */
  rotate(): string {
    closeSync(this.#fd);
    const base = `running-${stamp(this.now())}`;
    let name = `${base}.log`;
    for (let i = 2; existsIn(this.dir, name); i++) name = `${base}-${i}.log`;
    renameSync(join(this.dir, CURRENT_LOG_NAME), join(this.dir, name));
    this.#fd = openSync(join(this.dir, CURRENT_LOG_NAME), 'a', 0o600);
    this.#size = 0;
    this.onRotate?.();
    return name;
  }

  flush(cb?: (error?: Error) => void): void {
    if (this.#closed) {
      cb?.();
      return;
    }
    try {
      fsyncSync(this.#fd);
      cb?.();
    } catch (error) {
      cb?.(error as Error);
    }
  }

  /** pino calls this on `flushSync`. */
  flushSync(): void {
    this.flush();
  }

  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}

function existsIn(dir: string, name: string): boolean {
  try {
    statSync(join(dir, name));
    return true;
  } catch {
    return false;
  }
}

export interface RunningLogFile {
  name: string;
  size: number;
  modifiedAt: string;
  current: boolean;
}

/**
 * The running log's files and parameters, as the Audit Manager sees them: the level is changed on
 * the live logger, the size threshold on the stream, and rotated files older than the retention (by
 * the device clock, from the time in their name) are deleted at each rotation, each settings change,
 * each listing and once an hour.
 */
export class RunningLogFiles {
  #settings: RunningLogSettings = { ...DEFAULT_RUNNING_LOG_SETTINGS };
  #now: () => Date;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    readonly dir: string,
    readonly log: Logger,
    private readonly stream: RotatingLogStream,
    now: () => Date,
  ) {
    this.#now = now;
    stream.onRotate = () => {
      this.sweep();
    };
  }

  /** Uses the device clock from now on (the device is made after the log). */
  useClock(now: () => Date): void {
    this.#now = now;
  }

  /** The clock rotation and retention use (the device clock once the device exists). */
  now(): Date {
    return this.#now();
  }

  settings(): RunningLogSettings {
    return { ...this.#settings };
  }

  /** Obeys new parameters at once; returns the rotated files the retention deleted. */
  apply(settings: RunningLogSettings): string[] {
    this.#settings = checkRunningLogSettings(settings);
    this.log.level = this.#settings.level;
    this.stream.maxBytes = this.#settings.backupSizeMb * 1024 * 1024;
    return this.sweep();
  }

  /** Deletes rotated files older than the retention (device clock); returns their names. */
  sweep(): string[] {
    const limit = this.#now().getTime() - this.#settings.retentionDays * 86_400_000;
    const deleted: string[] = [];
    for (const name of safeList(this.dir)) {
      const m = ROTATED.exec(name);
      if (!m) continue;
      const at = stampTime(m[1]!);
      if (Number.isFinite(at) && at < limit) {
        rmSync(join(this.dir, name), { force: true });
        deleted.push(name);
      }
    }
    if (deleted.length > 0) this.log.info({ deleted }, 'running log files past the retention deleted');
    return deleted;
  }

  /** The current file and the rotated ones, newest first. */
  list(): RunningLogFile[] {
    const files: RunningLogFile[] = [];
    for (const name of safeList(this.dir)) {
      if (name !== CURRENT_LOG_NAME && !ROTATED.test(name)) continue;
      try {
        const st = statSync(join(this.dir, name));
        if (!st.isFile()) continue;
        files.push({
          name,
          size: st.size,
          modifiedAt: st.mtime.toISOString(),
          current: name === CURRENT_LOG_NAME,
        });
      } catch {
        // deleted meanwhile
      }
    }
    return files.sort((a, b) => (a.current ? -1 : b.current ? 1 : b.name.localeCompare(a.name)));
  }

  /**
   * The path of a running-log file, only if `name` is one of the names `list` shows (so no path
   * can be smuggled in: `../x`, absolute paths and other files are unknown names).
   * @throws ERR_NOT_FOUND
   */
  pathOf(name: string): string {
    const found = this.list().find((f) => f.name === name);
    if (!found)
      throw new CofferError('ERR_NOT_FOUND', `There is no running log named '${name}'.`, { field: 'name' });
    return join(this.dir, found.name);
  }

  /** Sweeps once an hour until `stop` (the timer does not keep the process alive). */
  startSweeping(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      try {
        this.sweep();
      } catch (error) {
        this.log.error({ err: String(error) }, 'running log sweep failed');
      }
    }, 3_600_000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Stops sweeping and closes the file (the daemon closes); later lines are dropped. */
  close(): void {
    this.stop();
    this.stream.flush();
    this.stream.end();
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
