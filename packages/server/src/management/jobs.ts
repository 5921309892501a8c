import { randomBytes } from 'node:crypto';
import { CofferError, type ErrorCode, isCofferError } from '@coffer/core';
import { Type } from 'typebox';

/**
 * Long management operations (batch key generation, import, restore, backup of thousands of keys)
 * run as jobs: the POST that starts one answers at once with its id, the work goes on without
 * holding the event loop (asynchronous crypto, a yield between items), and the client polls
 * `GET /api/jobs/:id` for progress to draw a progress bar. A job belongs to the account that
 * started it; others get ERR_NOT_FOUND. Finished jobs are kept for a while, then forgotten.
 */

export type JobStatus = 'running' | 'done' | 'failed';

export interface JobError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/** What a job's work returns: a result to show, and optionally a file to download. */
export interface JobOutcome {
  result: unknown;
  file?: { name: string; contentType: string; body: string };
  /** The job ran but did not do what was asked (e.g. an import refused as a whole): status `failed`. */
  error?: JobError;
}

export interface JobView {
  id: string;
  kind: string;
  status: JobStatus;
  done: number;
  total: number;
  startedAt: string;
  finishedAt: string | null;
  result: unknown;
  error: JobError | null;
  /** True when a file waits for download (GET /api/jobs/:id/file). */
  hasFile: boolean;
}

export const JobSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  status: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  done: Type.Integer(),
  total: Type.Integer(),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  result: Type.Unknown(),
  error: Type.Union([
    Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Object({}, { additionalProperties: true }),
    }),
    Type.Null(),
  ]),
  hasFile: Type.Boolean(),
});

export const JobStarted = Type.Object({ jobId: Type.String(), total: Type.Integer() });

interface Job {
  view: JobView;
  account: string;
  file: JobOutcome['file'] | null;
  finishedAtMs: number | null;
}

export interface JobRegistryOptions {
  /** How long a finished job (and its file) is kept: 15 minutes. */
  keepMs?: number;
  /** Jobs one account may run at once: 4. */
  maxRunningPerAccount?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

export class JobRegistry {
  readonly #jobs = new Map<string, Job>();
  readonly #keepMs: number;
  readonly #maxRunning: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;

  constructor(options: JobRegistryOptions = {}) {
    this.#keepMs = options.keepMs ?? 15 * 60_000;
    this.#maxRunning = options.maxRunningPerAccount ?? 4;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
  }

  /**
   * Starts `work` as a job of `account`. `work` reports progress through its argument and should
   * yield between items. It runs after this returns.
   *
   * @throws CofferError ERR_CONFLICT when the account already runs the maximum number of jobs.
   */
  start(
    kind: string,
    account: string,
    total: number,
    work: (progress: (done: number, total: number) => void) => Promise<JobOutcome>,
  ): JobView {
    this.#forgetOld();
    const running = [...this.#jobs.values()].filter(
      (j) => j.account === account && j.view.status === 'running',
    );
    if (running.length >= this.#maxRunning) {
      throw new CofferError(
        'ERR_CONFLICT',
        `${account} already runs ${running.length} long operations; wait for one to finish.`,
      );
    }
    const id = randomBytes(12).toString('base64url');
    const job: Job = {
      account,
      file: null,
      finishedAtMs: null,
      view: {
        id,
        kind,
        status: 'running',
        done: 0,
        total,
        startedAt: new Date(this.#now()).toISOString(),
        finishedAt: null,
        result: null,
        error: null,
        hasFile: false,
      },
    };
    this.#jobs.set(id, job);
    const progress = (done: number, t: number) => {
      job.view.done = done;
      job.view.total = t;
    };
    const finish = (status: JobStatus) => {
      job.view.status = status;
      job.finishedAtMs = this.#now();
      job.view.finishedAt = new Date(job.finishedAtMs).toISOString();
    };
    setImmediate(() => {
      work(progress).then(
        (outcome) => {
          job.view.result = outcome.result ?? null;
          if (outcome.file) {
            job.file = outcome.file;
            job.view.hasFile = true;
          }
          if (outcome.error) job.view.error = outcome.error;
          finish(outcome.error ? 'failed' : 'done');
        },
        (error: unknown) => {
          if (!isCofferError(error)) this.#onError(error);
          job.view.error = isCofferError(error)
            ? { code: error.code, message: error.message, details: { ...error.details } }
            : { code: 'ERR_INTERNAL', message: 'The device failed to complete this operation.', details: {} };
          finish('failed');
        },
      );
    });
    return { ...job.view };
  }

  /** @throws CofferError ERR_NOT_FOUND when there is no such job of `account` (any more). */
  get(id: string, account: string): JobView {
    return { ...this.#job(id, account).view };
  }

  /**
   * The file a finished job made; it stays available until the job is forgotten.
   *
   * @throws CofferError ERR_NOT_FOUND when there is no such job or it has no file (yet).
   */
  file(id: string, account: string): NonNullable<JobOutcome['file']> {
    const job = this.#job(id, account);
    if (!job.file) {
      throw new CofferError(
        'ERR_NOT_FOUND',
        job.view.status === 'running'
          ? 'The job is still running; its file is not ready.'
          : 'This job made no file.',
      );
    }
    return job.file;
  }

  /** Forgets every job (the service stops). Running work finishes unobserved. */
  clear(): void {
    this.#jobs.clear();
  }

  #job(id: string, account: string): Job {
    this.#forgetOld();
    const job = this.#jobs.get(id);
    if (!job || job.account !== account) throw new CofferError('ERR_NOT_FOUND', `There is no job ${id}.`);
    return job;
  }

  #forgetOld(): void {
    const now = this.#now();
    for (const [id, job] of this.#jobs) {
      if (job.finishedAtMs !== null && now - job.finishedAtMs > this.#keepMs) this.#jobs.delete(id);
    }
  }
}
