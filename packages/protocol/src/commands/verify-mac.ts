import { MAC_ALGORITHMS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bool, bytes, oneOf, required, struct } from '../tlv.js';

/** Failure is an answer (`valid` false), not an error frame. The comparison is constant-time. */
export const VERIFY_MAC = defineCommand({
  name: 'verify-mac',
  code: 0x0021,
  summary: 'Checks a full or truncated (≥ 8 bytes) MAC in constant time.',
  batchable: true,
  request: struct({
    key: required(1, keyIndex),
    algorithm: required(2, oneOf(MAC_ALGORITHMS)),
    data: required(3, payload),
    mac: required(4, bytes(64)),
  }),
  response: struct({ valid: required(1, bool) }),
});
