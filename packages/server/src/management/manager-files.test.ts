import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Device } from '@coffer/core';
import type { FastifyInstance } from 'fastify';
import { buildManagementApp } from './management-app.js';
import { serveManagerFiles } from './manager-files.js';

/** The routes are only registered and the files served: a device that refuses every use makes that plain. */
const noDevice = new Proxy({} as Device, {
  get() {
    throw new Error('serving the management tool must not use the device');
  },
});

describe('the management tool files on the management service', () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-manager-files-'));
    mkdirSync(join(dir, 'assets'));
    mkdirSync(join(dir, 'scripts/sub'), { recursive: true });
    writeFileSync(join(dir, 'assets/index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(dir, 'assets/manager.css'), 'body{}');
    writeFileSync(join(dir, 'assets/notes.txt'), 'not served');
    writeFileSync(join(dir, 'scripts/main.js'), 'export {};');
    writeFileSync(join(dir, 'scripts/sub/ui.js'), 'export {};');
    writeFileSync(join(dir, 'scripts/main.d.ts'), 'export {};');
    writeFileSync(join(dir, 'scripts/main.js.map'), '{}');
    app = await buildManagementApp({
      device: noDevice,
      slices: [],
      plugins: [serveManagerFiles({ assets: join(dir, 'assets'), scripts: join(dir, 'scripts') })],
    });
  });
  after(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page at / without a session, with a policy that allows nothing from elsewhere and no framing', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    for (const rule of [
      "default-src 'none'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ]) {
      assert.ok(csp.includes(rule), rule);
    }
    assert.equal(res.headers['x-frame-options'], 'DENY');
  });

  it('serves the CSS under /assets/ and every compiled module under /js/, nothing else', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/assets/manager.css' })).statusCode, 200);
    const js = await app.inject({ method: 'GET', url: '/js/sub/ui.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    for (const url of [
      '/js/main.d.ts',
      '/js/main.js.map',
      '/assets/notes.txt',
      '/assets/../scripts/main.js',
    ]) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404, url);
    }
  });

  it('keeps the files out of the OpenAPI document', async () => {
    const doc = app.swagger() as { paths?: Record<string, unknown> };
    assert.ok(
      !Object.keys(doc.paths ?? {}).some(
        (p) => p === '/' || p.startsWith('/js/') || p.startsWith('/assets/'),
      ),
    );
  });
});
