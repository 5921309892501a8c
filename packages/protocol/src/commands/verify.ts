import { SIGNATURE_ALGORITHMS, SIGNATURE_FORMATS } from '../algorithms.js';
import { defineCommand, exactlyOneKey, keyIndex, payload, spki } from '../command.js';
import { bool, bytes, oneOf, optional, required, struct, u16 } from '../tlv.js';

/** A stored key (usage `verify`) or a public key sent with the request. Failure is `valid: false`. */
export const VERIFY = defineCommand({
  name: 'verify',
  code: 0x0041,
  summary: 'Verifies a signature with a stored key or an external public key.',
  batchable: true,
  request: struct(
    {
      key: optional(1, keyIndex),
      publicKey: optional(2, spki, 'SPKI DER or PEM'),
      algorithm: required(3, oneOf(SIGNATURE_ALGORITHMS)),
      data: required(4, payload),
      signature: required(5, bytes(1024)),
      prehashed: optional(6, bool),
      format: optional(7, oneOf(SIGNATURE_FORMATS)),
      id: optional(8, bytes(8191)),
      saltLength: optional(9, u16(0, 1024)),
    },
    { rule: 'exactly one of key, publicKey', check: exactlyOneKey },
  ),
  response: struct({ valid: required(1, bool) }),
});
