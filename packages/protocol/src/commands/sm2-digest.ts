import { defineCommand, exactlyOneKey, keyIndex, payload, spki } from '../command.js';
import { bytes, optional, required, struct } from '../tlv.js';

/** SM3 with the SM2 Z-value: e = SM3(Z ‖ data), Z from the signer's ID and public key (GB/T 32918.2 §5.5, §6.1). */
export const SM2_DIGEST = defineCommand({
  name: 'sm2-digest',
  code: 0x0012,
  summary:
    'e = SM3(Z ‖ data) for an SM2 public key and signer ID; what an SM2 signature over the data covers.',
  batchable: true,
  request: struct(
    {
      key: optional(1, keyIndex, 'a stored SM2 key'),
      publicKey: optional(2, spki, 'or an SM2 public key, SPKI DER or PEM'),
      id: optional(3, bytes(8191), 'signer ID; default the ASCII bytes 1234567812345678'),
      data: required(4, payload),
    },
    { rule: 'exactly one of key, publicKey', check: exactlyOneKey },
  ),
  response: struct({
    digest: required(1, bytes(32, 32), 'e'),
    z: required(2, bytes(32, 32), 'Z'),
  }),
});
