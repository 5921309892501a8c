import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { DEFAULT_RUNNING_LOG_SETTINGS, RotatingLogStream, RunningLogFiles } from './running-log-files.js';

/** Field names whose values never reach the running log, wherever they appear. */
export const REDACTED_PATHS = [
  'pin',
  '*.pin',
  'oldPin',
  '*.oldPin',
  'newPin',
  '*.newPin',
  'pinConfirm',
  '*.pinConfirm',
  'newPinConfirm',
  '*.newPinConfirm',
  'mkPart',
  '*.mkPart',
  'mkPartConfirm',
  '*.mkPartConfirm',
  'mkPartPin',
  '*.mkPartPin',
  'mkPartPinConfirm',
  '*.mkPartPinConfirm',
  'share',
  '*.share',
  'key',
  '*.key',
  'passphrase',
  '*.passphrase',
  'card',
  '*.card',
  'token',
  '*.token',
  'req.headers["x-ceremony-token"]',
  'req.headers.authorization',
];

/**
 * The running log (DESIGN §8): structured, operational, in DIR/logs/running.log, with secrets
 * redacted by name. Rotated by size and swept by age as the Audit Manager sets (manual §4.4.3.3):
 * see `RunningLogFiles`.
 */
export function openRunningLog(dataDir: string, level = 'info'): Logger {
  return openRunningLogFiles(dataDir, { level }).log;
}

/** The running log and the control of its files (level, rotation, retention, listing). */
export function openRunningLogFiles(
  dataDir: string,
  opts: { level?: string; now?: () => Date } = {},
): { log: Logger; files: RunningLogFiles } {
  const dir = join(dataDir, 'logs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = opts.now ?? (() => new Date());
  const stream = new RotatingLogStream(dir, DEFAULT_RUNNING_LOG_SETTINGS.backupSizeMb * 1024 * 1024, () =>
    files.now(),
  );
  const log = pino(
    {
      level: opts.level ?? DEFAULT_RUNNING_LOG_SETTINGS.level,
      redact: { paths: REDACTED_PATHS, censor: '[secret]' },
      base: { svc: 'coffer' },
    },
    stream,
  );
  const files: RunningLogFiles = new RunningLogFiles(dir, log, stream, now);
  return { log, files };
}
