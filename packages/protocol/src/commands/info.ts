import { defineCommand } from '../command.js';
import { required, string, struct, u8, u32 } from '../tlv.js';

/** What the server accepts, so that a client can size its frames and batches. */
export const INFO = defineCommand({
  name: 'info',
  code: 0x0002,
  summary: 'Tells the protocol version, the frame and batch limits and the server version.',
  batchable: false,
  request: struct({}),
  response: struct({
    protocolVersion: required(1, u8(1), 'always 1 here'),
    maxFrameBytes: required(2, u32(4096), 'the largest frame the server accepts and sends'),
    maxBatchItems: required(3, u32(1), 'the most items one batch may carry'),
    server: required(4, string(128), 'e.g. "coffer/0.1.0"'),
  }),
});
