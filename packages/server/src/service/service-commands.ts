import {
  ASYM_DECRYPT,
  ASYM_ENCRYPT,
  BATCH,
  DECRYPT,
  DERIVE,
  ENCRYPT,
  GENERATE_DATA_KEY,
  HASH,
  INFO,
  KEY_INFO,
  LIST_KEYS,
  MAC,
  PING,
  PUBLIC_KEY,
  RANDOM,
  type RequestOf,
  type ResponseOf,
  SIGN,
  SM2_DIGEST,
  UNWRAP,
  VERIFY,
  VERIFY_MAC,
  WRAP,
} from '@coffer/protocol';

/**
 * The crypto service's operations, by the names the protocol, the REST paths and `coffer client`
 * use. Both protocols decode into `{ command, request }` with the protocol package's typed bodies
 * (bytes are Buffers), so the dispatcher has one typed request whatever the wire was.
 */
export const SERVICE_COMMANDS = {
  ping: PING,
  info: INFO,
  random: RANDOM,
  hash: HASH,
  'sm2-digest': SM2_DIGEST,
  mac: MAC,
  'verify-mac': VERIFY_MAC,
  encrypt: ENCRYPT,
  decrypt: DECRYPT,
  sign: SIGN,
  verify: VERIFY,
  'asym-encrypt': ASYM_ENCRYPT,
  'asym-decrypt': ASYM_DECRYPT,
  'generate-data-key': GENERATE_DATA_KEY,
  wrap: WRAP,
  unwrap: UNWRAP,
  derive: DERIVE,
  'list-keys': LIST_KEYS,
  'key-info': KEY_INFO,
  'public-key': PUBLIC_KEY,
  batch: BATCH,
} as const;

type Commands = typeof SERVICE_COMMANDS;
export type ServiceCommandName = keyof Commands;
/** Every operation but `batch`, which carries items of one of them. */
export type SingleCommandName = Exclude<ServiceCommandName, 'batch'>;

export type ServiceRequestOf<N extends ServiceCommandName> = RequestOf<Commands[N]>;
export type ServiceResponseOf<N extends ServiceCommandName> = ResponseOf<Commands[N]>;

/** One decoded request, whichever protocol it came by. */
export type ServiceRequest = {
  [N in SingleCommandName]: { readonly command: N; readonly request: ServiceRequestOf<N> };
}[SingleCommandName];

export function isServiceCommandName(name: string): name is ServiceCommandName {
  return Object.hasOwn(SERVICE_COMMANDS, name);
}

/** The commands a batch may carry (the protocol's `batchable`). */
export const BATCHABLE_COMMANDS = (Object.keys(SERVICE_COMMANDS) as ServiceCommandName[]).filter(
  (name): name is SingleCommandName => SERVICE_COMMANDS[name].batchable,
);

/** The commands that use a stored key named by `key` (always, or when given instead of `publicKey`). */
export type KeyedCommandName =
  | 'sm2-digest'
  | 'mac'
  | 'verify-mac'
  | 'encrypt'
  | 'decrypt'
  | 'sign'
  | 'verify'
  | 'asym-encrypt'
  | 'asym-decrypt'
  | 'generate-data-key'
  | 'wrap'
  | 'unwrap'
  | 'derive'
  | 'key-info'
  | 'public-key';
