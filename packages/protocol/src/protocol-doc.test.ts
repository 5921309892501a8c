import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BATCH_RESULT_BODY } from './commands/batch.js';
import { KEY_INFO_BODY } from './commands/key-info.js';
import { SIGN } from './commands/sign.js';
import { VERIFY } from './commands/verify.js';
import { describeBody, describeCommand } from './describe.js';
import { ERROR_BODY, encodeError, encodeRequest, encodeResponse } from './messages.js';
import { COMMANDS } from './registry.js';

// docs/protocol.md is what a client in another language is written from: its tables and its worked
// example must be exactly what the codecs do.
// Tables are compared cell by cell, so that a formatter may align the document's columns.
function normalise(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split(/(?<!\\)\|/)
            .map((cell) => cell.trim().replace(/^-+$/, '---'))
            .join('|')
        : line,
    )
    .join('\n');
}
const doc = normalise(
  readFileSync(fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)), 'utf8'),
);

/** The hex bytes of the code blocks of §9, ignoring the annotations after them on each line. */
function exampleFrames(): Buffer[] {
  const section = doc.slice(doc.indexOf('## 9. Worked example'));
  return [...section.matchAll(/```\n([\s\S]*?)```/g)].map(([, block]) => {
    const hex: string[] = [];
    for (const line of block!.split('\n')) {
      for (const token of line.trim().split(/\s+/)) {
        if (!/^[0-9a-f]{2}$/.test(token)) break;
        hex.push(token);
      }
    }
    return Buffer.from(hex.join(''), 'hex');
  });
}

describe('docs/protocol.md', () => {
  for (const command of COMMANDS) {
    it(`has the generated section of ${command.name}`, () => {
      assert.ok(
        doc.includes(normalise(describeCommand(command))),
        `regenerate with describeCommand(${command.name.toUpperCase()})`,
      );
    });
  }

  it('has the shared bodies and the error body', () => {
    for (const body of [KEY_INFO_BODY, BATCH_RESULT_BODY, ERROR_BODY])
      assert.ok(doc.includes(normalise(describeBody(body).trimEnd())));
  });

  it('its worked example is byte for byte what the codecs write', () => {
    assert.deepEqual(exampleFrames(), [
      encodeRequest(SIGN, 1, { key: 5, algorithm: 'ecdsa-sha256', data: Buffer.from('hello') }),
      encodeResponse(VERIFY, 2, { valid: true }),
      encodeError(SIGN.code, 1, { code: 'ERR_KEY_USAGE', message: 'no' }),
    ]);
  });
});
