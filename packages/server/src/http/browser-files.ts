import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';

/** Where a browser application's files are (see `@coffer/web`). */
export interface BrowserFileDirs {
  /** index.html, CSS, SVG (and JSON), served at `/` and `/assets/…`. */
  assets: string;
  /** The compiled browser modules, served at `/js/…`. */
  scripts: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

/**
 * The page may load only what this device serves and talk only to it; no other site may frame it
 * (a framed panel or console could be clicked through by a page the user did not mean to trust).
 * Downloads use object URLs through an `<a download>`, which the policy does not govern.
 */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

function listFiles(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path, keep));
    else if (keep(name)) out.push(path);
  }
  return out;
}

function urlPath(dir: string, file: string): string {
  return relative(dir, file).split(sep).join('/');
}

export interface BrowserFilesOptions {
  /** The extensions served from `assets` (scripts are always `.js`). */
  assetExtensions: readonly string[];
  /** Extra options on every file route (e.g. `config.public` on the management port). */
  routeOptions?: RouteShorthandOptions;
}

/**
 * Serves a browser application from a Fastify instance: `/` is the page, `/assets/…` its static
 * files and `/js/…` its modules. The files are read once, when the app is built (after the
 * integrity self-test has checked them), and only files of the program's kinds are served: no
 * directory listing, no path taken from the request.
 */
export function serveBrowserFiles(
  dirs: BrowserFileDirs,
  options: BrowserFilesOptions,
): (app: FastifyInstance) => void {
  return (app) => {
    const files = new Map<string, { body: Buffer; type: string }>();
    const add = (url: string, path: string) =>
      files.set(url, { body: readFileSync(path), type: TYPES[extname(path)]! });
    for (const path of listFiles(dirs.assets, (n) => options.assetExtensions.includes(extname(n)))) {
      add(`/assets/${urlPath(dirs.assets, path)}`, path);
    }
    for (const path of listFiles(dirs.scripts, (n) => n.endsWith('.js')))
      add(`/js/${urlPath(dirs.scripts, path)}`, path);
    const index = files.get('/assets/index.html');
    if (index) files.set('/', index);
    for (const [url, file] of files) {
      app.get(url, options.routeOptions ?? {}, async (_request, reply) =>
        reply.headers(HEADERS).type(file.type).send(file.body),
      );
    }
  };
}
