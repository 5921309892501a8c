import { join, resolve } from 'node:path';
import { AuditLog } from '@coffer/core';
import type { Command } from 'commander';
import type { Printer } from '../output.js';

/** `coffer audit verify`: checks the whole hash chain of the store in DIR, running or not. */
export function registerAudit(program: Command, print: Printer): void {
  const audit = program.command('audit').description('the audit log');
  audit
    .command('verify')
    .description('verify the hash chain of the audit log of the device that owns DIR')
    .option('--data <dir>', 'data directory', './data')
    .option('--json', 'machine-readable output')
    .action(async (o: { data: string; json?: boolean }) => {
      const store = await (await import('@coffer/server')).openSqliteStore(
        join(resolve(o.data), 'coffer.sqlite'),
        { readonly: true },
      );
      try {
        const result = await new AuditLog(store, () => new Date()).verify();
        if (o.json || print.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else if (result.ok)
          process.stdout.write(`audit chain intact: ${result.count} entries, head ${result.head}\n`);
        else process.stdout.write(`audit chain BROKEN at entry ${result.badSeq}: ${result.reason}\n`);
        if (!result.ok) process.exitCode = 2;
      } finally {
        await store.close();
      }
    });
}
