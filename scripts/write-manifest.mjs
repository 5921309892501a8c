#!/usr/bin/env node
// Writes manifest.json: the SHA-256 of every file of the installed program (each workspace's
// package.json and dist/ JavaScript). The device checks it at every start (self-test "Software tampered").
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const workspaces = [
  'packages/protocol',
  'packages/core',
  'packages/server',
  'packages/sdk',
  'packages/cli',
  'packages/web',
];
const files = {};

function add(path) {
  files[relative(root, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
}
function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(js|json|html|css|svg)$/.test(name) && !name.endsWith('.test.js')) add(path);
  }
}
for (const ws of workspaces) {
  add(join(root, ws, 'package.json'));
  try {
    walk(join(root, ws, 'dist'));
  } catch {
    /* a workspace without output */
  }
  try {
    walk(join(root, ws, 'assets'));
  } catch {
    /* no static assets */
  }
}
writeFileSync(
  join(root, 'manifest.json'),
  JSON.stringify({ format: 'coffer-manifest', version: 1, files }, null, 2) + '\n',
);
console.log(`manifest.json: ${Object.keys(files).length} files`);
