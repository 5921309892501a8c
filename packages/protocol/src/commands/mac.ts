import { MAC_ALGORITHMS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bytes, oneOf, optional, required, struct, u8 } from '../tlv.js';

export const MAC = defineCommand({
  name: 'mac',
  code: 0x0020,
  summary: 'An HMAC or CMAC of the data with a stored key (usage `mac`).',
  batchable: true,
  request: struct({
    key: required(1, keyIndex),
    algorithm: required(
      2,
      oneOf(MAC_ALGORITHMS),
      'must suit the key type (HMAC-SHA256 key: hmac-sha256; AES key: aes-cmac; …)',
    ),
    data: required(3, payload),
    length: optional(4, u8(8, 64), 'truncate to this many bytes (≥ 8); default the full MAC'),
  }),
  response: struct({ mac: required(1, bytes(64, 8)) }),
});
