import { Type } from 'typebox';

/** JSON schemas of the front-panel API: every body is closed (unknown fields are refused). */
const closed = { additionalProperties: false } as const;

export const Pin = Type.String({ maxLength: 64 });
export const Token = Type.String({ minLength: 1, maxLength: 128 });
/** The card file's content, as the card slot reads it; `parseCardFile` checks it field by field. */
export const CardInput = Type.Object({}, { additionalProperties: true });

export const CardFileSchema = Type.Object({
  format: Type.String(),
  version: Type.Integer(),
  cardId: Type.String(),
  deviceId: Type.String(),
  role: Type.String(),
  slot: Type.String(),
  account: Type.String(),
  createdAt: Type.String(),
  publicKey: Type.String(),
  sealed: Type.Object({
    kdf: Type.String(),
    iterations: Type.Integer(),
    salt: Type.String(),
    cipher: Type.String(),
    iv: Type.String(),
    ciphertext: Type.String(),
  }),
});

export const NewCard = Type.Object({ slot: Type.String(), fileName: Type.String(), card: CardFileSchema });

export const Ok = Type.Object({ ok: Type.Boolean() });
export const TokenReply = Type.Object({ token: Type.String(), slot: Type.Optional(Type.String()) });

const NetworkPort = Type.Object(
  {
    ip: Type.String({ maxLength: 64 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    mask: Type.String({ maxLength: 64 }),
    gateway: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  },
  closed,
);
const NetworkStatus = Type.Object({
  ip: Type.String(),
  port: Type.Integer(),
  mask: Type.String(),
  gateway: Type.Union([Type.String(), Type.Null()]),
  mac: Type.String(),
  boundPort: Type.Union([Type.Integer(), Type.Null()]),
});
const Networks = Type.Union([Type.Object({ mNet0: NetworkStatus, aNet1: NetworkStatus }), Type.Null()]);

export const Status = Type.Object({
  state: Type.String(),
  words: Type.String(),
  indicators: Type.Object({
    power: Type.Boolean(),
    error: Type.Boolean(),
    waiting: Type.Boolean(),
    working: Type.Boolean(),
  }),
  fault: Type.Union([
    Type.Object({
      code: Type.String(),
      reason: Type.String(),
      buzzer: Type.String(),
      detail: Type.String(),
      at: Type.String(),
    }),
    Type.Null(),
  ]),
  time: Type.String(),
  clockOffsetMs: Type.Number(),
  deviceId: Type.String(),
  init: Type.Union([
    Type.Object({
      timeSet: Type.Boolean(),
      deviceManagers: Type.Array(
        Type.Object({
          slot: Type.String(),
          cardMade: Type.Boolean(),
          mkPartSet: Type.Boolean(),
          written: Type.Boolean(),
        }),
      ),
      systemManagers: Type.Array(Type.String()),
      safeManager: Type.Boolean(),
      auditManager: Type.Boolean(),
      next: Type.String(),
    }),
    Type.Null(),
  ]),
  network: Networks,
});

export const DeviceInfo = Type.Object({
  manufacturer: Type.String(),
  deviceName: Type.String(),
  model: Type.String(),
  softwareVersion: Type.String(),
  deviceId: Type.String(),
  kcv: Type.String(),
  network: Networks,
});

export const Bodies = {
  time: Type.Object({ time: Type.String({ maxLength: 64 }) }, closed),
  dmCard: Type.Object({ slot: Type.String({ maxLength: 4 }), pin: Pin, pinConfirm: Pin }, closed),
  mkPart: Type.Object(
    {
      slot: Type.String({ maxLength: 4 }),
      mkPart: Type.String({ maxLength: 64 }),
      mkPartConfirm: Type.String({ maxLength: 64 }),
      mkPartPin: Pin,
      mkPartPinConfirm: Pin,
    },
    closed,
  ),
  cardPin: Type.Object({ card: CardInput, pin: Pin }, closed),
  systemManager: Type.Object({ factor: Type.String({ maxLength: 64 }), pin: Pin, pinConfirm: Pin }, closed),
  newPin: Type.Object({ pin: Pin, pinConfirm: Pin }, closed),
  second: Type.Object({ token: Token, card: CardInput, pin: Pin }, closed),
  reinitFirst: Type.Object({ card: CardInput, pin: Pin, mkPartPin: Pin }, closed),
  reinitSecond: Type.Object({ token: Token, card: CardInput, pin: Pin, mkPartPin: Pin }, closed),
  remakeVerify: Type.Object({ mkPartPin: Pin, slot: Type.Optional(Type.String({ maxLength: 4 })) }, closed),
  remakeCard: Type.Object({ token: Token, pin: Pin, pinConfirm: Pin }, closed),
  modifyPin: Type.Object({ card: CardInput, oldPin: Pin, newPin: Pin, newPinConfirm: Pin }, closed),
  startService: Type.Object({ token: Token, mNet0: NetworkPort, aNet1: NetworkPort }, closed),
  ip: Type.Object({ ip: Type.String({ maxLength: 64 }) }, closed),
  ips: Type.Object(
    { ips: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 256 }) },
    closed,
  ),
  token: Type.Object({ token: Token }, closed),
  empty: Type.Object({}, closed),
};

export const ToolWhitelist = Type.Object({
  entries: Type.Array(Type.Object({ ip: Type.String(), addedAt: Type.String(), addedBy: Type.String() })),
});

export const AuditVerify = Type.Object({
  ok: Type.Boolean(),
  count: Type.Optional(Type.Integer()),
  head: Type.Optional(Type.String()),
  badSeq: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
});
