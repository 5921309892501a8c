import { WRAP_ALGORITHMS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bytes, oneOf, required, struct } from '../tlv.js';

export const UNWRAP = defineCommand({
  name: 'unwrap',
  code: 0x0062,
  summary:
    'Unwraps key material under a stored KEK (usage `unwrap`); a failed integrity check is ERR_CIPHERTEXT.',
  batchable: true,
  request: struct({
    key: required(1, keyIndex),
    algorithm: required(2, oneOf(WRAP_ALGORITHMS)),
    wrapped: required(3, payload),
  }),
  response: struct({ keyMaterial: required(1, bytes(8192, 1)) }),
});
