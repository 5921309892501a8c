import { HASH_ALGORITHMS } from '../algorithms.js';
import { defineCommand, payload } from '../command.js';
import { oneOf, required, struct } from '../tlv.js';

export const HASH = defineCommand({
  name: 'hash',
  code: 0x0011,
  summary: 'A digest of the data (no key involved).',
  batchable: true,
  request: struct({
    algorithm: required(1, oneOf(HASH_ALGORITHMS)),
    data: required(2, payload),
  }),
  response: struct({ digest: required(1, payload) }),
});
