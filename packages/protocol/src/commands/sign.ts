import { SIGNATURE_ALGORITHMS, SIGNATURE_FORMATS } from '../algorithms.js';
import { defineCommand, keyIndex, payload } from '../command.js';
import { bool, bytes, oneOf, optional, required, struct, u16 } from '../tlv.js';

/** Outputs: PKCS#1/PSS for RSA, DER (or raw r ‖ s) for ECDSA and SM2, 64 bytes for Ed25519. */
export const SIGN = defineCommand({
  name: 'sign',
  code: 0x0040,
  summary: 'Signs data, or a digest of it, with a stored private key (usage `sign`).',
  batchable: true,
  request: struct({
    key: required(1, keyIndex),
    algorithm: required(2, oneOf(SIGNATURE_ALGORITHMS)),
    data: required(3, payload, 'the message, or its digest when prehashed'),
    prehashed: optional(4, bool, 'data is the digest (for SM2: e from sm2-digest); not for ed25519'),
    format: optional(5, oneOf(SIGNATURE_FORMATS), 'ECDSA and SM2 only; default der'),
    id: optional(6, bytes(8191), 'SM2 signer ID; default 1234567812345678'),
    saltLength: optional(7, u16(0, 1024), 'RSA-PSS only; default the digest length'),
  }),
  response: struct({ signature: required(1, bytes(1024, 1)) }),
});
