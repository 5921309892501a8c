import { defineCommand } from '../command.js';
import { bytes, nested, optional, repeated, required, string, struct, u16 } from '../tlv.js';

export const MAX_BATCH_ITEMS = 1000;

/** One result of a batch: the item's response body, or its error. */
export const BATCH_RESULT_BODY = struct(
  {
    body: optional(1, bytes(), 'the response body of the inner command'),
    errorCode: optional(2, string(64, 1), 'as in an error frame'),
    errorMessage: optional(3, string(1024)),
  },
  {
    name: 'batch result',
    rule: 'either body alone, or errorCode and errorMessage',
    check: (r) => {
      const hasError = r.errorCode !== undefined || r.errorMessage !== undefined;
      if (r.body !== undefined) return hasError ? 'A result with a body has no error.' : undefined;
      return r.errorCode !== undefined && r.errorMessage !== undefined
        ? undefined
        : 'A result is a body, or an error code and message.';
    },
  },
);

/** Many items of one command; results come back in the items' order, each a body or an error. */
export const BATCH = defineCommand({
  name: 'batch',
  code: 0x00f0,
  summary: 'Many requests of one batchable command in one frame.',
  batchable: false,
  request: struct({
    command: required(1, u16(1), 'the inner command code'),
    items: repeated(2, bytes(), MAX_BATCH_ITEMS, 'one field per item: a request body of that command'),
  }),
  response: struct({
    results: repeated(1, nested(BATCH_RESULT_BODY), MAX_BATCH_ITEMS, 'one per item, in order'),
  }),
});
