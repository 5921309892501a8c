import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

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
 * redacted by name. Level, retention and rotation are the Audit Manager's (management issue).
 */
export function openRunningLog(dataDir: string, level = 'info'): Logger {
  const dir = join(dataDir, 'logs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const destination = pino.destination({
    dest: join(dir, 'running.log'),
    mkdir: true,
    sync: true,
    mode: 0o600,
  });
  return pino(
    { level, redact: { paths: REDACTED_PATHS, censor: '[secret]' }, base: { svc: 'coffer' } },
    destination,
  );
}
