import type { StructCodec } from './tlv.js';
import { bytes, u32 } from './tlv.js';

/** One command: its code, its request and response bodies, and whether a batch may carry it. */
export interface CommandCodec<Req, Res> {
  readonly name: string;
  readonly code: number;
  readonly summary: string;
  readonly batchable: boolean;
  readonly request: StructCodec<Req>;
  readonly response: StructCodec<Res>;
}

// biome-ignore lint/suspicious/noExplicitAny: any command, whatever its bodies
export type AnyCommand = CommandCodec<any, any>;
export type RequestOf<C> = C extends CommandCodec<infer Q, unknown> ? Q : never;
export type ResponseOf<C> = C extends CommandCodec<unknown, infer R> ? R : never;

export function defineCommand<Req, Res>(command: CommandCodec<Req, Res>): CommandCodec<Req, Res> {
  return Object.freeze(command);
}

// Value types several commands share.

/** A key index as the device numbers keys (≥ 1). */
export const keyIndex = u32(1);
/** SPKI, DER or PEM text. */
export const spki = bytes(16_384, 1);
/** Any payload; the frame limit bounds it. */
export const payload = bytes();

/** For bodies that name a stored key or carry a public key: exactly one of the two. */
export function exactlyOneKey(value: { key?: number; publicKey?: Buffer }): string | undefined {
  return (value.key === undefined) === (value.publicKey === undefined)
    ? 'Give exactly one of key and publicKey.'
    : undefined;
}
