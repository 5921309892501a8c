import { defineCommand, keyIndex } from '../command.js';
import { required, string, struct } from '../tlv.js';

export const PUBLIC_KEY = defineCommand({
  name: 'public-key',
  code: 0x0082,
  summary: 'The SPKI PEM of a stored asymmetric key bound to the operator.',
  batchable: true,
  request: struct({ key: required(1, keyIndex) }),
  response: struct({ publicKey: required(1, string(16_384, 1), 'SPKI PEM text') }),
});
