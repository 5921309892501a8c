import type { AnyCommand } from './command.js';
import type { FieldInfo, StructCodec } from './tlv.js';

/**
 * The field tables of docs/protocol.md, generated from the same declarations the codecs use (a
 * test checks that the document contains them verbatim, so the two cannot drift apart).
 */

function range(min: number, max: number, defaultMax: number, unit: string): string {
  if (min === 0 && max === defaultMax) return '';
  if (min === max) return ` ${min}${unit}`;
  if (max === defaultMax) return ` ≥ ${min}${unit}`;
  return min === 0 ? ` ≤ ${max}${unit}` : ` ${min}–${max}${unit}`;
}

function typeOf(field: FieldInfo): string {
  const t = field.type;
  switch (t.kind) {
    case 'u8':
      return `u8${range(t.min, t.max, 0xff, '')}`;
    case 'u16':
      return `u16${range(t.min, t.max, 0xffff, '')}`;
    case 'u32':
      return `u32${range(t.min, t.max, 0xffff_ffff, '')}`;
    case 'bool':
      return 'bool';
    case 'bytes':
      return `bytes${range(t.min, t.max, 0xffff_ffff, ' B')}`;
    case 'string':
      return `utf-8${range(t.min, t.max, 0xffff_ffff, ' B')}`;
    case 'enum':
      return `enum: ${t.values!.map((v) => `\`${v}\``).join(' \\| ')}`;
    case 'struct':
      return `${t.struct!.name ?? 'nested'} body`;
  }
}

function presenceOf(field: FieldInfo): string {
  return field.presence === 'repeated' ? `repeated (≤ ${field.maxCount})` : field.presence;
}

/** A markdown table of a body's fields, with its cross-field rule under it. */
export function describeBody(codec: StructCodec<unknown>): string {
  if (codec.fields.length === 0) return '(empty body)\n';
  const rows = codec.fields.map(
    (f) => `| ${f.tag} | \`${f.name}\` | ${typeOf(f)} | ${presenceOf(f)} | ${f.doc} |`,
  );
  const table = ['| tag | field | type | presence | notes |', '|---|---|---|---|---|', ...rows].join('\n');
  return `${table}\n${codec.rule ? `\nRule: ${codec.rule}.\n` : ''}`;
}

/** The section of docs/protocol.md for one command. */
export function describeCommand(command: AnyCommand): string {
  const code = `0x${command.code.toString(16).padStart(4, '0')}`;
  return [
    `### \`${command.name}\` — ${code}`,
    '',
    `${command.summary}${command.batchable ? '' : ' Not allowed in a batch.'}`,
    '',
    'Request:',
    '',
    describeBody(command.request),
    'Response:',
    '',
    describeBody(command.response),
  ].join('\n');
}
