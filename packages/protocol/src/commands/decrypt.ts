import { CIPHER_MODES, CIPHER_PADDINGS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bytes, oneOf, optional, required, struct } from '../tlv.js';

/** A wrong GCM tag and a wrong padding are the same refusal, ERR_CIPHERTEXT. */
export const DECRYPT = defineCommand({
  name: 'decrypt',
  code: 0x0031,
  summary: 'Symmetric decryption with a stored key.',
  batchable: true,
  request: struct({
    key: required(1, keyIndex),
    mode: required(2, oneOf(CIPHER_MODES)),
    padding: optional(3, oneOf(CIPHER_PADDINGS), 'CBC and ECB only; default pkcs7'),
    iv: optional(4, bytes(16, 8), 'required except for ECB'),
    aad: optional(5, payload, 'GCM only'),
    tag: optional(6, bytes(16, 16), 'GCM: required'),
    data: required(7, payload),
  }),
  response: struct({ plaintext: required(1, payload) }),
});
