import { CofferError } from '@coffer/core';
import type { FieldInfo, StructCodec } from '@coffer/protocol';

/**
 * The REST API's JSON from the binary protocol's body declarations: the same fields by the same
 * names, bytes as base64 strings, so that the two protocols cannot drift apart and the dispatcher
 * gets the same typed request from either. Schemas for Fastify (validation and serialisation) and
 * the OpenAPI document are generated here; `fromJson` then turns base64 into Buffers and checks what
 * a JSON schema cannot (byte lengths, cross-field rules).
 */

export type JsonSchema = Record<string, unknown>;

const U32_MAX = 0xffff_ffff;

function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

function valueSchema(field: FieldInfo, direction: 'request' | 'response'): JsonSchema {
  const t = field.type;
  const description = field.doc || undefined;
  const withDoc = (s: JsonSchema) => (description ? { ...s, description } : s);
  switch (t.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
      return withDoc({ type: 'integer', minimum: t.min, maximum: t.max });
    case 'bool':
      return withDoc({ type: 'boolean' });
    case 'bytes': {
      const bounds =
        t.max === U32_MAX
          ? {}
          : { maxLength: base64Length(t.max), ...(t.min > 0 ? { minLength: base64Length(t.min) } : {}) };
      const sizes =
        t.max === U32_MAX ? '' : t.min === t.max ? ` (${t.min} bytes)` : ` (${t.min}–${t.max} bytes)`;
      return {
        type: 'string',
        // ajv-formats' `byte`: canonical base64 (whole 4-character groups, padded).
        ...(direction === 'request' ? { format: 'byte' } : {}),
        ...bounds,
        description: `base64${sizes}${description ? `: ${description}` : ''}`,
      };
    }
    case 'string':
      return withDoc({ type: 'string', maxLength: t.max, ...(t.min > 0 ? { minLength: t.min } : {}) });
    case 'enum':
      return withDoc({ type: 'string', enum: [...t.values!] });
    case 'struct':
      return withDoc(objectSchema(t.struct!, direction));
  }
}

/**
 * The JSON schema of a body: an object with the body's fields (repeated ones as arrays), closed to
 * other properties. In a response every required and repeated field is required.
 */
export function objectSchema(codec: StructCodec<unknown>, direction: 'request' | 'response'): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const f of codec.fields) {
    const value = valueSchema(f, direction);
    properties[f.name] =
      f.presence === 'repeated' ? { type: 'array', items: value, maxItems: f.maxCount } : value;
    if (f.presence === 'required' || (f.presence === 'repeated' && direction === 'response'))
      required.push(f.name);
  }
  return {
    type: 'object',
    additionalProperties: false,
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(codec.rule ? { description: `Rule: ${codec.rule}.` } : {}),
  };
}

function refuse(field: string, message: string): never {
  throw new CofferError('ERR_BAD_REQUEST', `The request is not valid: ${field} ${message}.`, { field });
}

function fromJsonValue(field: FieldInfo, value: unknown, path: string): unknown {
  const t = field.type;
  switch (t.kind) {
    case 'bytes': {
      const bytes = Buffer.from(String(value), 'base64');
      if (bytes.length < t.min || bytes.length > t.max) {
        refuse(path, t.min === t.max ? `must be ${t.min} bytes` : `must be ${t.min} to ${t.max} bytes`);
      }
      return bytes;
    }
    case 'string': {
      const length = Buffer.byteLength(String(value));
      if (length < t.min || length > t.max) refuse(path, `must be ${t.min} to ${t.max} bytes of UTF-8`);
      return value;
    }
    case 'struct':
      return fromJson(t.struct!, value, `${path}.`);
    default:
      return value;
  }
}

/**
 * The typed body of a validated JSON object: base64 fields become Buffers, byte lengths and the
 * body's rule are checked.
 *
 * @throws CofferError ERR_BAD_REQUEST naming the field.
 */
export function fromJson<T>(codec: StructCodec<T>, json: unknown, prefix = ''): T {
  const input = (json ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of codec.fields) {
    const value = input[f.name];
    if (value === undefined) {
      if (f.presence === 'repeated') out[f.name] = [];
      else if (f.presence === 'required') refuse(`${prefix}${f.name}`, 'is required');
      continue;
    }
    out[f.name] =
      f.presence === 'repeated'
        ? (value as unknown[]).map((v, i) => fromJsonValue(f, v, `${prefix}${f.name}.${i}`))
        : fromJsonValue(f, value, `${prefix}${f.name}`);
  }
  const broken = codec.check(out as T);
  if (broken) throw new CofferError('ERR_BAD_REQUEST', broken);
  return out as T;
}

function toJsonValue(field: FieldInfo, value: unknown): unknown {
  if (field.type.kind === 'bytes') {
    const u8 = value as Uint8Array;
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64');
  }
  if (field.type.kind === 'struct') return toJson(field.type.struct!, value);
  return value;
}

/** The JSON of a typed body: Buffers as base64, absent optional fields left out. */
export function toJson(codec: StructCodec<unknown>, value: unknown): Record<string, unknown> {
  const input = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of codec.fields) {
    const v = input[f.name];
    if (v === undefined) continue;
    out[f.name] =
      f.presence === 'repeated' ? (v as unknown[]).map((x) => toJsonValue(f, x)) : toJsonValue(f, v);
  }
  return out;
}
