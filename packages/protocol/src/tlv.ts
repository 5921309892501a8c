import { ProtocolError } from './errors.js';

/**
 * The body encoding: a sequence of fields, each `tag (u8) ‖ length (u32, big-endian) ‖ value`.
 * Tags appear in ascending order; a repeated field is that many consecutive fields with the same
 * tag; an unknown tag, a duplicate or a missing required field is refused. The encoding is
 * canonical: one value has exactly one body. Each command declares its fields once with the
 * builders below, and the same declaration encodes, decodes, generates the property tests and the
 * tables of docs/protocol.md.
 */

export const FIELD_HEADER_BYTES = 5;

export type ValueKind = 'u8' | 'u16' | 'u32' | 'bool' | 'bytes' | 'string' | 'enum' | 'struct';

/** How one value is written inside a field. */
export interface ValueType<T> {
  readonly kind: ValueKind;
  /** Inclusive bounds: of the number (u8/u16/u32), or of the length in bytes (bytes/string). */
  readonly min: number;
  readonly max: number;
  /** enum: the accepted strings. */
  readonly values?: readonly string[];
  /** struct: the nested body. */
  readonly struct?: StructCodec<unknown>;
  /** Throws a plain message (the field wrapper adds the code and the field's name). */
  encode(value: T): Uint8Array;
  decode(bytes: Buffer): T;
}

export type Presence = 'required' | 'optional' | 'repeated';

export interface Field<T, P extends Presence = Presence> {
  readonly tag: number;
  readonly presence: P;
  readonly type: ValueType<T>;
  /** repeated: most occurrences accepted. */
  readonly maxCount: number;
  readonly doc: string;
}

class ValueError extends Error {}

function intType(kind: 'u8' | 'u16' | 'u32', width: 1 | 2 | 4, min: number, max: number): ValueType<number> {
  return {
    kind,
    min,
    max,
    encode(value) {
      if (!Number.isInteger(value) || value < min || value > max)
        throw new ValueError(`must be an integer from ${min} to ${max}`);
      const out = Buffer.alloc(width);
      out.writeUIntBE(value, 0, width);
      return out;
    },
    decode(bytes) {
      if (bytes.length !== width) throw new ValueError(`must be ${width} byte${width > 1 ? 's' : ''}`);
      const value = bytes.readUIntBE(0, width);
      if (value < min || value > max) throw new ValueError(`must be from ${min} to ${max}`);
      return value;
    },
  };
}

export const u8 = (min = 0, max = 0xff) => intType('u8', 1, min, max);
export const u16 = (min = 0, max = 0xffff) => intType('u16', 2, min, max);
export const u32 = (min = 0, max = 0xffff_ffff) => intType('u32', 4, min, max);

export const bool: ValueType<boolean> = {
  kind: 'bool',
  min: 0,
  max: 1,
  encode(value) {
    if (typeof value !== 'boolean') throw new ValueError('must be a boolean');
    return Uint8Array.of(value ? 1 : 0);
  },
  decode(bytes) {
    if (bytes.length !== 1 || bytes[0]! > 1) throw new ValueError('must be one byte, 0 or 1');
    return bytes[0] === 1;
  },
};

/** Raw bytes of `min`…`max` length. Decoded values share memory with the frame (copy to keep them). */
export function bytes(max = 0xffff_ffff, min = 0): ValueType<Buffer> {
  return {
    kind: 'bytes',
    min,
    max,
    encode(value) {
      if (!(value instanceof Uint8Array)) throw new ValueError('must be bytes');
      if (value.length < min || value.length > max) throw new ValueError(`must be ${min} to ${max} bytes`);
      return value;
    },
    decode(value) {
      if (value.length < min || value.length > max) throw new ValueError(`must be ${min} to ${max} bytes`);
      return value;
    },
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** A lone UTF-16 surrogate: what makes a JavaScript string unencodable as UTF-8 (String#isWellFormed is ES2024). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Well-formed UTF-8 of `min`…`max` bytes (no byte-order mark is added or removed). */
export function string(max = 1024, min = 0): ValueType<string> {
  return {
    kind: 'string',
    min,
    max,
    encode(value) {
      if (typeof value !== 'string' || value.search(LONE_SURROGATE) !== -1)
        throw new ValueError('must be a well-formed string');
      const out = Buffer.from(value, 'utf8');
      if (out.length < min || out.length > max)
        throw new ValueError(`must be ${min} to ${max} bytes of UTF-8`);
      return out;
    },
    decode(value) {
      if (value.length < min || value.length > max)
        throw new ValueError(`must be ${min} to ${max} bytes of UTF-8`);
      try {
        return utf8.decode(value);
      } catch {
        throw new ValueError('must be UTF-8');
      }
    },
  };
}

/** One of `values`, written as its UTF-8 name. */
export function oneOf<const V extends string>(values: readonly V[]): ValueType<V> {
  const max = Math.max(...values.map((v) => Buffer.byteLength(v)));
  return {
    kind: 'enum',
    min: 1,
    max,
    values,
    encode(value) {
      if (!values.includes(value)) throw new ValueError(`must be one of ${values.join(', ')}`);
      return Buffer.from(value, 'utf8');
    },
    decode(value) {
      const text = value.toString('latin1');
      if (!(values as readonly string[]).includes(text))
        throw new ValueError(`must be one of ${values.join(', ')}`);
      return text as V;
    },
  };
}

/** A nested body (list items, batch results). */
export function nested<T>(codec: StructCodec<T>): ValueType<T> {
  return {
    kind: 'struct',
    min: 0,
    max: 0xffff_ffff,
    struct: codec as StructCodec<unknown>,
    encode: (value) => codec.encode(value),
    decode: (value) => codec.decode(value),
  };
}

export function required<T>(tag: number, type: ValueType<T>, doc = ''): Field<T, 'required'> {
  return { tag, presence: 'required', type, maxCount: 1, doc };
}
export function optional<T>(tag: number, type: ValueType<T>, doc = ''): Field<T, 'optional'> {
  return { tag, presence: 'optional', type, maxCount: 1, doc };
}
export function repeated<T>(
  tag: number,
  type: ValueType<T>,
  maxCount: number,
  doc = '',
): Field<T, 'repeated'> {
  return { tag, presence: 'repeated', type, maxCount, doc };
}

// biome-ignore lint/suspicious/noExplicitAny: a schema holds fields of every value type
export type Schema = Record<string, Field<any>>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ValueOf<F> = F extends Field<infer T, 'repeated'> ? T[] : F extends Field<infer T> ? T : never;

/** The object type a schema reads and writes: required and repeated fields present, optional ones `?`. */
export type Infer<S extends Schema> = Simplify<
  { [K in keyof S as S[K]['presence'] extends 'optional' ? never : K]: ValueOf<S[K]> } & {
    [K in keyof S as S[K]['presence'] extends 'optional' ? K : never]?: ValueOf<S[K]>;
  }
>;

export interface FieldInfo {
  readonly name: string;
  readonly tag: number;
  readonly presence: Presence;
  // biome-ignore lint/suspicious/noExplicitAny: introspection of every value type
  readonly type: ValueType<any>;
  readonly maxCount: number;
  readonly doc: string;
}

export interface StructCodec<T> {
  /** For the docs, when the body is nested in others ("key-info"). */
  readonly name: string | undefined;
  /** Fields in tag order. */
  readonly fields: readonly FieldInfo[];
  /** A rule across fields (e.g. "exactly one of key, publicKey"), written up in the docs. */
  readonly rule: string | undefined;
  /** Returns the refusal message when `value` breaks the cross-field rule. */
  check(value: T): string | undefined;
  /** @throws ProtocolError ERR_FIELD when a value does not fit its field or the rule. */
  encode(value: T): Buffer;
  /** @throws ProtocolError ERR_BODY_MALFORMED for a broken structure, ERR_FIELD for a bad value. */
  decode(body: Uint8Array): T;
}

function fieldError(field: FieldInfo, message: string): ProtocolError {
  return new ProtocolError('ERR_FIELD', `${field.name} (tag ${field.tag}) ${message}.`, {
    field: field.name,
    tag: field.tag,
  });
}

/**
 * A body codec from a schema. `rule` describes a cross-field constraint in words and `check`
 * enforces it on both sides.
 */
export function struct<S extends Schema>(
  schema: S,
  options: { name?: string; rule?: string; check?: (value: Infer<S>) => string | undefined } = {},
): StructCodec<Infer<S>> {
  const fields: FieldInfo[] = Object.entries(schema)
    .map(([name, f]) => ({
      name,
      tag: f.tag,
      presence: f.presence,
      type: f.type,
      maxCount: f.maxCount,
      doc: f.doc,
    }))
    .sort((a, b) => a.tag - b.tag);
  const byTag = new Map(fields.map((f) => [f.tag, f]));
  if (byTag.size !== fields.length || fields.some((f) => f.tag < 1 || f.tag > 255)) {
    throw new Error('a schema needs distinct tags from 1 to 255');
  }
  const check = (value: Infer<S>) => options.check?.(value);

  function encodeValue(field: FieldInfo, value: unknown): Uint8Array {
    try {
      return field.type.encode(value);
    } catch (error) {
      if (error instanceof ValueError) throw fieldError(field, error.message);
      throw error;
    }
  }

  return {
    name: options.name,
    fields,
    rule: options.rule,
    check,
    encode(value) {
      const parts: Uint8Array[] = [];
      const record = value as Record<string, unknown>;
      for (const field of fields) {
        const v = record[field.name];
        if (v === undefined) {
          if (field.presence === 'required') throw fieldError(field, 'is required');
          if (field.presence === 'repeated')
            throw fieldError(field, 'is a list and must be given (it may be empty)');
          continue;
        }
        const values = field.presence === 'repeated' ? (v as unknown[]) : [v];
        if (!Array.isArray(values)) throw fieldError(field, 'must be a list');
        if (values.length > field.maxCount) throw fieldError(field, `has more than ${field.maxCount} items`);
        for (const item of values) {
          const encoded = encodeValue(field, item);
          const header = Buffer.alloc(FIELD_HEADER_BYTES);
          header[0] = field.tag;
          header.writeUInt32BE(encoded.length, 1);
          parts.push(header, encoded);
        }
      }
      const broken = check(value);
      if (broken) throw new ProtocolError('ERR_FIELD', broken);
      return Buffer.concat(parts);
    },
    decode(input) {
      const body = Buffer.isBuffer(input)
        ? input
        : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      const out: Record<string, unknown> = {};
      let at = 0;
      let lastTag = 0;
      while (at < body.length) {
        if (body.length - at < FIELD_HEADER_BYTES) {
          throw new ProtocolError('ERR_BODY_MALFORMED', `A field header at byte ${at} is cut short.`);
        }
        const tag = body[at]!;
        const length = body.readUInt32BE(at + 1);
        at += FIELD_HEADER_BYTES;
        if (length > body.length - at) {
          throw new ProtocolError(
            'ERR_BODY_MALFORMED',
            `Field tag ${tag} claims ${length} bytes; ${body.length - at} remain.`,
            { tag },
          );
        }
        const field = byTag.get(tag);
        if (!field)
          throw new ProtocolError('ERR_BODY_MALFORMED', `Tag ${tag} is not a field of this body.`, { tag });
        if (tag < lastTag || (tag === lastTag && field.presence !== 'repeated')) {
          throw new ProtocolError('ERR_BODY_MALFORMED', `Tag ${tag} is out of order or repeated.`, {
            field: field.name,
            tag,
          });
        }
        lastTag = tag;
        let value: unknown;
        try {
          value = field.type.decode(body.subarray(at, at + length));
        } catch (error) {
          if (error instanceof ValueError) throw fieldError(field, error.message);
          throw error;
        }
        at += length;
        if (field.presence === 'repeated') {
          const list = (out[field.name] ??= []) as unknown[];
          if (list.length >= field.maxCount) throw fieldError(field, `has more than ${field.maxCount} items`);
          list.push(value);
        } else {
          out[field.name] = value;
        }
      }
      for (const field of fields) {
        if (out[field.name] !== undefined) continue;
        if (field.presence === 'required') throw fieldError(field, 'is required');
        if (field.presence === 'repeated') out[field.name] = [];
      }
      const broken = check(out as Infer<S>);
      if (broken) throw new ProtocolError('ERR_FIELD', broken);
      return out as Infer<S>;
    },
  };
}
