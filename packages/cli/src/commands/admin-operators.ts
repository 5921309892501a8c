import { createInterface } from 'node:readline/promises';
import { CofferError } from '@coffer/core';
import type { Command } from 'commander';
import { collect } from '../output.js';
import { getNewSecret } from '../secrets.js';
import type { AdminCli } from './admin-session.js';

// Types (not interfaces) so that rows fit `cli.table`'s Record<string, unknown>.
type OperatorView = {
  name: string;
  description: string;
  creator: string;
  createdAt: string;
};
interface OperatorPage {
  operators: OperatorView[];
  page: { page: number; size: number; from: number; to: number; total: number };
}
interface OperatorDetail {
  operator: OperatorView;
  whitelist: { ip: string; addedAt: string; addedBy: string }[];
  keys: { index: number; type: string; status: string; expiresAt: string; usage: string[] }[];
  licence: {
    serial: string;
    maxConnections: number;
    issuedAt: string;
    issuedBy: string;
    status: string;
  } | null;
  licencesIssued: number;
}
interface WhitelistEntry {
  ip: string;
  operators: { name: string; addedAt: string; addedBy: string }[];
}
interface LicenceFileHead {
  operator: string;
  serial: string;
  service: { host: string; port: number };
  maxConnections: number;
}

const path = {
  operators: '/api/operators',
  operator: (name: string) => `/api/operators/${encodeURIComponent(name)}`,
  licence: (name: string) => `/api/operators/${encodeURIComponent(name)}/licence`,
  whitelist: '/api/whitelist',
  ip: (ip: string) => `/api/whitelist/${encodeURIComponent(ip)}`,
};

function int(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value))
      throw new CofferError('ERR_BAD_REQUEST', `--${name} must be a whole number, not '${value}'.`);
    return Number(value);
  };
}

/**
 * Asks "yes or no" on the terminal; refuses (ERR_BAD_REQUEST) without one, so that a script must say
 * `--yes` to delete. Done before logging in: a declined deletion changes nothing and logs nothing.
 */
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

/**
 * `coffer admin operators|licence|whitelist …`: the System Manager's functions (manual §4.4.1) with a
 * B card. Every command takes `--json` (on `coffer`) for scripts.
 */
export function registerAdminOperators(admin: Command, cli: AdminCli): void {
  const { print } = cli;

  const operators = admin
    .command('operators')
    .description('operators: add, list, show, delete (§4.4.1.1; System Manager)');
  operators
    .command('add <name>')
    .description('add an operator (1–32 letters, digits, _ . -; starting with a letter or digit)')
    .option('--description <text>', 'what the operator is (up to 256 characters)', '')
    .action((name: string, o: { description: string }) =>
      cli.run(async (c) => {
        const reply = await c.post<{ operator: OperatorView }>(path.operators, {
          name,
          description: o.description,
        });
        if (print.json) return print.value(reply);
        print.line(
          `operator ${reply.operator.name} added by ${reply.operator.creator} at ${reply.operator.createdAt}`,
        );
      }),
    );
  operators
    .command('list')
    .description('list operators by name, one page at a time')
    .option('--page <n>', 'page number, from 1', int('page'), 1)
    .option('--size <n>', 'rows per page (1–1000)', int('size'), 10)
    .action((o: { page: number; size: number }) =>
      cli.run(async (c) => {
        const reply = await c.get<OperatorPage>(path.operators, { page: o.page, size: o.size });
        if (print.json) return print.value(reply);
        cli.table(reply.operators, ['name', 'creator', 'description', 'createdAt']);
        const p = reply.page;
        process.stdout.write(`From ${p.from} To ${p.to} Total ${p.total} rows (page ${p.page})\n`);
      }),
    );
  operators
    .command('show <name>')
    .description('an operator’s detail: basic information, whitelisted IPs, bound keys, current licence')
    .action((name: string) =>
      cli.run(async (c) => {
        const d = await c.get<OperatorDetail>(path.operator(name));
        if (print.json) return print.value(d);
        const out = process.stdout;
        out.write(`operator     ${d.operator.name}\ndescription  ${d.operator.description || '-'}\n`);
        out.write(`creator      ${d.operator.creator}\ncreated      ${d.operator.createdAt}\n`);
        out.write(
          d.licence
            ? `licence      serial ${d.licence.serial}, ${d.licence.maxConnections} connections, issued ${d.licence.issuedAt} by ${d.licence.issuedBy} (${d.licencesIssued} issued in all)\n`
            : 'licence      none (download one with `coffer admin licence download`)\n',
        );
        out.write(`white list   ${d.whitelist.map((w) => w.ip).join(', ') || '-'}\n\nbound keys\n`);
        cli.table(d.keys, ['index', 'type', 'status', 'expiresAt', 'usage']);
      }),
    );
  operators
    .command('delete <name>')
    .description('delete an operator: its white list pairs and key bindings go, its licences are revoked')
    .option('--yes', 'do not ask for confirmation')
    .action(async (name: string, o: { yes?: boolean }) => {
      if (!o.yes) {
        await confirm(
          `Delete operator ${name}? Its white list entries and key bindings are removed and its licence stops working at once.`,
        );
      }
      await cli.run(async (c) => {
        const reply = await c.delete<{
          deleted: string;
          whitelistRemoved: number;
          bindingsRemoved: number;
          licencesRevoked: number;
        }>(path.operator(name));
        if (print.json) return print.value(reply);
        print.line(
          `operator ${reply.deleted} deleted: ${reply.whitelistRemoved} white list pair(s) and ${reply.bindingsRemoved} key binding(s) removed, ${reply.licencesRevoked} licence(s) revoked`,
        );
      });
    });

  const licence = admin
    .command('licence')
    .description('licence files of operators (§4.4.1.1; System Manager)');
  licence
    .command('download <name>')
    .description('issue a licence file for an operator (re-keys it: its previous licence stops working)')
    .requiredOption(
      '--max-connections <n>',
      'maximum concurrent connections (1–10000)',
      int('max-connections'),
    )
    .option(
      '--licence-pin-file <file>',
      'file holding the licence PIN you choose (else $COFFER_LICENCE_PIN, else asked twice)',
    )
    .requiredOption('--out <file>', 'where to write the licence file (e.g. NAME.license)')
    .action((name: string, o: { maxConnections: number; licencePinFile?: string; out: string }) =>
      cli.run(async (c) => {
        // Asked after logging in, so a wrong card PIN fails before the licence PIN is typed.
        const [pin, pinConfirm] = await getNewSecret({
          files: o.licencePinFile ? [o.licencePinFile] : [],
          env: 'COFFER_LICENCE_PIN',
          prompt: `licence PIN for ${name} (8 of 0–9 and A–F, with a digit and a letter): `,
        });
        const reply = await c.download('POST', path.licence(name), {
          pin,
          pinConfirm,
          maxConnections: o.maxConnections,
        });
        const head = JSON.parse(reply.body.toString('utf8')) as LicenceFileHead;
        cli.save(o.out, reply.body, `licence file of ${head.operator}`);
        const info = {
          operator: head.operator,
          serial: head.serial,
          service: `${head.service.host}:${head.service.port}`,
          maxConnections: head.maxConnections,
          file: o.out,
        };
        if (print.json) return print.value(info);
        print.line(
          `serial ${info.serial}; service ${info.service}; at most ${info.maxConnections} connections`,
        );
      }),
    );

  const whitelist = admin
    .command('whitelist')
    .description('the service white list: IPs and their operators (§4.4.1.2; System Manager)');
  whitelist
    .command('add <ip>')
    .description('allow an IP for one or more operators')
    .requiredOption('--operator <name>', 'an operator allowed from this IP (repeat for several)', collect, [])
    .action((ip: string, o: { operator: string[] }) =>
      cli.run(async (c) => {
        const reply = await c.post<WhitelistEntry>(path.whitelist, { ip, operators: o.operator });
        if (print.json) return print.value(reply);
        print.line(`${reply.ip}: ${reply.operators.map((op) => op.name).join(', ')}`);
      }),
    );
  whitelist
    .command('list')
    .description('every whitelisted IP with its operators')
    .action(() =>
      cli.run(async (c) => {
        const reply = await c.get<{ entries: WhitelistEntry[] }>(path.whitelist);
        if (print.json) return print.value(reply);
        cli.table(
          reply.entries.map((e) => ({ ip: e.ip, operators: e.operators.map((op) => op.name) })),
          ['ip', 'operators'],
        );
      }),
    );
  whitelist
    .command('show <ip>')
    .description('one IP and the operators allowed from it')
    .action((ip: string) =>
      cli.run(async (c) => {
        const reply = await c.get<WhitelistEntry>(path.ip(ip));
        if (print.json) return print.value(reply);
        process.stdout.write(`${reply.ip}\n`);
        cli.table(reply.operators, ['name', 'addedBy', 'addedAt']);
      }),
    );
  whitelist
    .command('delete <ip>')
    .description('remove an IP and all its operators, or only its pair with --operator')
    .option('--operator <name>', 'remove only this operator’s pair')
    .action((ip: string, o: { operator?: string }) =>
      cli.run(async (c) => {
        const query = o.operator ? `?operator=${encodeURIComponent(o.operator)}` : '';
        const reply = await c.delete<{ ip: string; removed: number }>(`${path.ip(ip)}${query}`);
        if (print.json) return print.value(reply);
        print.line(`${reply.ip}: ${reply.removed} pair(s) removed`);
      }),
    );
}
