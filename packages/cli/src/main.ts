#!/usr/bin/env node
import { isCofferError } from '@coffer/core';
import { Command } from 'commander';
import { registerAdmin } from './commands/admin.js';
import { registerAudit } from './commands/audit.js';
import { registerClient } from './commands/client.js';
import { registerDev } from './commands/dev.js';
import { registerPanel } from './commands/panel.js';
import { registerStart } from './commands/start.js';
import { registerStatus } from './commands/status.js';
import { makePrinter } from './output.js';

const program = new Command();
program
  .name('coffer')
  .description('Coffer, a network hardware security module in software')
  .option('--json', 'machine-readable output')
  .showHelpAfterError();
const print = makePrinter(() => Boolean(program.opts()['json']));

registerStart(program);
registerDev(program);
registerStatus(program, print);
registerPanel(program, print);
registerAudit(program, print);
registerAdmin(program, print);
registerClient(program, print);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (isCofferError(error)) {
    process.stderr.write(`error ${error.code}: ${error.message}\n`);
    if (print.json) process.stdout.write(`${JSON.stringify({ error: error.toJSON() })}\n`);
  } else {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
