import { CIPHER_MODES, CIPHER_PADDINGS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bytes, oneOf, optional, required, struct } from '../tlv.js';

/** The block cipher is the stored key's (AES-128/192/256, SM4, 3DES); the request names the mode. */
export const ENCRYPT = defineCommand({
  name: 'encrypt',
  code: 0x0030,
  summary: 'Symmetric encryption with a stored key: GCM, CBC, CTR or ECB.',
  batchable: true,
  request: struct({
    key: required(1, keyIndex),
    mode: required(2, oneOf(CIPHER_MODES)),
    padding: optional(3, oneOf(CIPHER_PADDINGS), 'CBC and ECB only; default pkcs7'),
    iv: optional(
      4,
      bytes(16, 8),
      'GCM 12 bytes, otherwise the block size; generated when absent (not for ECB)',
    ),
    aad: optional(5, payload, 'GCM only'),
    data: required(6, payload),
  }),
  response: struct({
    ciphertext: required(1, payload),
    iv: optional(2, bytes(16, 8), 'the IV used; absent for ECB'),
    tag: optional(3, bytes(16, 16), 'GCM only'),
  }),
});
