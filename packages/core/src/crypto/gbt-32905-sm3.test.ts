import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashData } from './hash.js';

// GB/T 32905-2016 (SM3) Appendix A, examples 1 and 2.
describe('SM3 against GB/T 32905-2016 Appendix A', () => {
  it('example 1: "abc" hashes to 66c7f0f4…8f4ba8e0', () => {
    assert.equal(
      hashData('sm3', Buffer.from('abc')).toString('hex'),
      '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0',
    );
  });
  it('example 2: "abcd" × 16 (64 bytes) hashes to debe9ff9…9c0c5732', () => {
    assert.equal(
      hashData('sm3', Buffer.from('abcd'.repeat(16))).toString('hex'),
      'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732',
    );
  });
});
