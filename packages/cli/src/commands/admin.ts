import { CofferError } from '@coffer/core';
import type { Command } from 'commander';
import type { AdminClient } from '../admin-client.js';
import { collect, type Printer } from '../output.js';
import { registerAdminKeys } from './admin-keys.js';
import { registerAdminOperators } from './admin-operators.js';
import { type AdminCli, makeAdminCli } from './admin-session.js';

interface Chain {
  ok: boolean;
  count?: number;
  badSeq?: number;
  reason?: string;
  message?: string;
}
interface LogPage {
  log: string;
  entries: Record<string, unknown>[];
  page: { page: number; size: number; from: number; to: number; total: number };
  chain: Chain;
}

function chainLine(chain: Chain): string {
  return chain.ok
    ? `audit chain: verified (${chain.count} entries)`
    : `audit chain: BROKEN at entry ${chain.badSeq} (${chain.reason}): ${chain.message}`;
}

function int(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value))
      throw new CofferError('ERR_BAD_REQUEST', `--${name} must be a whole number, not '${value}'.`);
    return Number(value);
  };
}

/**
 * `coffer admin …`: the management service (manual §4) from a terminal. Each command logs in with
 * the card (unsealed here with its PIN), does one thing and logs out. The System and Safe Manager
 * commands are added by `registerAdminOperators` and `registerAdminKeys`.
 */
export function registerAdmin(program: Command, print: Printer): void {
  const admin = program
    .command('admin')
    .description(
      'use the management service (manual §4) with a manager card: System (B), Safe (C) or Audit (D)',
    )
    .option('--url <url>', 'management service URL, https://IP:PORT/ (default: from --data DIR)')
    .option('--card <file>', 'your manager card file (B, C or D)')
    .option('--pin-file <file>', 'file holding the card PIN (else $COFFER_PIN, else a prompt)')
    .option('--ca <file>', 'device CA certificate to pin (default: DIR/ca.pem with --data DIR)')
    .option('--data <dir>', 'data directory of a device on this host (its run.json, ca.pem, dev.json)')
    .option(
      '--as <slot>',
      'with --data of a coffer dev device: use its card of this slot (B1, C1, D1) and PIN',
    );
  const cli: AdminCli = makeAdminCli(admin, print);

  admin
    .command('whoami')
    .description('log in and show the session (account, role)')
    .action(() => cli.run(async (c) => print.value(await c.get('/api/session'))));

  admin
    .command('device-info')
    .description('view device information (§4.4.1.3, §4.4.3.6; every role)')
    .action(() => cli.run(async (c) => print.value(await c.get('/api/device-info'))));

  admin
    .command('network')
    .description('check device network configuration (§4.4.3.5; Audit Manager)')
    .action(() => cli.run(async (c) => print.value(await c.get('/api/network'))));

  registerLogs(admin, cli);
  registerLogSettings(admin, cli);
  registerRunningLogs(admin, cli);
  registerAdminOperators(admin, cli);
  registerAdminKeys(admin, cli);
}

function registerLogs(admin: Command, cli: AdminCli): void {
  const { print } = cli;
  const logs = admin.command('logs').description('manager and operator logs (§4.4.3.1–2; Audit Manager)');
  for (const log of ['manager', 'operator'] as const) {
    logs
      .command(log)
      .description(`query the ${log} log by time range, newest first, with the chain verification`)
      .option('--from <time>', 'start, e.g. 2026-03-01 or 2026-03-01T08:00:00Z')
      .option('--to <time>', 'end (inclusive)')
      .option('--page <n>', 'page number, from 1', int('page'), 1)
      .option('--size <n>', 'rows per page (1–1000)', int('size'), 10)
      .action((o: { from?: string; to?: string; page: number; size: number }) =>
        cli.run(async (c) => {
          const reply = await c.get<LogPage>(`/api/logs/${log}`, o);
          if (print.json) return print.value(reply);
          cli.table(reply.entries, [
            'seq',
            'source',
            'account',
            'clientIp',
            'businessType',
            'result',
            'time',
            'content',
          ]);
          const p = reply.page;
          process.stdout.write(
            `From ${p.from} To ${p.to} Total ${p.total} rows (page ${p.page})\n${chainLine(reply.chain)}\n`,
          );
        }),
      );
  }
  logs
    .command('show <seq>')
    .description('details of one entry')
    .option('--log <log>', 'manager or operator', 'manager')
    .action((seq: string, o: { log: string }) =>
      cli.run(async (c) =>
        print.value(await c.get(`/api/logs/${encodeURIComponent(o.log)}/${encodeURIComponent(seq)}`)),
      ),
    );
  logs
    .command('export')
    .description(
      'export the selected entries (--seq) or the whole query (--from/--to) with their chain digests',
    )
    .option('--log <log>', 'manager or operator', 'manager')
    .option('--format <format>', 'csv or json', 'csv')
    .option('--seq <n>', 'an entry to export (repeat); without it, the whole query', collect, [])
    .option('--from <time>', 'start of the query')
    .option('--to <time>', 'end of the query')
    .requiredOption('--out <file>', 'where to write the export')
    .action((o: { log: string; format: string; seq: string[]; from?: string; to?: string; out: string }) =>
      cli.run(async (c) => {
        const body = {
          log: o.log,
          format: o.format,
          ...(o.seq.length > 0 ? { seqs: o.seq.map(int('seq')) } : {}),
          ...(o.from ? { from: o.from } : {}),
          ...(o.to ? { to: o.to } : {}),
        };
        const reply = await c.download('POST', '/api/logs/export', body);
        cli.save(o.out, reply.body, `${o.log} log export (${o.format})`);
        const chain = String(reply.headers['x-audit-chain'] ?? '');
        if (!print.json) process.stdout.write(`audit chain at export: ${chain}\n`);
      }),
    );
  logs
    .command('verify')
    .description('verify the whole audit chain; exits 1 when it is broken')
    .action(() =>
      cli.run(async (c) => {
        const chain = await c.get<Chain>('/api/logs/verify');
        if (print.json) print.value(chain);
        else process.stdout.write(`${chainLine(chain)}\n`);
        if (!chain.ok)
          throw new CofferError('ERR_AUDIT_CHAIN', chain.message ?? 'The audit chain is broken.');
      }),
    );
}

function registerLogSettings(admin: Command, cli: AdminCli): void {
  const { print } = cli;
  const settings = admin
    .command('log-settings')
    .description('running-log parameters (§4.4.3.3; Audit Manager)');
  settings
    .command('get')
    .description('show level, retention days and backup size threshold')
    .action(() => cli.run(async (c) => print.value(await c.get('/api/running-log/settings'))));
  settings
    .command('set')
    .description('change level, retention (1–365 days) or backup size threshold (MB); obeyed at once')
    .option('--level <level>', 'trace, debug, info, warn, error or fatal')
    .option('--retention-days <n>', 'days rotated running logs are kept (1–365)', int('retention-days'))
    .option('--size-mb <n>', 'size in MB at which the running log is rotated', int('size-mb'))
    .action((o: { level?: string; retentionDays?: number; sizeMb?: number }) =>
      cli.run(async (c) => {
        const body = {
          ...(o.level ? { level: o.level.toLowerCase() } : {}),
          ...(o.retentionDays !== undefined ? { retentionDays: o.retentionDays } : {}),
          ...(o.sizeMb !== undefined ? { backupSizeMb: o.sizeMb } : {}),
        };
        if (Object.keys(body).length === 0) {
          throw new CofferError(
            'ERR_BAD_REQUEST',
            'Give at least one of --level, --retention-days, --size-mb.',
          );
        }
        print.value(await c.put('/api/running-log/settings', body));
      }),
    );
}

function registerRunningLogs(admin: Command, cli: AdminCli): void {
  const { print } = cli;
  const running = admin
    .command('running-logs')
    .description('view and download the running logs (§4.4.3.4; Audit Manager)');
  running
    .command('list')
    .description('the running log files')
    .action(() =>
      cli.run(async (c) => {
        const reply = await c.get<{ files: Record<string, unknown>[] }>('/api/running-logs');
        if (print.json) return print.value(reply);
        cli.table(reply.files, ['name', 'size', 'modifiedAt', 'current']);
      }),
    );
  running
    .command('get <name>')
    .description('download one running log file')
    .requiredOption('--out <file>', 'where to write it')
    .action((name: string, o: { out: string }) =>
      cli.run(async (c: AdminClient) => {
        const reply = await c.download('GET', `/api/running-logs/${encodeURIComponent(name)}`);
        cli.save(o.out, reply.body, `running log ${name}`);
      }),
    );
  running
    .command('tail <name>')
    .description('view the last lines of a running log file')
    .option('--lines <n>', 'how many lines (1–5000)', int('lines'), 50)
    .action((name: string, o: { lines: number }) =>
      cli.run(async (c) => {
        const reply = await c.get<{ lines: string[] }>(`/api/running-logs/${encodeURIComponent(name)}/tail`, {
          lines: o.lines,
        });
        if (print.json) return print.value(reply);
        for (const line of reply.lines) process.stdout.write(`${line}\n`);
      }),
    );
}
