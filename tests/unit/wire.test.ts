// The packet codec: round-trip of every header field, the AD (which excludes the rewritable path), the exact
// address bytes, and hostile input — every truncation, wrong sizes, unknown kinds and tags, fuzz.
import { describe, expect, it } from 'vitest';
import { onlyWireError, wireCode } from '../helpers/wire-errors.ts';
import fc from 'fast-check';
import {
  AD_SIZE,
  HEADER_ADDR_OFFSET,
  HEADER_PATH_SIZE,
  HEADER_SIZE,
  MAC_SIZE,
  MAX_CONNECTION_TAG,
  MAX_PACKET_NUMBER,
  MAX_PACKET_SIZE,
  MAX_SIZE_EXPONENT,
  MIN_PACKET_SIZE,
  TAG_BROADCAST,
  TAG_FORWARDED,
  TAG_MULTICAST,
  TAG_STATELESS,
} from '../../src/net2o/constants.ts';
import { WireError } from '../../src/net2o/errors.ts';
import {
  addressOf,
  adOf,
  bodySize,
  decodePacket,
  packetSize,
  setPathField,
  sizeExponentFor,
  writeHeader,
  type PacketHeader,
} from '../../src/net2o/wire.ts';

function encode(h: PacketHeader, fill = 0): { packet: Uint8Array; ad: Uint8Array } {
  const packet = new Uint8Array(packetSize(h.sizeExponent)).fill(fill);
  const ad = writeHeader(packet, h);
  return { packet, ad };
}

function header(over: Partial<PacketHeader> = {}): PacketHeader {
  return {
    qos: 0,
    sizeExponent: 0,
    tags: 0,
    path: Uint8Array.from({ length: HEADER_PATH_SIZE }, (_, i) => 0xa0 + i),
    connectionTag: 0x123456,
    packetNumber: 77,
    ...over,
  };
}

const arbHeader: fc.Arbitrary<PacketHeader> = fc.record({
  qos: fc.integer({ min: 0, max: 3 }),
  sizeExponent: fc.integer({ min: 0, max: MAX_SIZE_EXPONENT }),
  tags: fc.constantFrom(0, TAG_STATELESS, TAG_FORWARDED, TAG_STATELESS | TAG_FORWARDED),
  path: fc.uint8Array({ minLength: HEADER_PATH_SIZE, maxLength: HEADER_PATH_SIZE }),
  connectionTag: fc.integer({ min: 0, max: MAX_CONNECTION_TAG }),
  packetNumber: fc.integer({ min: 0, max: MAX_PACKET_NUMBER }),
});

describe('sizes', () => {
  it('body is 64·2ⁿ and the packet adds the 26-byte header and 16-byte MAC', () => {
    expect(HEADER_SIZE).toBe(26);
    expect(AD_SIZE).toBe(10);
    for (let e = 0; e <= MAX_SIZE_EXPONENT; e++) {
      expect(bodySize(e)).toBe(64 * 2 ** e);
      expect(packetSize(e)).toBe(26 + 64 * 2 ** e + 16);
    }
    expect(packetSize(0)).toBe(MIN_PACKET_SIZE);
    expect(packetSize(MAX_SIZE_EXPONENT)).toBe(MAX_PACKET_SIZE);
    expect(bodySize(MAX_SIZE_EXPONENT)).toBe(16 * 1024);
  });

  it.each([
    [0, 0],
    [1, 0],
    [64, 0],
    [65, 1],
    [128, 1],
    [129, 2],
    [16384, 8],
    [16385, -1],
  ])('sizeExponentFor(%d) = %d', (n, e) => {
    expect(sizeExponentFor(n)).toBe(e);
  });
});

describe('round trip', () => {
  it.each(Array.from({ length: MAX_SIZE_EXPONENT + 1 }, (_, e) => e))('size exponent %d', (e) => {
    const h = header({ sizeExponent: e, qos: e & 3 });
    const { packet } = encode(h);
    expect(packet.length).toBe(packetSize(e));
    const d = decodePacket(packet);
    expect(d.sizeExponent).toBe(e);
    expect(d.qos).toBe(e & 3);
    expect(d.sealed.length).toBe(bodySize(e) + MAC_SIZE);
  });

  it.each([0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 0x01_2345_6789, 2 ** 39, MAX_PACKET_NUMBER])(
    'packet number %d (40 bits, incl. > 2^32)',
    (pn) => {
      const d = decodePacket(encode(header({ packetNumber: pn })).packet);
      expect(d.packetNumber).toBe(pn);
      expect(d.connectionTag).toBe(0x123456); // the tag is not disturbed by pn's high byte
    },
  );

  it.each([0, 1, 0xff, 0x100, 0xffff, 0x10000, MAX_CONNECTION_TAG])('connection tag %d (24 bits)', (tag) => {
    const d = decodePacket(encode(header({ connectionTag: tag, packetNumber: MAX_PACKET_NUMBER })).packet);
    expect(d.connectionTag).toBe(tag);
    expect(d.packetNumber).toBe(MAX_PACKET_NUMBER); // the pn is not disturbed by the tag
  });

  it('every field, for arbitrary headers (fast-check)', () => {
    fc.assert(
      fc.property(arbHeader, fc.integer({ min: 0, max: 255 }), (h, fill) => {
        const { packet, ad } = encode(h, fill);
        const d = decodePacket(packet);
        expect(d.qos).toBe(h.qos);
        expect(d.sizeExponent).toBe(h.sizeExponent);
        expect(d.tags).toBe(h.tags);
        expect(d.path).toEqual(h.path);
        expect(d.connectionTag).toBe(h.connectionTag);
        expect(d.packetNumber).toBe(h.packetNumber);
        expect(d.ad).toEqual(ad);
        // The body and MAC are untouched by writeHeader.
        expect(d.sealed.length).toBe(bodySize(h.sizeExponent) + MAC_SIZE);
        expect(d.sealed.every((b) => b === fill)).toBe(true);
      }),
    );
  });

  it('decodes a packet that sits at a non-zero byteOffset in a larger buffer', () => {
    const { packet } = encode(header({ connectionTag: 0xabcdef, packetNumber: 0x01_2345_6789 }));
    const big = new Uint8Array(packet.length + 13).fill(0xee);
    big.set(packet, 7);
    const d = decodePacket(big.subarray(7, 7 + packet.length));
    expect(d.connectionTag).toBe(0xabcdef);
    expect(d.packetNumber).toBe(0x01_2345_6789);
    expect(d.ad).toEqual(adOf(packet));
  });

  it('writeHeader works into a buffer at a non-zero byteOffset', () => {
    const big = new Uint8Array(packetSize(0) + 5);
    const view = big.subarray(5);
    writeHeader(view, header({ connectionTag: 0xabcdef, packetNumber: 0x01_2345_6789 }));
    expect(Array.from(big.subarray(5 + 18, 5 + 26))).toEqual([0x89, 0x67, 0x45, 0x23, 0x01, 0xef, 0xcd, 0xab]);
    expect(Array.from(big.subarray(0, 5))).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('layout', () => {
  it('flags = qos(2) ‖ kind(2) ‖ n(4), tags at 1, path at 2..17', () => {
    const { packet } = encode(header({ qos: 3, sizeExponent: 5, tags: TAG_FORWARDED }));
    expect(packet[0]).toBe(0xc5);
    expect(packet[1]).toBe(TAG_FORWARDED);
    expect(Array.from(packet.subarray(2, 18))).toEqual(Array.from({ length: 16 }, (_, i) => 0xa0 + i));
  });

  it('addr is tag·2^40 + pn, little-endian at offset 18', () => {
    const tag = 0xabcdef;
    const pn = 0x01_2345_6789;
    const { packet } = encode(header({ connectionTag: tag, packetNumber: pn }));
    expect(HEADER_ADDR_OFFSET).toBe(18);
    expect(Array.from(packet.subarray(18, 26))).toEqual([0x89, 0x67, 0x45, 0x23, 0x01, 0xef, 0xcd, 0xab]);
    const dv = new DataView(packet.buffer, packet.byteOffset);
    expect(dv.getBigUint64(18, true)).toBe(0xabcdef_0123456789n);
    expect(addressOf(tag, pn)).toBe(0xabcdef_0123456789n);
  });

  it('addressOf: tag in the high 24 bits, pn in the low 40', () => {
    expect(addressOf(0, 0)).toBe(0n);
    expect(addressOf(1, 0)).toBe(1n << 40n);
    expect(addressOf(0, MAX_PACKET_NUMBER)).toBe((1n << 40n) - 1n);
    expect(addressOf(MAX_CONNECTION_TAG, MAX_PACKET_NUMBER)).toBe((1n << 64n) - 1n);
    fc.assert(
      fc.property(arbHeader, (h) => {
        const { packet } = encode(h);
        const dv = new DataView(packet.buffer, packet.byteOffset);
        expect(addressOf(h.connectionTag, h.packetNumber)).toBe(dv.getBigUint64(HEADER_ADDR_OFFSET, true));
      }),
    );
  });

  it('AD = flags ‖ tags ‖ addr, exactly', () => {
    const { packet, ad } = encode(header({ qos: 1, sizeExponent: 2, tags: TAG_STATELESS, connectionTag: 0xabcdef, packetNumber: 0x01_2345_6789 }));
    expect(Array.from(ad)).toEqual([0x42, TAG_STATELESS, 0x89, 0x67, 0x45, 0x23, 0x01, 0xef, 0xcd, 0xab]);
    expect(decodePacket(packet).ad).toEqual(ad);
  });

  it('AD excludes the path: rewriting the path changes neither ad nor any authenticated field', () => {
    fc.assert(
      fc.property(arbHeader, fc.uint8Array({ minLength: 16, maxLength: 16 }), (h, newPath) => {
        const { packet, ad } = encode(h);
        setPathField(packet, newPath);
        const d = decodePacket(packet);
        expect(d.path).toEqual(newPath);
        expect(d.ad).toEqual(ad);
      }),
    );
  });

  it('AD covers every other header byte: changing flags, tags or any addr byte changes it', () => {
    const { packet, ad } = encode(header({ tags: TAG_STATELESS }));
    for (const i of [0, 1, ...Array.from({ length: 8 }, (_, k) => 18 + k)]) {
      const p = packet.slice();
      p[i] = p[i]! ^ (i === 0 ? 0x40 : i === 1 ? TAG_FORWARDED : 0x01); // keep it decodable
      expect(decodePacket(p).ad).not.toEqual(ad);
    }
  });

  it('the AD is a copy: later writes to the packet do not change it', () => {
    const { packet } = encode(header());
    const d = decodePacket(packet);
    const before = d.ad.slice();
    packet[18] = packet[18]! ^ 0xff;
    expect(d.ad).toEqual(before);
  });

  it('writeHeader refuses out-of-range fields (local misuse: RangeError)', () => {
    const buf = new Uint8Array(packetSize(0));
    expect(() => writeHeader(buf, header({ sizeExponent: MAX_SIZE_EXPONENT + 1 }))).toThrow(RangeError);
    expect(() => writeHeader(buf, header({ sizeExponent: 1 }))).toThrow(RangeError); // buffer is for n = 0
    expect(() => writeHeader(buf, header({ connectionTag: MAX_CONNECTION_TAG + 1 }))).toThrow(RangeError);
    expect(() => writeHeader(buf, header({ connectionTag: -1 }))).toThrow(RangeError);
    expect(() => writeHeader(buf, header({ packetNumber: MAX_PACKET_NUMBER + 1 }))).toThrow(RangeError);
    expect(() => writeHeader(buf, header({ packetNumber: -1 }))).toThrow(RangeError);
  });
});

describe('hostile input', () => {
  it('every truncation of a valid packet is a WireError (byte at a time)', () => {
    for (const e of [0, 1, 3]) {
      const { packet } = encode(header({ sizeExponent: e, tags: TAG_STATELESS }));
      expect(() => decodePacket(packet)).not.toThrow();
      for (let n = 0; n < packet.length; n++) {
        const code = wireCode(() => decodePacket(packet.slice(0, n)));
        expect(code).toBe(n < HEADER_SIZE + MAC_SIZE ? 'truncated' : 'size');
      }
    }
  });

  it('a length that does not match the size exponent is "size"', () => {
    const { packet } = encode(header({ sizeExponent: 1 }));
    const asZero = packet.slice(0, packetSize(0));
    expect(wireCode(() => decodePacket(asZero))).toBe('size');
    const p0 = encode(header({ sizeExponent: 0 })).packet;
    const grown = new Uint8Array(packetSize(1));
    grown.set(p0);
    expect(wireCode(() => decodePacket(grown))).toBe('size'); // a valid size, but not the one flags announce
  });

  it('trailing garbage after a valid packet is rejected (fast-check)', () => {
    fc.assert(
      fc.property(arbHeader, fc.uint8Array({ minLength: 1, maxLength: 200 }), (h, junk) => {
        const { packet } = encode(h);
        const long = new Uint8Array(packet.length + junk.length);
        long.set(packet);
        long.set(junk, packet.length);
        expect(wireCode(() => decodePacket(long))).toBe('size');
      }),
    );
  });

  it.each([9, 10, 15])('size exponent %d > 8 is "size", even at the length it would imply', (e) => {
    const p = new Uint8Array(packetSize(e));
    p[0] = e;
    expect(wireCode(() => decodePacket(p))).toBe('size');
    const small = new Uint8Array(packetSize(0));
    small[0] = e;
    expect(wireCode(() => decodePacket(small))).toBe('size');
  });

  it.each([1, 2, 3])('header kind %d is "kind"', (kind) => {
    const { packet } = encode(header());
    packet[0] = (packet[0]! & ~0x30) | (kind << 4);
    expect(wireCode(() => decodePacket(packet))).toBe('kind');
  });

  it.each([TAG_BROADCAST, TAG_MULTICAST, 0x10, 0x20, 0x40, 0x80, 0xff, TAG_STATELESS | TAG_BROADCAST])(
    'unknown tag bits %d are "tags"',
    (tags) => {
      const { packet } = encode(header());
      packet[1] = tags;
      expect(wireCode(() => decodePacket(packet))).toBe('tags');
    },
  );

  it('the known tags (stateless, forwarded) are accepted', () => {
    for (const tags of [0, TAG_STATELESS, TAG_FORWARDED, TAG_STATELESS | TAG_FORWARDED]) {
      expect(decodePacket(encode(header({ tags })).packet).tags).toBe(tags);
    }
  });

  it('rejects something that is not a Uint8Array', () => {
    expect(wireCode(() => decodePacket([1, 2, 3] as unknown as Uint8Array))).toBe('size');
  });

  it('arbitrary bytes: decodePacket returns or throws WireError, nothing else (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (b) => {
        onlyWireError(() => decodePacket(b));
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes at every valid packet length: result fields are in range or a WireError (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }).chain((e) =>
          fc.uint8Array({ minLength: packetSize(e), maxLength: packetSize(e) }),
        ),
        (b) => {
          try {
            const d = decodePacket(b);
            expect(d.sizeExponent).toBeLessThanOrEqual(MAX_SIZE_EXPONENT);
            expect(b.length).toBe(packetSize(d.sizeExponent));
            expect(d.connectionTag).toBeLessThanOrEqual(MAX_CONNECTION_TAG);
            expect(d.packetNumber).toBeLessThanOrEqual(MAX_PACKET_NUMBER);
            expect(d.packetNumber).toBeGreaterThanOrEqual(0);
            expect(d.qos).toBeLessThanOrEqual(3);
          } catch (e) {
            expect(e).toBeInstanceOf(WireError);
          }
        },
      ),
    );
  });
});
