import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { type BrowserFileDirs, serveBrowserFiles } from '../http/browser-files.js';

/** Where the browser management tool's files are (see `@coffer/web`'s `managerFileDirs`). */
export type ManagerFileDirs = BrowserFileDirs;

/**
 * Serves the management tool (manual §4, issue 6) on the management service's own port (see
 * `serveBrowserFiles`). The routes are public (the page itself holds no secret; every API call
 * needs a session) and hidden from the OpenAPI document.
 */
export function serveManagerFiles(dirs: ManagerFileDirs): (app: FastifyInstance) => void {
  return serveBrowserFiles(dirs, {
    assetExtensions: ['.html', '.css', '.svg'],
    routeOptions: { config: { public: true }, schema: { hide: true, response: { 200: Type.String() } } },
  });
}
