import { ASYMMETRIC_ENCRYPTIONS, SM2_CIPHERTEXT_FORMATS } from '../algorithms.js';
import { defineCommand, exactlyOneKey, keyIndex, payload, spki } from '../command.js';
import { bytes, oneOf, optional, required, struct } from '../tlv.js';

export const ASYM_ENCRYPT = defineCommand({
  name: 'asym-encrypt',
  code: 0x0050,
  summary: 'Public-key encryption: RSA-OAEP, RSA PKCS#1 v1.5 or SM2, to a stored key or a given public key.',
  batchable: true,
  request: struct(
    {
      key: optional(1, keyIndex, 'usage `encrypt`'),
      publicKey: optional(2, spki),
      algorithm: required(3, oneOf(ASYMMETRIC_ENCRYPTIONS)),
      data: required(4, payload),
      label: optional(5, bytes(1024), 'RSA-OAEP only'),
      format: optional(6, oneOf(SM2_CIPHERTEXT_FORMATS), 'SM2 only: der (default, as OpenSSL) or raw c1c3c2'),
    },
    { rule: 'exactly one of key, publicKey', check: exactlyOneKey },
  ),
  response: struct({ ciphertext: required(1, payload) }),
});
