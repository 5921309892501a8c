import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type DevCard, initialise, PanelClient } from '@coffer/cli';
import { type Daemon, type DaemonOptions, startDaemon } from '@coffer/server';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const CLI = join(ROOT, 'packages/cli/dist/main.js');

export async function tempDir(prefix = 'coffer-e2e-'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A device in-process on a free loopback port, with a client of its front panel. */
export async function startTestDevice(
  dataDir: string,
  extra: Partial<DaemonOptions> = {},
): Promise<{ daemon: Daemon; api: PanelClient }> {
  const daemon = await startDaemon({ dataDir, panelPort: 0, ...extra });
  return { daemon, api: new PanelClient(daemon.panelUrl) };
}

export interface Initialised {
  cards: DevCard[];
  mkParts: { slot: string; mkPart: string }[];
  card(slot: string): DevCard;
}

/**
 * The whole initialisation ceremony with generated secrets (what `coffer dev` does); with
 * `options.mkParts`, these three MK components instead of random ones (the same key domain).
 */
export async function initialiseDevice(
  api: PanelClient,
  cardsDir: string,
  options: { mkParts?: readonly string[] } = {},
): Promise<Initialised> {
  const { cards, mkParts } = await initialise(api, cardsDir, options);
  return { cards, mkParts, card: (slot) => cards.find((c) => c.slot === slot)! };
}

/** Runs the `coffer` CLI to completion. */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Starts a long-running `coffer` command and resolves once its output matches `ready`. */
export function spawnCli(
  args: string[],
  ready: RegExp,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; cli?: string } = {},
): Promise<{ child: ChildProcess; output: () => string; match: RegExpMatchArray }> {
  return new Promise((resolveSpawn, reject) => {
    const child = spawn(process.execPath, [opts.cli ?? CLI, ...args], {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out waiting for ${ready}; output:\n${out}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolveSpawn({ child, output: () => out, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.match(ready)) reject(new Error(`exited ${code} before ${ready}; output:\n${out}`));
    });
  });
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill(signal);
  });
}

/** Asserts that a promise rejects with a CofferError of `code`; returns the error. */
export async function refusal(
  promise: Promise<unknown>,
  code: string,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code: string; message: string; details: Record<string, unknown> };
    if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}
