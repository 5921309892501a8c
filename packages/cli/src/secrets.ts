import { readFileSync } from 'node:fs';
import { CofferError } from '@coffer/core';

/**
 * Where secrets come from, in this order: a file named on the command line (`--pin-file`, one per
 * card in card order), an environment variable (for scripts), or a prompt without echo. Files are
 * read whole with the trailing newline removed.
 */
export function readSecretFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new CofferError('ERR_BAD_REQUEST', `Cannot read secret file ${path}: ${(error as Error).message}`);
  }
}

/** Prompts on the terminal without echoing what is typed. */
export async function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `${question.replace(/:\s*$/, '')} is needed and there is no terminal to ask it on; use a --…-file option or the environment.`,
    );
  }
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new CofferError('ERR_BAD_REQUEST', 'Cancelled.'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    input.on('data', onData);
  });
}

export interface SecretSpec {
  /** Files given on the command line, used in order. */
  files?: string[];
  index?: number;
  env?: string;
  prompt: string;
}

/** Gets one secret from a file, the environment or a hidden prompt. */
export async function getSecret(spec: SecretSpec): Promise<string> {
  const file = spec.files?.[spec.index ?? 0];
  if (file) return readSecretFile(file);
  if (spec.env && process.env[spec.env] !== undefined) return process.env[spec.env]!;
  return promptHidden(spec.prompt);
}

/** A new secret asked twice on a terminal (files and environment give it once, used for both). */
export async function getNewSecret(spec: SecretSpec): Promise<[string, string]> {
  const file = spec.files?.[spec.index ?? 0];
  if (file) {
    const v = readSecretFile(file);
    return [v, v];
  }
  if (spec.env && process.env[spec.env] !== undefined)
    return [process.env[spec.env]!, process.env[spec.env]!];
  const first = await promptHidden(spec.prompt);
  const second = await promptHidden(spec.prompt.replace(/:\s*$/, '') + ' (again): ');
  return [first, second];
}
