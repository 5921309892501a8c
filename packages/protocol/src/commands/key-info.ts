import { KEY_CLASSES, KEY_STATUSES, KEY_USAGES } from '../algorithms.js';
import { defineCommand, keyIndex } from '../command.js';
import { oneOf, optional, repeated, required, string, struct } from '../tlv.js';

/** What an operator may know about a key bound to it (list-keys items, key-info responses). */
export const KEY_INFO_BODY = struct(
  {
    index: required(1, keyIndex),
    type: required(2, string(32, 1), 'AES-256, SM4, RSA-2048, EC-P256, SM2, Ed25519, …'),
    keyClass: required(3, oneOf(KEY_CLASSES)),
    status: required(4, oneOf(KEY_STATUSES)),
    usage: repeated(5, oneOf(KEY_USAGES), KEY_USAGES.length, 'one field per flag'),
    description: required(6, string(1024)),
    createdAt: required(7, string(64), 'ISO-8601 UTC'),
    expiresAt: required(8, string(64), 'ISO-8601 UTC'),
    checkValue: optional(9, string(128), 'symmetric keys'),
    publicKey: optional(10, string(16_384), 'asymmetric keys: SPKI PEM'),
  },
  { name: 'key-info' },
);

export const KEY_INFO = defineCommand({
  name: 'key-info',
  code: 0x0081,
  summary: 'The attributes of one key bound to the operator.',
  batchable: true,
  request: struct({ key: required(1, keyIndex) }),
  response: KEY_INFO_BODY,
});
