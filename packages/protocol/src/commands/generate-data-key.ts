import { WRAP_ALGORITHMS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bytes, oneOf, required, struct, u16 } from '../tlv.js';

/** Like a KMS "GenerateDataKey": the caller uses the plaintext, forgets it, and keeps the wrapped form. */
export const GENERATE_DATA_KEY = defineCommand({
  name: 'generate-data-key',
  code: 0x0060,
  summary: 'A fresh random data key, returned in plaintext and wrapped under a stored key-encryption key.',
  batchable: true,
  request: struct({
    key: required(1, keyIndex, 'the KEK, usage `wrap`'),
    algorithm: required(2, oneOf(WRAP_ALGORITHMS)),
    length: required(3, u16(1, 8192), 'data-key bytes (aes-kw: ≥ 16, a multiple of 8)'),
  }),
  response: struct({
    plaintext: required(1, bytes(8192, 1)),
    wrapped: required(2, payload),
  }),
});
