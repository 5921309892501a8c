import { WRAP_ALGORITHMS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bytes, oneOf, required, struct } from '../tlv.js';

export const WRAP = defineCommand({
  name: 'wrap',
  code: 0x0061,
  summary: 'Wraps key material under a stored KEK: AES-KW (RFC 3394), AES-KWP (RFC 5649), RSA-OAEP or SM2.',
  batchable: true,
  request: struct({
    key: required(1, keyIndex, 'the KEK, usage `wrap`'),
    algorithm: required(2, oneOf(WRAP_ALGORITHMS)),
    keyMaterial: required(3, bytes(8192, 1)),
  }),
  response: struct({ wrapped: required(1, payload) }),
});
