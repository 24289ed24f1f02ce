// Byte helpers: QUIC varints at every length boundary, and the Reader's errors are WireError, never untyped.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Reader, Writer, bytesEqual, concatBytes, toHex, varintLength } from '../../src/net2o/bytes.ts';
import { WireError } from '../../src/net2o/errors.ts';

function encodeVarint(v: number): Uint8Array {
  return new Writer(1).varint(v).finish();
}

function wireErrorOf(f: () => unknown): WireError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    return e as WireError;
  }
  throw new Error('expected a WireError, nothing was thrown');
}

describe('varint', () => {
  // [value, encoded length]
  const boundaries: Array<[number, number]> = [
    [0, 1],
    [63, 1],
    [64, 2],
    [16383, 2],
    [16384, 4],
    [2 ** 30 - 1, 4],
    [2 ** 30, 8],
    [2 ** 32, 8],
    [2 ** 53 - 1, 8],
  ];

  it.each(boundaries)('%d encodes in %d bytes and round-trips', (v, len) => {
    const b = encodeVarint(v);
    expect(b.length).toBe(len);
    expect(varintLength(v)).toBe(len);
    expect(b[0]! >> 6).toBe(Math.log2(len)); // RFC 9000 §16: 00/01/10/11 = 1/2/4/8 bytes
    const r = new Reader(b);
    expect(r.varint()).toBe(v);
    expect(r.remaining).toBe(0);
  });

  it('matches the RFC 9000 §A.1 examples', () => {
    const dec = (hex: string): number => new Reader(Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16))).varint();
    expect(dec('9d7f3e7d')).toBe(494_878_333);
    expect(dec('7bbd')).toBe(15_293);
    expect(dec('25')).toBe(37);
    expect(dec('4025')).toBe(37); // non-minimal encodings decode too
    expect(toHex(encodeVarint(494_878_333))).toBe('9d7f3e7d');
    expect(toHex(encodeVarint(15_293))).toBe('7bbd');
    // The 8-byte example (151 288 809 941 952 652) exceeds 2^53: we refuse it rather than round it.
    expect(wireErrorOf(() => dec('c2197c5eff14e88c')).code).toBe('range');
  });

  it('round-trips every safe integer (fast-check)', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (v) => {
        const r = new Reader(encodeVarint(v));
        expect(r.varint()).toBe(v);
        expect(r.remaining).toBe(0);
      }),
    );
  });

  it('several varints back to back keep their positions', () => {
    const values = [0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 53 - 1, 1];
    const w = new Writer(2);
    for (const v of values) w.varint(v);
    const r = new Reader(w.finish());
    for (const v of values) expect(r.varint()).toBe(v);
    expect(r.remaining).toBe(0);
  });

  it('refuses to encode negative, fractional or unsafe values (local misuse, not WireError)', () => {
    for (const v of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) expect(() => new Writer().varint(v)).toThrow(RangeError);
  });

  it('a decoded varint beyond 2^53 − 1 is a WireError "range"', () => {
    const b = new Uint8Array([0xc0, 0x20, 0, 0, 0, 0, 0, 0]); // 2^53
    expect(wireErrorOf(() => new Reader(b).varint()).code).toBe('range');
    const max = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]); // 2^62 − 1
    expect(wireErrorOf(() => new Reader(max).varint()).code).toBe('range');
  });

  it('every truncation of every length is a WireError "truncated"', () => {
    for (const v of [64, 16384, 2 ** 30, 2 ** 53 - 1]) {
      const b = encodeVarint(v);
      for (let n = 0; n < b.length; n++) {
        expect(wireErrorOf(() => new Reader(b.subarray(0, n)).varint()).code).toBe('truncated');
      }
    }
  });
});

describe('Reader', () => {
  it('u8 and bytes past the end are WireError "truncated" and do not move the position', () => {
    const r = new Reader(new Uint8Array([1, 2, 3]));
    expect(r.bytes(2)).toEqual(new Uint8Array([1, 2]));
    expect(wireErrorOf(() => r.bytes(2)).code).toBe('truncated');
    expect(r.pos).toBe(2);
    expect(r.u8()).toBe(3);
    expect(wireErrorOf(() => r.u8()).code).toBe('truncated');
    expect(wireErrorOf(() => r.bytes(-1)).code).toBe('truncated');
  });

  it('varBytes enforces its maximum with WireError "range"', () => {
    const b = new Writer().varBytes(new Uint8Array(10)).finish();
    expect(new Reader(b).varBytes(10).length).toBe(10);
    expect(wireErrorOf(() => new Reader(b).varBytes(9)).code).toBe('range');
    expect(wireErrorOf(() => new Reader(b.subarray(0, 5)).varBytes(10)).code).toBe('truncated');
  });

  it('string round-trips UTF-8 and rejects invalid UTF-8 as WireError "encoding"', () => {
    const s = 'Grüße, 世界 🌍';
    expect(new Reader(new Writer().string(s).finish()).string(100)).toBe(s);
    const bad = new Uint8Array([2, 0xc3, 0x28]); // a lone lead byte followed by ASCII
    expect(wireErrorOf(() => new Reader(bad).string(10)).code).toBe('encoding');
    const lone = new Uint8Array([1, 0xff]);
    expect(wireErrorOf(() => new Reader(lone).string(10)).code).toBe('encoding');
  });

  it('on arbitrary bytes, every read throws only WireError (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 12 }), (b, ops) => {
        const r = new Reader(b);
        try {
          for (const op of ops) {
            if (op === 0) r.u8();
            else if (op === 1) r.varint();
            else if (op === 2) r.bytes(3);
            else if (op === 3) r.varBytes(16);
            else r.string(16);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }),
    );
  });
});

describe('Writer and helpers', () => {
  it('grows past its initial capacity without losing bytes', () => {
    const w = new Writer(1);
    const data = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    w.u8(7).bytes(data).u8(9);
    const out = w.finish();
    expect(out.length).toBe(1002);
    expect(out[0]).toBe(7);
    expect(out.subarray(1, 1001)).toEqual(data);
    expect(out[1001]).toBe(9);
  });

  it('concatBytes, bytesEqual', () => {
    const a = new Uint8Array([1, 2]);
    const b = new Uint8Array([3]);
    expect(concatBytes(a, b, new Uint8Array(0))).toEqual(new Uint8Array([1, 2, 3]));
    expect(bytesEqual(a, new Uint8Array([1, 2]))).toBe(true);
    expect(bytesEqual(a, new Uint8Array([1, 3]))).toBe(false);
    expect(bytesEqual(a, new Uint8Array([1, 2, 0]))).toBe(false);
  });
});
