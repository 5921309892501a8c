import { ASYMMETRIC_ENCRYPTIONS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bytes, oneOf, optional, required, struct } from '../tlv.js';

/** Every way a ciphertext fails to open is ERR_CIPHERTEXT (no padding oracle by code). */
export const ASYM_DECRYPT = defineCommand({
  name: 'asym-decrypt',
  code: 0x0051,
  summary: 'Decrypts with a stored RSA or SM2 private key (usage `decrypt`). SM2 accepts DER and raw c1c3c2.',
  batchable: true,
  request: struct({
    key: required(1, keyIndex),
    algorithm: required(2, oneOf(ASYMMETRIC_ENCRYPTIONS)),
    data: required(3, payload),
    label: optional(4, bytes(1024), 'RSA-OAEP only'),
  }),
  response: struct({ plaintext: required(1, payload) }),
});
