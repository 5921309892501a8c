import { defineCommand } from '../command.js';
import { bytes, optional, struct } from '../tlv.js';

/** Liveness and keep-alive: the server echoes `data`. Accepted in every device state the service runs in. */
export const PING = defineCommand({
  name: 'ping',
  code: 0x0001,
  summary: 'Echoes its data; the SDK sends it to keep idle connections alive.',
  batchable: false,
  request: struct({ data: optional(1, bytes(1024), 'up to 1024 bytes, echoed') }),
  response: struct({ data: optional(1, bytes(1024), 'the request’s data') }),
});
