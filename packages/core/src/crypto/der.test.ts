import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DER_INTEGER, encodeDer, encodeDerUnsigned, readDerElements, readDerUnsigned } from './der.js';

describe('DER helpers', () => {
  it('unsigned integers round-trip and are minimal (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), (bytes) => {
        const der = encodeDerUnsigned(bytes);
        const [element] = readDerElements(der);
        assert.equal(element!.tag, DER_INTEGER);
        const magnitude = readDerUnsigned(element!.value);
        const trimmed = Buffer.from(bytes).subarray(
          Math.min(Buffer.from(bytes).findIndex((b) => b !== 0) >>> 0, bytes.length - 1),
        );
        assert.deepEqual(magnitude, trimmed.length ? trimmed : Buffer.alloc(1));
      }),
    );
  });

  it('lengths of 0, 127, 128, 255, 256 and 65536 bytes round-trip', () => {
    for (const n of [0, 127, 128, 255, 256, 65536]) {
      const [element] = readDerElements(encodeDer(0x04, Buffer.alloc(n, 1)));
      assert.equal(element!.value.length, n);
    }
  });

  it('refuses non-minimal lengths and integers, negative integers, truncation and indefinite lengths', () => {
    for (const hex of [
      '04810100',
      '0282000100',
      '04820000',
      '020200 01',
      '0201ff',
      '0403aabb',
      '0480',
      '1f0100',
    ]) {
      assert.throws(() => {
        const elements = readDerElements(Buffer.from(hex.replace(/ /g, ''), 'hex'));
        for (const e of elements) if (e.tag === DER_INTEGER) readDerUnsigned(e.value);
      }, hex);
    }
  });
});
