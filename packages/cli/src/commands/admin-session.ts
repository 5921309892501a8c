import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CARD_KDF_ITERATIONS, CofferError } from '@coffer/core';
import type { Command } from 'commander';
import { AdminClient } from '../admin-client.js';
import { readCard } from '../locate.js';
import type { Printer } from '../output.js';
import { getSecret } from '../secrets.js';

/** The options every `coffer admin` command takes (on `admin`, before the subcommand). */
export interface AdminOptions {
  url?: string;
  card?: string;
  pinFile?: string;
  ca?: string;
  data?: string;
  as?: string;
}

/** What `coffer admin` gives the files that add subcommands (operators, licence, whitelist, keys). */
export interface AdminCli {
  print: Printer;
  /**
   * Logs in with the card and PIN of the admin options, runs `fn`, and logs out (also on failure).
   * A refusal becomes a CofferError: `coffer` prints `error CODE: message` and exits 1.
   */
  run<T>(fn: (client: AdminClient) => Promise<T>): Promise<T>;
  /** Writes a downloaded file (mode 0600) and says so. */
  save(path: string, data: Buffer | string, what: string): void;
  /** Prints rows as an aligned table (people) — callers print JSON themselves with `print.json`. */
  table(rows: readonly Record<string, unknown>[], columns: readonly string[]): void;
  /** A progress bar on stderr (only on a terminal, never with --json). */
  progress(label: string): Progress;
}

export interface Progress {
  update(done: number, total: number): void;
  finish(): void;
}

const INSECURE_TEST_KDF = () => process.env['COFFER_INSECURE_TEST_KDF'] === '1';

interface RunJson {
  management?: string;
  ca?: string;
}
interface DevJsonCards {
  cards?: { slot: string; file: string; pin: string }[];
  management?: string | null;
  ca?: string;
}

function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/**
 * Where the connection settings come from, first match wins:
 * - URL: `--url`, `$COFFER_MANAGEMENT_URL`, `--data DIR` (run.json, else dev.json);
 * - device CA to pin: `--ca FILE`, `$COFFER_CA`, `--data DIR` (DIR/ca.pem, written when the service starts);
 * - card: `--card FILE`, `$COFFER_CARD`, or `--as SLOT` with `--data DIR` of a `coffer dev` device (dev.json);
 * - PIN: `--pin-file F`, `$COFFER_PIN`, `--as SLOT` (dev.json), or a prompt without echo.
 */
export async function resolveAdmin(
  o: AdminOptions,
): Promise<{ url: string; caPem: string; card: unknown; pin: string; label: string }> {
  const dir = o.data ? resolve(o.data) : null;
  const run = dir ? readJson<RunJson>(join(dir, 'run.json')) : null;
  const dev = dir ? readJson<DevJsonCards>(join(dir, 'dev.json')) : null;
  const url = o.url ?? process.env['COFFER_MANAGEMENT_URL'] ?? run?.management ?? dev?.management ?? null;
  if (!url) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      dir
        ? `The device in ${dir} has no management service running (start the service), or give --url.`
        : 'Give the management URL with --url https://IP:PORT/ (or --data DIR of a running device).',
    );
  }
  const caFile =
    o.ca ?? process.env['COFFER_CA'] ?? (dir ? (run?.ca ?? dev?.ca ?? join(dir, 'ca.pem')) : null);
  if (!caFile) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      'Give the device CA certificate to pin with --ca FILE (the device writes it to DATA/ca.pem when the service starts).',
    );
  }
  let caPem: string;
  try {
    caPem = readFileSync(caFile, 'utf8');
  } catch (error) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `Cannot read the device CA ${caFile}: ${(error as Error).message}`,
    );
  }
  const devCard = o.as ? dev?.cards?.find((c) => c.slot === o.as!.toUpperCase()) : undefined;
  if (o.as && !devCard) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `--as ${o.as} needs --data DIR of a coffer dev device whose dev.json lists that card.`,
    );
  }
  const cardFile = o.card ?? process.env['COFFER_CARD'] ?? devCard?.file;
  if (!cardFile) {
    throw new CofferError('ERR_BAD_REQUEST', 'Give your manager card with --card FILE (a B, C or D card).');
  }
  const card = readCard(cardFile);
  const label = String((card as { slot?: unknown }).slot ?? 'manager');
  const pin =
    o.pinFile || process.env['COFFER_PIN'] !== undefined || !devCard
      ? await getSecret({
          files: o.pinFile ? [o.pinFile] : [],
          env: 'COFFER_PIN',
          prompt: `PIN of card ${label}: `,
        })
      : devCard.pin;
  return { url, caPem, card, pin, label };
}

export function makeAdminCli(admin: Command, print: Printer): AdminCli {
  return {
    print,
    async run(fn) {
      const { url, caPem, card, pin } = await resolveAdmin(admin.opts() as AdminOptions);
      const client = new AdminClient(url, {
        caPem,
        minCardIterations: INSECURE_TEST_KDF() ? 1_000 : CARD_KDF_ITERATIONS,
      });
      try {
        await client.login(card, pin);
        try {
          return await fn(client);
        } finally {
          await client.logout().catch(() => undefined);
        }
      } finally {
        client.close();
      }
    },
    save(path, data, what) {
      writeFileSync(path, data, { mode: 0o600 });
      const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      print.line(`${what} written to ${path} (${bytes} bytes)`, { file: path, bytes });
    },
    table(rows, columns) {
      if (rows.length === 0) {
        process.stdout.write('(none)\n');
        return;
      }
      const text = (v: unknown) =>
        v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') : String(v);
      const widths = columns.map((c) =>
        Math.min(60, Math.max(c.length, ...rows.map((r) => text(r[c]).length))),
      );
      const cut = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
      process.stdout.write(
        `${columns
          .map((c, i) => cut(c, widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
      );
      for (const r of rows) {
        process.stdout.write(
          `${columns
            .map((c, i) => cut(text(r[c]), widths[i]!))
            .join('  ')
            .trimEnd()}\n`,
        );
      }
    },
    progress(label) {
      const live = process.stderr.isTTY && !print.json;
      let last = '';
      return {
        update(done, total) {
          if (!live) return;
          const width = 30;
          const filled = total > 0 ? Math.round((done / total) * width) : 0;
          const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
          if (line !== last) process.stderr.write(`\r${line}`);
          last = line;
        },
        finish() {
          if (live && last) process.stderr.write('\n');
        },
      };
    },
  };
}
