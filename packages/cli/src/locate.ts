import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CofferError } from '@coffer/core';
import { PanelClient } from './panel-client.js';

export const DEFAULT_PANEL = 'http://127.0.0.1:7010/';

/** The front panel of the device that owns `dataDir` (from its run.json), or the URL given. */
export function panelUrlFor(opts: { panel?: string; data?: string }): string {
  if (opts.panel) return opts.panel.endsWith('/') ? opts.panel : `${opts.panel}/`;
  const dir = resolve(opts.data ?? './data');
  const runFile = join(dir, 'run.json');
  if (existsSync(runFile)) {
    const run = JSON.parse(readFileSync(runFile, 'utf8')) as { panel?: string };
    if (run.panel) return run.panel;
  }
  if (opts.data)
    throw new CofferError(
      'ERR_NOT_FOUND',
      `No running device owns ${dir} (no run.json); start it with coffer start --data ${opts.data}.`,
    );
  return DEFAULT_PANEL;
}

export function panelClient(opts: { panel?: string; data?: string }): PanelClient {
  return new PanelClient(panelUrlFor(opts));
}

export function readCard(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CofferError('ERR_CARD_FORMAT', `Cannot read card file ${path}: ${(error as Error).message}`);
  }
}

/** Writes a card file as the card slot hands it out: mode 0600, pretty JSON. */
export function writeCard(path: string, card: unknown): void {
  writeFileSync(path, `${JSON.stringify(card, null, 2)}\n`, { mode: 0o600 });
}
