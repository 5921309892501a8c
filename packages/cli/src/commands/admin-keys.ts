import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CofferError, type ErrorCode, isErrorCode } from '@coffer/core';
import type { Command } from 'commander';
import type { AdminClient } from '../admin-client.js';
import { collect } from '../output.js';
import type { AdminCli } from './admin-session.js';

// Types (not interfaces) so that rows fit `cli.table`'s Record<string, unknown>.
type KeyView = {
  index: number;
  type: string;
  keyClass: string;
  creator: string;
  status: string;
  invalidReason: string | null;
  validityDays: number;
  description: string;
  createdAt: string;
  expiresAt: string;
  usage: string[];
  checkValue: string | null;
  publicKey: string | null;
};
type KeyDetail = KeyView & { operators: { operator: string; boundAt: string; boundBy: string }[] };
interface KeyPage {
  keys: KeyView[];
  page: { page: number; size: number; from: number; to: number; total: number };
}
interface JobView {
  id: string;
  kind: string;
  status: 'running' | 'done' | 'failed';
  done: number;
  total: number;
  result: unknown;
  error: { code: string; message: string; details: Record<string, unknown> } | null;
  hasFile: boolean;
}
interface TransferReport {
  committed: boolean;
  total: number;
  written: number;
  skipped: number;
  refused: number;
  entries: {
    position: number;
    where: string;
    index: number | null;
    outcome: string;
    code?: string;
    message: string;
  }[];
}

function int(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value))
      throw new CofferError('ERR_BAD_REQUEST', `--${name} must be a whole number, not '${value}'.`);
    return Number(value);
  };
}

function index(value: string): number {
  if (!/^\d+$/.test(value))
    throw new CofferError('ERR_KEY_INDEX', `A key index is a whole number, not '${value}'.`);
  return Number(value);
}

/** `--usage encrypt,decrypt --usage wrap` → ['encrypt', 'decrypt', 'wrap']; undefined when not given. */
function usageList(values: string[]): string[] | undefined {
  const flags = values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  return flags.length > 0 ? flags : undefined;
}

/** Asks "yes or no" on the terminal before a deletion; a script must say --yes. */
async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `${question} Confirm with --yes (there is no terminal to ask on).`,
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes')
      throw new CofferError('ERR_BAD_REQUEST', 'Cancelled: nothing was deleted.');
  } finally {
    rl.close();
  }
}

const KEY_COLUMNS = [
  'index',
  'type',
  'creator',
  'status',
  'validityDays',
  'description',
  'createdAt',
] as const;

/**
 * `coffer admin keys …`: the Safe Manager's functions (manual §4.4.2) with a C card. Long operations
 * (a batch of keys, import, back up, restore) run as jobs on the device; the command polls the job
 * and draws a progress bar on the terminal. Every command takes `--json` (on `coffer`) for scripts.
 */
export function registerAdminKeys(admin: Command, cli: AdminCli): void {
  const { print } = cli;

  /** Starts a job, follows its progress, and returns it once finished; a failed job is an error. */
  const runJob = async (c: AdminClient, path: string, body: unknown, label: string): Promise<JobView> => {
    const started = await c.post<{ jobId: string; total: number }>(path, body);
    const bar = cli.progress(label);
    bar.update(0, started.total);
    let job: JobView;
    try {
      for (;;) {
        job = await c.get<JobView>(`/api/jobs/${encodeURIComponent(started.jobId)}`);
        bar.update(job.done, job.total);
        if (job.status !== 'running') break;
        await sleep(200);
      }
    } finally {
      bar.finish();
    }
    if (job.status === 'failed') {
      const report = job.result as TransferReport | null;
      if (report?.entries && !print.json) printReport(report, true);
      const e = job.error!;
      const code: ErrorCode = isErrorCode(e.code) ? e.code : 'ERR_INTERNAL';
      throw new CofferError(
        code,
        e.message,
        report?.entries ? { refused: report.refused, total: report.total } : {},
      );
    }
    return job;
  };

  const printReport = (report: TransferReport, refusedOnly = false) => {
    const out = refusedOnly ? process.stderr : process.stdout;
    for (const e of report.entries) {
      if (refusedOnly && e.outcome !== 'refused') continue;
      const what = e.outcome === 'refused' ? `refused ${e.code}` : e.outcome;
      out.write(`  ${e.where}: ${what}${e.message ? ` — ${e.message}` : ''}\n`);
    }
  };

  const keys = admin
    .command('keys')
    .description(
      'symmetric and asymmetric keys: list, add, show, import, back up, restore, status, bind (§4.4.2; Safe Manager)',
    );

  keys
    .command('list')
    .description('query keys by creation time, class and status, newest first, one page at a time')
    .option('--from <time>', 'created from, e.g. 2026-03-01 or 2026-03-01T08:00:00Z')
    .option('--to <time>', 'created until (inclusive; a date alone means the whole day)')
    .option('--class <class>', 'symmetric or asymmetric (the manual’s two pages)')
    .option('--status <status>', 'normal, discard or invalid')
    .option('--page <n>', 'page number, from 1', int('page'), 1)
    .option('--size <n>', 'rows per page (1–1000)', int('size'), 10)
    .action(
      (o: { from?: string; to?: string; class?: string; status?: string; page: number; size: number }) =>
        cli.run(async (c) => {
          const reply = await c.get<KeyPage>('/api/keys', {
            from: o.from,
            to: o.to,
            class: o.class,
            status: o.status,
            page: o.page,
            size: o.size,
          });
          if (print.json) return print.value(reply);
          cli.table(reply.keys, KEY_COLUMNS);
          const p = reply.page;
          process.stdout.write(`From ${p.from} To ${p.to} Total ${p.total} rows (page ${p.page})\n`);
        }),
    );

  keys
    .command('types')
    .description('the key types this device keeps, with their allowed and default usage flags')
    .action(() =>
      cli.run(async (c) => {
        const reply = await c.get<{ types: Record<string, unknown>[] }>('/api/keys/types');
        if (print.json) return print.value(reply);
        cli.table(reply.types, ['name', 'keyClass', 'bits', 'defaultUsage', 'allowedUsage']);
      }),
    );

  keys
    .command('add')
    .description('generate a key inside the device (or --count N of them, with a progress bar)')
    .requiredOption(
      '--type <type>',
      'AES-128/192/256, SM4, 3DES, 3DES-2KEY, HMAC-SHA256/384/512, HMAC-SM3, RSA-1024…4096, EC-P256, EC-P384, SM2, Ed25519',
    )
    .option('--index <n>', 'key index (default: the next free one)', index)
    .option('--validity-days <n>', 'validity period in days (1–36500)', int('validity-days'), 3650)
    .option('--description <text>', 'up to 256 characters')
    .option('--usage <flags>', 'usage flags, comma-separated or repeated (default: the type’s)', collect, [])
    .option('--count <n>', 'how many keys of this type, at the next free indexes', int('count'), 1)
    .action(
      (o: {
        type: string;
        index?: number;
        validityDays: number;
        description?: string;
        usage: string[];
        count: number;
      }) =>
        cli.run(async (c) => {
          const usage = usageList(o.usage);
          const base = {
            type: o.type,
            validityDays: o.validityDays,
            ...(o.description !== undefined ? { description: o.description } : {}),
            ...(usage ? { usage } : {}),
          };
          if (o.count === 1) {
            const key = await c.post<KeyView>('/api/keys', {
              ...base,
              ...(o.index !== undefined ? { index: o.index } : {}),
            });
            if (print.json) return print.value(key);
            return print.line(
              `key ${key.index} (${key.type}) added; ${key.checkValue ? `check value ${key.checkValue}` : 'public key: keys show'}`,
            );
          }
          if (o.index !== undefined) {
            throw new CofferError(
              'ERR_BAD_REQUEST',
              'A batch takes the next free indexes; give --index only with one key.',
            );
          }
          const job = await runJob(
            c,
            '/api/keys/batch',
            { ...base, count: o.count },
            `adding ${o.count} ${o.type} keys`,
          );
          const { indexes } = job.result as { indexes: number[] };
          if (print.json) return print.value(job.result);
          print.line(`${indexes.length} ${o.type} keys added: ${compact(indexes)}`);
        }),
    );

  keys
    .command('show <index>')
    .description('key detail: check value or public key, usage, validity, expiry, bound operators')
    .action((n: string) =>
      cli.run(async (c) => {
        const key = await c.get<KeyDetail>(`/api/keys/${index(n)}`);
        if (print.json) return print.value(key);
        const lines = [
          `index:        ${key.index}`,
          `type:         ${key.type} (${key.keyClass})`,
          `status:       ${key.status}${key.invalidReason ? ` (${key.invalidReason})` : ''}`,
          `creator:      ${key.creator}`,
          `created:      ${key.createdAt}`,
          `validity:     ${key.validityDays} days, expires ${key.expiresAt}`,
          `usage:        ${key.usage.join(', ')}`,
          `description:  ${key.description || '-'}`,
          `operators:    ${key.operators.map((o) => o.operator).join(', ') || '-'}`,
          key.checkValue ? `check value:  ${key.checkValue}` : `public key:\n${key.publicKey?.trimEnd()}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );

  keys
    .command('import <file>')
    .description(
      'import a key file: PEM (bundle), JWK / JWK Set, PKCS#8 DER or base64, hex lines, wrapped keys, a Coffer import list',
    )
    .option('--type <type>', 'the type of raw secrets (hex lines, oct JWKs, wrapped secrets)')
    .option('--kek <n>', 'the stored AES key that unwraps wrapped keys (AES key wrap, RFC 3394/5649)', index)
    .option('--wrap-alg <alg>', 'aes-kw (RFC 3394) or aes-kwp (RFC 5649); default: recognised')
    .option('--format <format>', 'pem, json, der, base64 or hex; default: recognised from the content')
    .option('--index <n>', 'for a file with one key: its index', index)
    .option('--validity-days <n>', 'validity of the imported keys in days (1–36500)', int('validity-days'))
    .option('--description <text>', 'description of the imported keys')
    .option('--usage <flags>', 'usage flags of the imported keys, comma-separated or repeated', collect, [])
    .action(
      (
        file: string,
        o: {
          type?: string;
          kek?: number;
          wrapAlg?: string;
          format?: string;
          index?: number;
          validityDays?: number;
          description?: string;
          usage: string[];
        },
      ) =>
        cli.run(async (c) => {
          const content = readFile(file);
          const usage = usageList(o.usage);
          const body = {
            content: content.toString('base64'),
            fileName: basename(file),
            ...(o.type ? { type: o.type } : {}),
            ...(o.kek !== undefined ? { kek: o.kek } : {}),
            ...(o.wrapAlg ? { wrapAlg: o.wrapAlg } : {}),
            ...(o.format ? { format: o.format } : {}),
            ...(o.index !== undefined ? { index: o.index } : {}),
            ...(o.validityDays !== undefined ? { validityDays: o.validityDays } : {}),
            ...(o.description !== undefined ? { description: o.description } : {}),
            ...(usage ? { usage } : {}),
          };
          const job = await runJob(c, '/api/keys/import', body, `importing ${basename(file)}`);
          const report = job.result as TransferReport;
          if (print.json) return print.value(report);
          printReport(report);
          print.line(`${report.written} keys imported from ${file}`);
        }),
    );

  keys
    .command('backup')
    .description(
      'back up the selected keys (--index, repeated) or all keys of a query into a file under the backup key',
    )
    .option('--index <n>', 'a key to back up (repeat)', collect, [])
    .option('--from <time>', 'query: created from')
    .option('--to <time>', 'query: created until (inclusive)')
    .option('--class <class>', 'query: symmetric or asymmetric')
    .option('--status <status>', 'query: normal, discard or invalid')
    .requiredOption('--out <file>', 'where to write the backup file')
    .action(
      (o: { index: string[]; from?: string; to?: string; class?: string; status?: string; out: string }) =>
        cli.run(async (c) => {
          const body =
            o.index.length > 0
              ? { indexes: o.index.map(index) }
              : {
                  query: {
                    ...(o.from ? { from: o.from } : {}),
                    ...(o.to ? { to: o.to } : {}),
                    ...(o.class ? { class: o.class } : {}),
                    ...(o.status ? { status: o.status } : {}),
                  },
                };
          const job = await runJob(c, '/api/keys/backup', body, 'backing up keys');
          const file = await c.download('GET', `/api/jobs/${encodeURIComponent(job.id)}/file`);
          const { count } = job.result as { count: number };
          cli.save(o.out, file.body, `backup of ${count} keys`);
        }),
    );

  keys
    .command('restore <file>')
    .description('restore a backup file made on a device of the same key domain (all or nothing)')
    .option('--renumber', 'give a key whose index holds another key here the next free index (else refused)')
    .action((file: string, o: { renumber?: boolean }) =>
      cli.run(async (c) => {
        const content = readFile(file);
        const job = await runJob(
          c,
          '/api/keys/restore',
          {
            content: content.toString('base64'),
            fileName: basename(file),
            ...(o.renumber ? { renumber: true } : {}),
          },
          `restoring ${basename(file)}`,
        );
        const report = job.result as TransferReport;
        if (print.json) return print.value(report);
        printReport(report);
        print.line(`${report.written} keys restored, ${report.skipped} already here`);
      }),
    );

  for (const [name, path, description, alias] of [
    ['discard', 'discard', 'discard a key (normal → discard)', undefined],
    ['restore-status', 'restore', 'restore a discarded key (discard → normal)', 'enable'],
    ['invalidate', 'invalidate', 'invalidate a key on purpose (for good; then it can be deleted)', undefined],
  ] as const) {
    const command = keys
      .command(`${name} <index>`)
      .description(description)
      .action((n: string) =>
        cli.run(async (c) => {
          const key = await c.post<KeyView>(`/api/keys/${index(n)}/${path}`);
          if (print.json) return print.value(key);
          print.line(`key ${key.index} is ${key.status}`);
        }),
      );
    if (alias) command.alias(alias);
  }

  keys
    .command('delete <index>')
    .description('delete an invalid key (asks for confirmation)')
    .option('--yes', 'do not ask')
    .action(async (n: string, o: { yes?: boolean }) => {
      const i = index(n);
      if (!o.yes) await confirm(`Delete key ${i}? This cannot be undone.`);
      await cli.run(async (c) => {
        const reply = await c.delete<{ ok: boolean; bindingsRemoved: number }>(`/api/keys/${i}`);
        if (print.json) return print.value(reply);
        print.line(`key ${i} deleted (${reply.bindingsRemoved} bindings removed)`);
      });
    });

  for (const verb of ['bind', 'unbind'] as const) {
    keys
      .command(`${verb} <index>`)
      .description(
        verb === 'bind'
          ? 'bind the key with operators (only bound operators may use it)'
          : 'unbind operators from the key',
      )
      .requiredOption('--operator <name>', 'an operator (repeat for several)', collect)
      .action((n: string, o: { operator: string[] }) =>
        cli.run(async (c) => {
          const key = await c.post<KeyDetail>(`/api/keys/${index(n)}/${verb}`, { operators: o.operator });
          if (print.json) return print.value(key);
          print.line(
            `key ${key.index} is bound to: ${key.operators.map((b) => b.operator).join(', ') || '(nobody)'}`,
          );
        }),
      );
  }

  keys
    .command('operators')
    .description('the operator names to bind keys to')
    .action(() =>
      cli.run(async (c) => {
        const reply = await c.get<{ names: string[] }>('/api/operator-names');
        if (print.json) return print.value(reply);
        for (const name of reply.names) process.stdout.write(`${name}\n`);
      }),
    );
}

function readFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CofferError('ERR_BAD_REQUEST', `Cannot read ${file}: ${(error as Error).message}`);
  }
}

/** "1-5, 8" */
function compact(indexes: number[]): string {
  const sorted = [...indexes].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
