import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntry } from '@coffer/core';
import { auditCsv, csvField } from './audit-export.js';

const entry: AuditEntry = {
  seq: 7,
  time: '2026-03-01T08:00:00.000Z',
  source: 'management',
  account: '-',
  clientIp: '192.168.25.81',
  businessType: 'add',
  result: 'success',
  content: 'Add operator [a,"b"];',
  details: '=HYPERLINK("x")',
  prevDigest: 'a'.repeat(64),
  digest: 'b'.repeat(64),
};

describe('audit CSV export', () => {
  it('quotes fields with commas, quotes and line breaks (RFC 4180)', () => {
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('plain'), 'plain');
  });

  it('defuses text a spreadsheet would run as a formula, but leaves "-" and numbers alone', () => {
    assert.equal(csvField('=1+1'), "'=1+1");
    assert.equal(csvField('+1'), "'+1");
    assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvField('-2+3'), "'-2+3");
    assert.equal(csvField('-'), '-');
    assert.equal(csvField(-5), '-5');
  });

  it('writes a header and one row per entry with both digests unchanged', () => {
    const csv = auditCsv([entry]);
    const [header, row] = csv.split('\r\n');
    assert.equal(
      header,
      'seq,source,account,clientIp,businessType,result,time,content,details,prevDigest,digest',
    );
    assert.ok(row!.startsWith('7,management,-,192.168.25.81,add,success,2026-03-01T08:00:00.000Z,'));
    assert.ok(row!.includes('"Add operator [a,""b""];"'));
    assert.ok(row!.includes(`"'=HYPERLINK(""x"")"`));
    assert.ok(row!.endsWith(`${'a'.repeat(64)},${'b'.repeat(64)}`));
  });
});
