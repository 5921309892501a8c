import type { Command } from 'commander';
import { formatStatus } from './status.js';

/** Keeps the process alive until SIGINT/SIGTERM or the panel's ShutDown, closing cleanly. */
export function closeOnSignals(close: () => Promise<void>): void {
  let closing = false;
  const stop = (code: number) => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the device: self-tests, then the front panel on 127.0.0.1')
    .option('--data <dir>', 'data directory (SQLite store, identity, logs)', './data')
    .option('--panel-port <port>', 'front-panel port (0: any free port)', '7010')
    .action(async (o: { data: string; panelPort: string }) => {
      let shutdown: () => void = () => undefined;
      const daemon = await (await import('@coffer/server')).startDaemon({
        dataDir: o.data,
        panelPort: Number(o.panelPort),
        onShutdown: () => shutdown(),
      });
      shutdown = () => {
        daemon.close().finally(() => process.exit(0));
      };
      process.stdout.write(
        `Coffer front panel: ${daemon.panelUrl}\n${formatStatus(daemon.device.status())}\n`,
      );
      closeOnSignals(() => daemon.close());
    });
}
