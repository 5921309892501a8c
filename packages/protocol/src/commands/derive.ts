import { AGREEMENT_KDFS } from '../algorithms.js';
import { defineCommand, keyIndex, spki } from '../command.js';
import { bytes, oneOf, optional, required, struct, u16 } from '../tlv.js';

/** ECDH (P-256, P-384) between a stored private key and the peer's public key, optionally through HKDF. */
export const DERIVE = defineCommand({
  name: 'derive',
  code: 0x0070,
  summary: 'ECDH key agreement with a stored EC key (usage `derive`).',
  batchable: true,
  request: struct({
    key: required(1, keyIndex),
    publicKey: required(2, spki, 'the peer’s SPKI, on the same curve, named-curve form'),
    kdf: optional(3, oneOf(AGREEMENT_KDFS), 'absent: the raw x-coordinate'),
    salt: optional(4, bytes(1024), 'HKDF only'),
    info: optional(5, bytes(1024), 'HKDF only'),
    length: optional(6, u16(1, 16_320), 'HKDF output bytes; default 32'),
  }),
  response: struct({ secret: required(1, bytes(16_320, 1)) }),
});
