import type { AuditEntry, VerifyResult } from '@coffer/core';

/** The columns of an audit export, in the manual's order, then the chain fields. */
export const AUDIT_EXPORT_COLUMNS = [
  'seq',
  'source',
  'account',
  'clientIp',
  'businessType',
  'result',
  'time',
  'content',
  'details',
  'prevDigest',
  'digest',
] as const satisfies readonly (keyof AuditEntry)[];

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text that a
 * spreadsheet would run as a formula (`=`, `+`, `@`, a tab or CR first, or `-` followed by more) is
 * prefixed with `'`; digests and numbers are never touched, so a checker can recompute them.
 */
export function csvField(value: string | number): string {
  let text = String(value);
  if (typeof value === 'string' && (/^[=+@\t\r]/.test(text) || /^-./.test(text))) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The entries as CSV with a header row, CRLF line ends (RFC 4180). */
export function auditCsv(entries: readonly AuditEntry[]): string {
  const lines = [AUDIT_EXPORT_COLUMNS.join(',')];
  for (const e of entries) lines.push(AUDIT_EXPORT_COLUMNS.map((c) => csvField(e[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export interface AuditExportHeader {
  format: 'coffer-audit-export';
  version: 1;
  deviceId: string;
  log: 'manager' | 'operator';
  exportedAt: string;
  /** What was exported: the selected entries, or the whole query. */
  selection: { seqs: number[] } | { from: string | null; to: string | null };
  /** The verification of the whole chain at the time of export. */
  chain: VerifyResult;
}

/** The entries as one JSON document: a header, then every entry with its `prevDigest` and `digest`. */
export function auditJson(header: AuditExportHeader, entries: readonly AuditEntry[]): string {
  return `${JSON.stringify({ ...header, count: entries.length, entries }, null, 2)}\n`;
}
