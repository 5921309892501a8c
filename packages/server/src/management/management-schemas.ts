import { Type } from 'typebox';

/**
 * Schemas every management slice shares. Bodies are closed (`closed`): an unknown field is refused
 * with ERR_BAD_REQUEST, as are wrong types, since the app validates with `removeAdditional: false`
 * and `coerceTypes: false` for bodies.
 */
export const closed = { additionalProperties: false } as const;

/** The refusal body of every route (`{ error: { code, message, details } }`), added to each route's 4xx/5xx. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Object({}, { additionalProperties: true }),
    }),
  },
  { title: 'ErrorBody' },
);

export const Ok = Type.Object({ ok: Type.Boolean() });

/** Paging as the manual's tables show it: "From 1 To 10 Total 26 rows". `page` counts from 1. */
export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })),
};

export const PageInfo = Type.Object({
  page: Type.Integer(),
  size: Type.Integer(),
  /** 1-based number of the first row shown (0 when there are none). */
  from: Type.Integer(),
  /** 1-based number of the last row shown (0 when there are none). */
  to: Type.Integer(),
  total: Type.Integer(),
});

/** Computes the page block for `total` rows, page `page` of `size` rows. */
export function pageInfo(page: number, size: number, total: number, shown: number) {
  const first = (page - 1) * size;
  return {
    page,
    size,
    from: shown > 0 ? first + 1 : 0,
    to: shown > 0 ? first + shown : 0,
    total,
  };
}

/** An ISO-8601 time as a query bound (`2026-03-01T00:00:00Z`); checked by `parseTime`-like rules in handlers. */
export const IsoTime = Type.String({ minLength: 10, maxLength: 40 });

export const ManagerRoleSchema = Type.Union([
  Type.Literal('system-manager'),
  Type.Literal('safe-manager'),
  Type.Literal('audit-manager'),
]);

const NetworkStatus = Type.Object({
  ip: Type.String(),
  port: Type.Integer(),
  mask: Type.String(),
  gateway: Type.Union([Type.String(), Type.Null()]),
  mac: Type.String(),
  boundPort: Type.Union([Type.Integer(), Type.Null()]),
});
export const Networks = Type.Union([
  Type.Object({ mNet0: NetworkStatus, aNet1: NetworkStatus }),
  Type.Null(),
]);

export const DeviceInfo = Type.Object({
  manufacturer: Type.String(),
  deviceName: Type.String(),
  model: Type.String(),
  softwareVersion: Type.String(),
  deviceId: Type.String(),
  kcv: Type.String(),
  network: Networks,
});
