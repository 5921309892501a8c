#!/usr/bin/env node
// Runs every compiled test file (`*.test.js` under a workspace's dist/) with node's test runner.
// `npm test` builds first. Pass folders or files to run a part: `node scripts/run-tests.mjs packages/core`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const workspaces = [
  'packages/protocol',
  'packages/core',
  'packages/server',
  'packages/sdk',
  'packages/cli',
  'packages/web',
  'test/e2e',
];

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
}

const files = [];
for (const target of roots.length > 0 ? roots : workspaces) {
  const abs = resolve(root, target);
  if (abs.endsWith('.js')) files.push(abs);
  else if (abs.includes('/dist')) collect(abs, files);
  else collect(join(abs, 'dist'), files);
}
files.sort();
if (files.length === 0) {
  console.error('no test files found; run `npm run build` first');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-force-exit', '--test-timeout=240000', ...passThrough, ...files],
  {
    stdio: 'inherit',
    env: { ...process.env, COFFER_INSECURE_TEST_KDF: '1' },
  },
);
process.exit(result.status ?? 1);
