import type { AnyCommand } from './command.js';
import { ASYM_DECRYPT } from './commands/asym-decrypt.js';
import { ASYM_ENCRYPT } from './commands/asym-encrypt.js';
import { BATCH } from './commands/batch.js';
import { DECRYPT } from './commands/decrypt.js';
import { DERIVE } from './commands/derive.js';
import { ENCRYPT } from './commands/encrypt.js';
import { GENERATE_DATA_KEY } from './commands/generate-data-key.js';
import { HASH } from './commands/hash.js';
import { INFO } from './commands/info.js';
import { KEY_INFO } from './commands/key-info.js';
import { LIST_KEYS } from './commands/list-keys.js';
import { MAC } from './commands/mac.js';
import { PING } from './commands/ping.js';
import { PUBLIC_KEY } from './commands/public-key.js';
import { RANDOM } from './commands/random.js';
import { SIGN } from './commands/sign.js';
import { SM2_DIGEST } from './commands/sm2-digest.js';
import { UNWRAP } from './commands/unwrap.js';
import { VERIFY } from './commands/verify.js';
import { VERIFY_MAC } from './commands/verify-mac.js';
import { WRAP } from './commands/wrap.js';
import { ProtocolError } from './errors.js';
import type { Frame } from './frame.js';

/** Every command, in code order. */
export const COMMANDS: readonly AnyCommand[] = [
  PING,
  INFO,
  RANDOM,
  HASH,
  SM2_DIGEST,
  MAC,
  VERIFY_MAC,
  ENCRYPT,
  DECRYPT,
  SIGN,
  VERIFY,
  ASYM_ENCRYPT,
  ASYM_DECRYPT,
  GENERATE_DATA_KEY,
  WRAP,
  UNWRAP,
  DERIVE,
  LIST_KEYS,
  KEY_INFO,
  PUBLIC_KEY,
  BATCH,
];

const BY_CODE = new Map(COMMANDS.map((c) => [c.code, c]));
const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));
if (BY_CODE.size !== COMMANDS.length || BY_NAME.size !== COMMANDS.length)
  throw new Error('command codes and names must be unique');

export function commandByCode(code: number): AnyCommand | undefined {
  return BY_CODE.get(code);
}

export function commandByName(name: string): AnyCommand | undefined {
  return BY_NAME.get(name);
}

/**
 * The command and decoded body of a request frame (the server's first step for every frame).
 *
 * @throws ProtocolError ERR_UNKNOWN_COMMAND for a code no command has; ERR_FRAME_TYPE (fatal) when
 *   the frame is not a request; ERR_BODY_MALFORMED / ERR_FIELD from the command's codec.
 */
export function decodeRequest(frame: Frame): { command: AnyCommand; request: unknown } {
  if (frame.type !== 'request')
    throw new ProtocolError('ERR_FRAME_TYPE', `A ${frame.type} frame was sent where a request belongs.`);
  const command = BY_CODE.get(frame.command);
  if (!command)
    throw new ProtocolError(
      'ERR_UNKNOWN_COMMAND',
      `Command 0x${frame.command.toString(16).padStart(4, '0')} does not exist.`,
    );
  return { command, request: command.request.decode(frame.body) };
}

export type BatchItem = { readonly request: unknown } | { readonly error: ProtocolError };

/**
 * The inner command of a batch and each item decoded on its own: an item that does not decode is
 * an error result for that item only.
 *
 * @throws ProtocolError ERR_FIELD when the inner command is unknown or not batchable.
 */
export function decodeBatchItems(batch: { command: number; items: Buffer[] }): {
  command: AnyCommand;
  items: BatchItem[];
} {
  const command = BY_CODE.get(batch.command);
  if (!command?.batchable) {
    throw new ProtocolError('ERR_FIELD', `Command 0x${batch.command.toString(16)} cannot be batched.`, {
      field: 'command',
      tag: 1,
    });
  }
  const items = batch.items.map((body): BatchItem => {
    try {
      return { request: command.request.decode(body) };
    } catch (error) {
      if (error instanceof ProtocolError) return { error };
      throw error;
    }
  });
  return { command, items };
}
