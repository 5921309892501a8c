import type { FastifyInstance } from 'fastify';
import { type BrowserFileDirs, serveBrowserFiles } from '../http/browser-files.js';

/** Where the browser front panel's files are (see `@coffer/web`'s `panelFileDirs`). */
export type PanelFileDirs = BrowserFileDirs;

/** Serves the browser front panel from the panel's own Fastify instance (see `serveBrowserFiles`). */
export function servePanelFiles(dirs: PanelFileDirs): (app: FastifyInstance) => void {
  return serveBrowserFiles(dirs, { assetExtensions: ['.html', '.css', '.svg', '.json'] });
}
