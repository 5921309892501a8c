import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BATCH, BATCH_RESULT_BODY } from './commands/batch.js';
import { SIGN } from './commands/sign.js';
import { isProtocolError } from './errors.js';
import { decodeBatchItems } from './registry.js';

describe('batch', () => {
  it('decodes each item on its own: a bad item is an error for that item only', () => {
    const good = SIGN.request.encode({ key: 3, algorithm: 'ecdsa-sha256', data: Buffer.from('a') });
    const body = BATCH.request.encode({ command: SIGN.code, items: [good, Buffer.from([1, 0]), good] });
    const { command, items } = decodeBatchItems(BATCH.request.decode(body));
    assert.equal(command, SIGN);
    assert.deepEqual(items[0], { request: { key: 3, algorithm: 'ecdsa-sha256', data: Buffer.from('a') } });
    assert.ok('error' in items[1]! && items[1].error.code === 'ERR_BODY_MALFORMED');
    assert.ok('request' in items[2]!);
  });

  it('refuses an unknown or unbatchable inner command with ERR_FIELD', () => {
    for (const code of [0x0001, 0x0080, 0x00f0, 0x7777]) {
      assert.throws(
        () => decodeBatchItems({ command: code, items: [] }),
        (e) => isProtocolError(e) && e.code === 'ERR_FIELD',
      );
    }
  });

  it('a result is a body or an error code with a message, never both or neither', () => {
    assert.doesNotThrow(() => BATCH_RESULT_BODY.encode({ body: Buffer.alloc(1) }));
    assert.doesNotThrow(() => BATCH_RESULT_BODY.encode({ errorCode: 'ERR_KEY_USAGE', errorMessage: 'no' }));
    assert.throws(
      () => BATCH_RESULT_BODY.encode({}),
      (e) => isProtocolError(e),
    );
    assert.throws(
      () => BATCH_RESULT_BODY.encode({ body: Buffer.alloc(1), errorCode: 'X', errorMessage: '' }),
      (e) => isProtocolError(e),
    );
    assert.throws(
      () => BATCH_RESULT_BODY.encode({ errorCode: 'X' }),
      (e) => isProtocolError(e),
    );
  });
});
