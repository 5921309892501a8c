import { defineCommand } from '../command.js';
import { nested, optional, repeated, required, struct, u32 } from '../tlv.js';
import { KEY_INFO_BODY } from './key-info.js';

export const MAX_LIST_KEYS = 1000;

export const LIST_KEYS = defineCommand({
  name: 'list-keys',
  code: 0x0080,
  summary: 'The keys bound to the operator, by index ascending, a page at a time.',
  batchable: false,
  request: struct({
    offset: optional(1, u32(), 'default 0'),
    limit: optional(2, u32(1, MAX_LIST_KEYS), 'default 100'),
  }),
  response: struct({
    total: required(1, u32(), 'bound keys in all'),
    keys: repeated(2, nested(KEY_INFO_BODY), MAX_LIST_KEYS, 'one field per key, a key-info body'),
  }),
});
