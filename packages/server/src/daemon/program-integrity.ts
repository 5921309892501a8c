import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

const WORKSPACES = [
  'packages/protocol',
  'packages/core',
  'packages/server',
  'packages/sdk',
  'packages/cli',
  'packages/web',
];

interface Manifest {
  format: 'coffer-manifest';
  version: 1;
  files: Record<string, string>;
}

async function listProgramFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      const entries = await readdir(path).then(
        () => true,
        () => false,
      );
      if (entries) await walk(path);
      else if (/\.(js|json|html|css|svg)$/.test(name) && !name.endsWith('.test.js'))
        out.push(relative(root, path));
    }
  }
  for (const ws of WORKSPACES) {
    await walk(join(root, ws, 'dist'));
    await walk(join(root, ws, 'assets'));
  }
  return out;
}

/**
 * Self-test "Software tampered": every program file must match the digest the build wrote into
 * manifest.json, and no program file may be missing from it or added beside it.
 * @throws Error naming the first file that differs (the device turns it into FAULT).
 */
export async function checkProgramIntegrity(root: string): Promise<void> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8'));
  } catch {
    throw new Error('manifest.json is missing or unreadable');
  }
  if (manifest.format !== 'coffer-manifest' || manifest.version !== 1 || typeof manifest.files !== 'object') {
    throw new Error('manifest.json is not a Coffer manifest');
  }
  for (const [file, digest] of Object.entries(manifest.files)) {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(root, file));
    } catch {
      throw new Error(`${file} is missing`);
    }
    if (createHash('sha256').update(bytes).digest('hex') !== digest)
      throw new Error(`${file} has been modified`);
  }
  for (const file of await listProgramFiles(root)) {
    if (!(file in manifest.files) && !file.endsWith('package.json'))
      throw new Error(`${file} is not part of the program`);
  }
}
