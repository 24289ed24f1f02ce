import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAGIC_COOKIE,
  StunAttr,
  StunClass,
  StunMethod,
  computeIntegrity,
  crc32,
  decodeChannelData,
  decodeErrorCode,
  decodeMessageType,
  decodeStun,
  decodeXorAddress,
  encodeChannelData,
  encodeErrorCode,
  encodeMessageType,
  encodeStun,
  encodeXorAddress,
  getAttr,
  getString,
  getUint32,
  longTermKey,
  shortTermKey,
  u32,
  verifyIntegrity,
  type DecodedStun,
} from '../../signaling-server/turn/stun.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function mustDecode(buf: Buffer): DecodedStun {
  const r = decodeStun(buf);
  if (!r.ok) throw new Error(`decode failed: ${r.reason}`);
  return r.message;
}

// RFC 5769 test vectors.
const RFC5769_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);
const RFC5769_PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';

const RFC5769_IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);

const RFC5769_IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);

const RFC5769_LONG_TERM_REQUEST = hex(`
  00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
  00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
  00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
  00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
  00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66`);

describe('STUN codec: RFC 5769 vectors', () => {
  it('2.1 sample request: attributes, short-term MESSAGE-INTEGRITY and FINGERPRINT', () => {
    const m = mustDecode(RFC5769_REQUEST);
    expect(m.method).toBe(StunMethod.Binding);
    expect(m.cls).toBe(StunClass.Request);
    expect(m.transactionId.toString('hex')).toBe('b7e7a701bc34d686fa87dfae');
    expect(getString(m, StunAttr.Software)).toBe('STUN test client');
    expect(getString(m, StunAttr.Username)).toBe('evtj:h6vY');
    expect(getUint32(m, StunAttr.Priority)).toBe(0x6e0001ff);
    expect(m.fingerprintOffset).toBe(RFC5769_REQUEST.length - 8);
    expect(verifyIntegrity(m, shortTermKey(RFC5769_PASSWORD))).toBe(true);
    expect(verifyIntegrity(m, shortTermKey('wrong'))).toBe(false);
  });

  it('2.2 IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, integrity and fingerprint', () => {
    const m = mustDecode(RFC5769_IPV4_RESPONSE);
    expect(m.cls).toBe(StunClass.SuccessResponse);
    expect(getString(m, StunAttr.Software)).toBe('test vector');
    const addr = decodeXorAddress(getAttr(m, StunAttr.XorMappedAddress)!, m.transactionId);
    expect(addr).toEqual({ family: 4, address: '192.0.2.1', port: 32853 });
    expect(verifyIntegrity(m, shortTermKey(RFC5769_PASSWORD))).toBe(true);
  });

  it('2.3 IPv6 response: XOR-MAPPED-ADDRESS 2001:db8:1234:5678:11:2233:4455:6677', () => {
    const m = mustDecode(RFC5769_IPV6_RESPONSE);
    const addr = decodeXorAddress(getAttr(m, StunAttr.XorMappedAddress)!, m.transactionId);
    expect(addr).toEqual({ family: 6, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
    expect(verifyIntegrity(m, shortTermKey(RFC5769_PASSWORD))).toBe(true);
    // Encoding the address back gives the vector's bytes.
    expect(encodeXorAddress(addr!, m.transactionId).equals(getAttr(m, StunAttr.XorMappedAddress)!)).toBe(true);
  });

  it('2.4 long-term credential request: key MD5(user:realm:pass) verifies MESSAGE-INTEGRITY', () => {
    const m = mustDecode(RFC5769_LONG_TERM_REQUEST);
    const username = getString(m, StunAttr.Username)!;
    expect(username).toBe('\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9');
    expect(getString(m, StunAttr.Realm)).toBe('example.org');
    expect(getString(m, StunAttr.Nonce)).toBe('f//499k954d6OL34oL9FSTvy64sA');
    // Password "The M\u00AAtr\u2168x" after SASLprep is "TheMatrIX".
    expect(verifyIntegrity(m, longTermKey(username, 'example.org', 'TheMatrIX'))).toBe(true);
    expect(verifyIntegrity(m, longTermKey(username, 'example.org', 'TheMatrix'))).toBe(false);
  });

  it('re-encoding the RFC 5769 request reproduces its MESSAGE-INTEGRITY and FINGERPRINT', () => {
    // The vector pads USERNAME with spaces; with our zero padding only that attribute's padding differs,
    // so re-encode with the same attribute values and compare HMAC over an identical prefix.
    const m = mustDecode(RFC5769_REQUEST);
    const attrs = m.attributes.filter((a) => a.type !== StunAttr.MessageIntegrity && a.type !== StunAttr.Fingerprint);
    const out = encodeStun(
      { method: m.method, cls: m.cls, transactionId: m.transactionId, attributes: attrs },
      { integrityKey: shortTermKey(RFC5769_PASSWORD), fingerprint: true },
    );
    // Patch the vector's padding bytes to zero to get the byte-identical prefix we encode.
    const zeroPadded = Buffer.from(RFC5769_REQUEST);
    const u = zeroPadded.indexOf(Buffer.from('evtj:h6vY'));
    zeroPadded.fill(0, u + 9, u + 12);
    expect(out.subarray(0, u + 12).equals(zeroPadded.subarray(0, u + 12))).toBe(true);
    const dec = mustDecode(out);
    expect(verifyIntegrity(dec, shortTermKey(RFC5769_PASSWORD))).toBe(true);
  });
});

describe('STUN codec: round trips and primitives', () => {
  it('message type encoding covers every method/class pair', () => {
    for (const method of Object.values(StunMethod)) {
      for (const cls of Object.values(StunClass)) {
        const t = encodeMessageType(method, cls);
        expect(decodeMessageType(t)).toEqual({ method, cls });
      }
    }
    expect(encodeMessageType(StunMethod.Allocate, StunClass.Request)).toBe(0x0003);
    expect(encodeMessageType(StunMethod.Allocate, StunClass.SuccessResponse)).toBe(0x0103);
    expect(encodeMessageType(StunMethod.Allocate, StunClass.ErrorResponse)).toBe(0x0113);
    expect(encodeMessageType(StunMethod.Send, StunClass.Indication)).toBe(0x0016);
    expect(encodeMessageType(StunMethod.Data, StunClass.Indication)).toBe(0x0017);
  });

  it('crc32 matches the standard check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('TURN attributes round-trip with integrity and fingerprint', () => {
    const tid = Buffer.from('0102030405060708090a0b0c', 'hex');
    const key = longTermKey('user', 'realm', 'pass');
    const data = Buffer.from('hello, relay!'); // 13 bytes: exercises padding
    const buf = encodeStun(
      {
        method: StunMethod.Allocate,
        cls: StunClass.SuccessResponse,
        transactionId: tid,
        attributes: [
          { type: StunAttr.XorRelayedAddress, value: encodeXorAddress({ family: 4, address: '127.0.0.1', port: 50000 }, tid) },
          { type: StunAttr.XorMappedAddress, value: encodeXorAddress({ family: 4, address: '10.1.2.3', port: 1 }, tid) },
          { type: StunAttr.XorPeerAddress, value: encodeXorAddress({ family: 6, address: '::1', port: 65535 }, tid) },
          { type: StunAttr.Lifetime, value: u32(600) },
          { type: StunAttr.Data, value: data },
          { type: StunAttr.ErrorCode, value: encodeErrorCode(437, 'Allocation Mismatch') },
          { type: StunAttr.Software, value: Buffer.from('x') },
        ],
      },
      { integrityKey: key, fingerprint: true },
    );
    expect(buf.length % 4).toBe(0);
    expect(buf.readUInt32BE(4)).toBe(MAGIC_COOKIE);
    const m = mustDecode(buf);
    expect(m.method).toBe(StunMethod.Allocate);
    expect(m.cls).toBe(StunClass.SuccessResponse);
    expect(decodeXorAddress(getAttr(m, StunAttr.XorRelayedAddress)!, tid)).toEqual({ family: 4, address: '127.0.0.1', port: 50000 });
    expect(decodeXorAddress(getAttr(m, StunAttr.XorMappedAddress)!, tid)).toEqual({ family: 4, address: '10.1.2.3', port: 1 });
    expect(decodeXorAddress(getAttr(m, StunAttr.XorPeerAddress)!, tid)).toEqual({ family: 6, address: '::1', port: 65535 });
    expect(getUint32(m, StunAttr.Lifetime)).toBe(600);
    expect(getAttr(m, StunAttr.Data)!.equals(data)).toBe(true);
    expect(decodeErrorCode(getAttr(m, StunAttr.ErrorCode)!)).toEqual({ code: 437, reason: 'Allocation Mismatch' });
    expect(verifyIntegrity(m, key)).toBe(true);
    expect(verifyIntegrity(m, longTermKey('user', 'realm', 'other'))).toBe(false);
  });

  it('a flipped bit fails the fingerprint or the integrity check', () => {
    const tid = Buffer.alloc(12, 7);
    const key = longTermKey('u', 'r', 'p');
    const buf = encodeStun(
      { method: StunMethod.Refresh, cls: StunClass.Request, transactionId: tid, attributes: [{ type: StunAttr.Lifetime, value: u32(0) }] },
      { integrityKey: key, fingerprint: true },
    );
    // Every byte up to FINGERPRINT is covered (flipping the FINGERPRINT attribute's own type turns it into an
    // ignored attribute after MESSAGE-INTEGRITY, which is legal).
    for (let i = 2; i < buf.length - 8; i++) {
      const bad = Buffer.from(buf);
      bad[i] = bad[i]! ^ 0x01;
      const r = decodeStun(bad);
      expect(!r.ok || !verifyIntegrity(r.message, key)).toBe(true);
    }
    // Integrity without fingerprint: flipping the LIFETIME value breaks MESSAGE-INTEGRITY.
    const noFp = encodeStun(
      { method: StunMethod.Refresh, cls: StunClass.Request, transactionId: tid, attributes: [{ type: StunAttr.Lifetime, value: u32(0) }] },
      { integrityKey: key },
    );
    noFp[27] = noFp[27]! ^ 0x01;
    expect(verifyIntegrity(mustDecode(noFp), key)).toBe(false);
  });

  it('attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are ignored', () => {
    const tid = Buffer.alloc(12, 1);
    const key = longTermKey('u', 'r', 'p');
    const signed = encodeStun({ method: StunMethod.Binding, cls: StunClass.Request, transactionId: tid, attributes: [] }, { integrityKey: key });
    // Append a SOFTWARE attribute after MI and fix up the length.
    const extra = Buffer.from([0x80, 0x22, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64]);
    const buf = Buffer.concat([signed, extra]);
    buf.writeUInt16BE(buf.length - 20, 2);
    const m = mustDecode(buf);
    expect(getAttr(m, StunAttr.Software)).toBeUndefined();
    expect(verifyIntegrity(m, key)).toBe(true);
    expect(computeIntegrity(buf, m.integrityOffset, key).equals(signed.subarray(24, 44))).toBe(true);
  });

  it('ChannelData round-trips and rejects bad framing', () => {
    const d = Buffer.from('abcde');
    const cd = encodeChannelData(0x4001, d);
    expect(decodeChannelData(cd)).toEqual({ channel: 0x4001, data: d });
    expect(decodeChannelData(encodeChannelData(0x4fff, d, true))).toEqual({ channel: 0x4fff, data: d });
    expect(decodeChannelData(Buffer.from([0x40, 0x00, 0x00, 0x10, 1, 2]))).toBeNull(); // length beyond end
    expect(decodeChannelData(Buffer.from([0x00, 0x01, 0x00, 0x00]))).toBeNull(); // not a channel number
    expect(decodeChannelData(Buffer.concat([cd, Buffer.alloc(8)]))).toBeNull(); // trailing junk
  });

  it('rejects malformed headers with a reason', () => {
    const good = encodeStun({ method: 1, cls: 0, transactionId: Buffer.alloc(12), attributes: [] });
    expect(decodeStun(good.subarray(0, 19))).toMatchObject({ ok: false });
    const badCookie = Buffer.from(good);
    badCookie.writeUInt32BE(0xdeadbeef, 4);
    expect(decodeStun(badCookie)).toEqual({ ok: false, reason: 'bad-cookie' });
    const badLen = Buffer.from(good);
    badLen.writeUInt16BE(4, 2);
    expect(decodeStun(badLen)).toEqual({ ok: false, reason: 'bad-length' });
    const truncatedAttr = Buffer.concat([good, Buffer.from([0x00, 0x06, 0x00, 0x10])]);
    truncatedAttr.writeUInt16BE(4, 2);
    expect(decodeStun(truncatedAttr)).toEqual({ ok: false, reason: 'truncated-attribute' });
    const fp = encodeStun({ method: 1, cls: 0, transactionId: Buffer.alloc(12), attributes: [] }, { fingerprint: true });
    fp[fp.length - 1] = fp[fp.length - 1]! ^ 0xff;
    expect(decodeStun(fp)).toEqual({ ok: false, reason: 'bad-fingerprint' });
  });
});

describe('STUN codec: hostile bytes never throw', () => {
  const noThrow = (buf: Buffer): void => {
    const r = decodeStun(buf);
    if (r.ok) {
      const m = r.message;
      for (const a of m.attributes) {
        decodeXorAddress(a.value, m.transactionId);
        decodeErrorCode(a.value);
      }
      verifyIntegrity(m, Buffer.from('k'));
    }
    decodeChannelData(buf);
  };

  it('random byte strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (bytes) => {
        noThrow(Buffer.from(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('valid header + cookie + random attribute soup (length field consistent)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x3fff }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.array(fc.record({ type: fc.integer({ min: 0, max: 0xffff }), len: fc.integer({ min: 0, max: 40 }), fill: fc.uint8Array({ minLength: 0, maxLength: 40 }) }), { maxLength: 8 }),
        fc.boolean(),
        (type, tid, attrs, lieAboutLength) => {
          const parts = attrs.map((a) => {
            const v = Buffer.alloc((a.len + 3) & ~3);
            Buffer.from(a.fill).copy(v);
            const h = Buffer.alloc(4);
            h.writeUInt16BE(a.type, 0);
            h.writeUInt16BE(lieAboutLength ? a.len + 4 : a.len, 2);
            return Buffer.concat([h, v]);
          });
          const body = Buffer.concat(parts);
          const head = Buffer.alloc(20);
          head.writeUInt16BE(type, 0);
          head.writeUInt16BE(body.length, 2);
          head.writeUInt32BE(MAGIC_COOKIE, 4);
          Buffer.from(tid).copy(head, 8);
          noThrow(Buffer.concat([head, body]));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('mutations of a valid signed message', () => {
    const tid = Buffer.alloc(12, 9);
    const key = longTermKey('u', 'r', 'p');
    const base = encodeStun(
      {
        method: StunMethod.ChannelBind,
        cls: StunClass.Request,
        transactionId: tid,
        attributes: [
          { type: StunAttr.ChannelNumber, value: Buffer.from([0x40, 0x00, 0, 0]) },
          { type: StunAttr.XorPeerAddress, value: encodeXorAddress({ family: 4, address: '127.0.0.1', port: 9 }, tid) },
          { type: StunAttr.Username, value: Buffer.from('u') },
        ],
      },
      { integrityKey: key, fingerprint: true },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), (muts, cut) => {
        const b = Buffer.from(base);
        for (const [i, v] of muts) b[i % b.length] = v;
        noThrow(b);
        noThrow(b.subarray(0, cut % (b.length + 1)));
      }),
      { numRuns: 3000 },
    );
  });
});
