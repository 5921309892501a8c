import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

/** Where the browser management tool's files are (see `@coffer/web`'s `managerFileDirs`). */
export interface ManagerFileDirs {
  /** index.html, CSS and SVG, served at `/` and `/assets/…`. */
  assets: string;
  /** The compiled browser modules, served at `/js/…`. */
  scripts: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The tool may load only what this device serves and talk only to it; no other site may frame it
 * (a framed console could be clicked through). `blob:` images are not needed: downloads use
 * object URLs through an `<a download>`, which the policy does not govern.
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

/**
 * Serves the management tool (manual §4, issue 6) on the management service's own port: `/` is the
 * page, `/assets/…` its CSS and SVG, `/js/…` its modules. Files are read once when the service
 * starts; only files of the program's kinds are served, never a path taken from the request. The
 * routes are public (the page itself holds no secret; every API call needs a session) and hidden
 * from the OpenAPI document.
 */
export function serveManagerFiles(dirs: ManagerFileDirs): (app: FastifyInstance) => void {
  return (app) => {
    const files = new Map<string, { body: Buffer; type: string }>();
    const add = (url: string, path: string) =>
      files.set(url, { body: readFileSync(path), type: TYPES[extname(path)]! });
    for (const path of listFiles(dirs.assets, (n) => ['.html', '.css', '.svg'].includes(extname(n))))
      add(`/assets/${relative(dirs.assets, path).split(sep).join('/')}`, path);
    for (const path of listFiles(dirs.scripts, (n) => n.endsWith('.js')))
      add(`/js/${relative(dirs.scripts, path).split(sep).join('/')}`, path);
    const index = files.get('/assets/index.html');
    if (index) files.set('/', index);
    for (const [url, file] of files) {
      app.get(
        url,
        { config: { public: true }, schema: { hide: true, response: { 200: Type.String() } } },
        async (_request, reply) => reply.headers(HEADERS).type(file.type).send(file.body),
      );
    }
  };
}
