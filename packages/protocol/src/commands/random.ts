import { defineCommand, payload } from '../command.js';
import { required, struct, u32 } from '../tlv.js';

export const RANDOM = defineCommand({
  name: 'random',
  code: 0x0010,
  summary: 'Random bytes from the device’s generator.',
  batchable: true,
  request: struct({ length: required(1, u32(1, 65_536), 'bytes wanted, 1–65536') }),
  response: struct({ data: required(1, payload, 'exactly `length` bytes') }),
});
