// Frames and commands: round trip of every type, exact ACK-range bytes, frameSize, padding, and hostile bytes.
import { describe, expect, it } from 'vitest';
import { onlyWireError, wireCode } from '../helpers/wire-errors.ts';
import fc from 'fast-check';
import { Writer, utf8 } from '../../src/net2o/bytes.ts';
import { MAX_ACK_RANGES, MAX_MESSAGE_SIZE, PATH_CHALLENGE_SIZE } from '../../src/net2o/constants.ts';
import { WireError } from '../../src/net2o/errors.ts';
import {
  FrameType,
  decodeCommand,
  decodeFrames,
  encodeCommand,
  encodeFrame,
  frameSize,
  isProbing,
  type AckRanges,
  type Command,
  type Frame,
} from '../../src/net2o/frames.ts';
import { MAX_CHUNK } from '../../src/net2o/stream.ts';

function encodeFrames(...frames: Frame[]): Uint8Array {
  const w = new Writer(16);
  for (const f of frames) encodeFrame(w, f);
  return w.finish();
}

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const challenge = Uint8Array.from({ length: PATH_CHALLENGE_SIZE }, (_, i) => 0xf0 + i);

/** Disjoint, non-adjacent ranges, highest first (what AckTracker produces). */
const arbAckRanges: fc.Arbitrary<AckRanges> = fc
  .tuple(
    fc.integer({ min: 0, max: 2 ** 40 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 100_000 })), {
      minLength: 1,
      maxLength: MAX_ACK_RANGES,
    }),
  )
  .map(([base, parts]) => {
    // Build from the bottom up: each part is (gap to the range below, length).
    const up: AckRanges = [];
    let next = base;
    for (const [gap, len] of parts) {
      const from = up.length === 0 ? next : next + gap + 1; // ≥ 1 missing number between ranges
      up.push([from, from + len]);
      next = from + len + 1;
    }
    return up.reverse();
  });

const arbStreamFrame = fc.record({
  type: fc.constant('stream' as const),
  stream: fc.integer({ min: 0, max: 2 ** 20 }),
  seq: fc.maxSafeNat(),
  offset: fc.integer({ min: 0, max: MAX_MESSAGE_SIZE - 2000 }),
  fin: fc.boolean(),
  data: fc.uint8Array({ maxLength: 2000 }),
});

const arbFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.constant({ type: 'ping' as const }),
  fc.constant({ type: 'probe' as const }),
  fc.record({ type: fc.constant('ack' as const), delayMs: fc.integer({ min: 0, max: 2 ** 31 }), ranges: arbAckRanges }),
  arbStreamFrame,
  fc.record({
    type: fc.constant('path-challenge' as const),
    data: fc.uint8Array({ minLength: PATH_CHALLENGE_SIZE, maxLength: PATH_CHALLENGE_SIZE }),
  }),
  fc.record({
    type: fc.constant('path-response' as const),
    data: fc.uint8Array({ minLength: PATH_CHALLENGE_SIZE, maxLength: PATH_CHALLENGE_SIZE }),
  }),
  fc.record({ type: fc.constant('close' as const), reason: fc.string({ maxLength: 50 }) }),
);

const sampleFrames: Frame[] = [
  { type: 'ping' },
  { type: 'probe' },
  { type: 'ack', delayMs: 3, ranges: [[7, 7]] },
  { type: 'ack', delayMs: 0, ranges: [[0, 0]] },
  { type: 'ack', delayMs: 5, ranges: [[90, 100], [50, 80], [0, 10]] },
  { type: 'ack', delayMs: 1000, ranges: [[2 ** 40 - 1, 2 ** 40 - 1], [5, 2 ** 40 - 3]] },
  { type: 'stream', stream: 1, seq: 0, offset: 0, fin: true, data: new Uint8Array(0) },
  { type: 'stream', stream: 0, seq: 2 ** 33, offset: 12_345, fin: false, data: Uint8Array.from({ length: 300 }, (_, i) => i) },
  { type: 'path-challenge', data: challenge },
  { type: 'path-response', data: challenge },
  { type: 'close', reason: '' },
  { type: 'close', reason: 'bye — ciao 👋' },
];

describe('frames round trip', () => {
  it.each(sampleFrames.map((f) => [f.type, f] as const))('%s', (_, f) => {
    const b = encodeFrames(f);
    expect(decodeFrames(b)).toEqual([f]);
    expect(frameSize(f)).toBe(b.length);
  });

  it('the first byte is the frame type', () => {
    expect(encodeFrames({ type: 'ping' })).toEqual(bytes(FrameType.Ping));
    expect(encodeFrames({ type: 'probe' })).toEqual(bytes(FrameType.Probe));
    expect(encodeFrames({ type: 'path-challenge', data: challenge })[0]).toBe(FrameType.PathChallenge);
    expect(encodeFrames({ type: 'path-response', data: challenge })[0]).toBe(FrameType.PathResponse);
  });

  it('ACK ranges with gaps: exact QUIC §19.3.1 bytes (largest, delay, count, first, gap/len pairs)', () => {
    const f: Frame = { type: 'ack', delayMs: 5, ranges: [[90, 100], [50, 80], [0, 10]] };
    // largest 100 (2-byte varint 0x4064), delay 5, 2 more ranges, first 10, gap 90−80−2 = 8, len 30, gap 50−10−2 = 38, len 10
    expect(encodeFrames(f)).toEqual(bytes(0x02, 0x40, 0x64, 5, 2, 10, 8, 30, 38, 10));
    expect(decodeFrames(encodeFrames(f))).toEqual([f]);
  });

  it('ACK ranges separated by a single missing number encode gap 0', () => {
    const f: Frame = { type: 'ack', delayMs: 0, ranges: [[10, 20], [0, 8]] };
    expect(encodeFrames(f)).toEqual(bytes(0x02, 20, 0, 1, 10, 0, 8));
    expect(decodeFrames(encodeFrames(f))).toEqual([f]);
  });

  it('any ACK ranges round-trip (fast-check)', () => {
    fc.assert(
      fc.property(arbAckRanges, fc.integer({ min: 0, max: 100_000 }), (ranges, delayMs) => {
        const f: Frame = { type: 'ack', delayMs, ranges };
        expect(decodeFrames(encodeFrames(f))).toEqual([f]);
      }),
    );
  });

  it('any sequence of frames round-trips, with or without padding after it (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(arbFrame, { maxLength: 8 }), fc.nat(100), (frames, pad) => {
        const b = encodeFrames(...frames);
        expect(decodeFrames(b)).toEqual(frames);
        const padded = new Uint8Array(b.length + pad);
        padded.set(b);
        expect(decodeFrames(padded)).toEqual(frames);
        expect(frames.reduce((n, f) => n + frameSize(f), 0)).toBe(b.length);
      }),
      { numRuns: 200 },
    );
  });

  it('isProbing: probe, challenge, response and ack do not move the return address', () => {
    const probing = sampleFrames.filter(isProbing).map((f) => f.type);
    expect(new Set(probing)).toEqual(new Set(['probe', 'ack', 'path-challenge', 'path-response']));
  });
});

describe('frameSize', () => {
  it.each([0, 1, 63, 64, 65, 16383, 16384, MAX_CHUNK])('equals the encoded length of a %d-byte stream frame', (n) => {
    for (const [seq, offset] of [
      [0, 0],
      [63, 64],
      [16384, 2 ** 20 - n],
      [2 ** 40, 0],
    ] as const) {
      const f: Frame = { type: 'stream', stream: 1, seq, offset, fin: n % 2 === 0, data: new Uint8Array(n) };
      expect(frameSize(f)).toBe(encodeFrames(f).length);
    }
  });

  it('equals the encoded length for any frame (fast-check)', () => {
    fc.assert(
      fc.property(arbFrame, (f) => {
        expect(frameSize(f)).toBe(encodeFrames(f).length);
      }),
    );
  });
});

describe('padding', () => {
  it('a zero byte ends the frames; zeros after it are fine', () => {
    expect(decodeFrames(new Uint8Array(0))).toEqual([]);
    expect(decodeFrames(new Uint8Array(64))).toEqual([]);
    expect(decodeFrames(bytes(FrameType.Ping, 0, 0, 0))).toEqual([{ type: 'ping' }]);
  });

  it('a frame hidden after padding is rejected, not ignored', () => {
    expect(wireCode(() => decodeFrames(bytes(0, FrameType.Ping)))).toBe('frame');
    expect(wireCode(() => decodeFrames(bytes(FrameType.Ping, 0, 0, 0, 0, 0, 0x80)))).toBe('frame');
    const body = new Uint8Array(64);
    body.set(encodeFrames({ type: 'ping' }));
    for (let i = 2; i < body.length; i++) {
      const b = body.slice();
      b[i] = 1 << (i % 8);
      expect(wireCode(() => decodeFrames(b))).toBe('frame');
    }
  });
});

describe('hostile frames', () => {
  it.each([0x08, 0x10, 0x7f, 0xff])('unknown frame type 0x%s', (t) => {
    expect(wireCode(() => decodeFrames(bytes(t)))).toBe('frame');
  });

  it('ACK with too many ranges, a first range below zero, or a gap below zero', () => {
    const tooMany = new Writer().u8(FrameType.Ack).varint(10_000).varint(0).varint(MAX_ACK_RANGES).varint(0);
    for (let i = 0; i < MAX_ACK_RANGES; i++) tooMany.varint(0).varint(0);
    expect(wireCode(() => decodeFrames(tooMany.finish()))).toBe('frame');
    expect(wireCode(() => decodeFrames(bytes(FrameType.Ack, 5, 0, 0, 6)))).toBe('frame'); // [−1, 5]
    expect(decodeFrames(bytes(FrameType.Ack, 5, 0, 0, 5))).toEqual([{ type: 'ack', delayMs: 0, ranges: [[0, 5]] }]);
    // [8, 10] then gap 6 → to = 8 − 6 − 2 = 0, len 0 → [0, 0] is fine; gap 7 → to = −1 is not.
    expect(decodeFrames(bytes(FrameType.Ack, 10, 0, 1, 2, 6, 0))).toEqual([
      { type: 'ack', delayMs: 0, ranges: [[8, 10], [0, 0]] },
    ]);
    expect(wireCode(() => decodeFrames(bytes(FrameType.Ack, 10, 0, 1, 2, 7, 0)))).toBe('frame');
    expect(wireCode(() => decodeFrames(bytes(FrameType.Ack, 10, 0, 1, 2, 6, 1)))).toBe('frame');
  });

  it('stream frame: flags other than 0/1, and data beyond the largest message', () => {
    const base = encodeFrames({ type: 'stream', stream: 1, seq: 0, offset: 0, fin: false, data: bytes(1, 2) });
    const badFin = base.slice();
    badFin[4] = 2; // type, stream, seq, offset, flags
    expect(wireCode(() => decodeFrames(badFin))).toBe('frame');
    const big = encodeFrames({ type: 'stream', stream: 1, seq: 0, offset: MAX_MESSAGE_SIZE - 1, fin: true, data: bytes(1, 2) });
    expect(wireCode(() => decodeFrames(big))).toBe('frame');
    const edge = encodeFrames({ type: 'stream', stream: 1, seq: 0, offset: MAX_MESSAGE_SIZE - 2, fin: true, data: bytes(1, 2) });
    expect(decodeFrames(edge)).toHaveLength(1);
  });

  it('close reason that is not UTF-8 is "encoding"', () => {
    expect(wireCode(() => decodeFrames(bytes(FrameType.Close, 2, 0xc3, 0x28)))).toBe('encoding');
  });

  it('every truncation of a frame with a payload is a WireError', () => {
    for (const f of sampleFrames.filter((x) => x.type !== 'ping' && x.type !== 'probe')) {
      const b = encodeFrames(f);
      for (let n = 1; n < b.length; n++) {
        const code = wireCode(() => decodeFrames(b.subarray(0, n)));
        expect(['truncated', 'frame', 'encoding', 'range']).toContain(code);
      }
    }
  });

  it('arbitrary bytes: decodeFrames throws only WireError (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        onlyWireError(() => decodeFrames(b));
      }),
      { numRuns: 1000 },
    );
  });

  it('arbitrary bytes after a valid frame type: only WireError (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 64 }), (t, rest) => {
        const b = new Uint8Array(1 + rest.length);
        b[0] = t;
        b.set(rest, 1);
        onlyWireError(() => decodeFrames(b));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('close and command text limits (UTF-8 bytes, cut at a character boundary)', () => {
  it.each([
    ['ascii', 'x', 1],
    ['2-byte', 'é', 2],
    ['3-byte', '世', 3],
    ['4-byte', '👋', 4],
  ])('a long %s close reason is cut to ≤ 200 bytes and still decodes', (_, ch, width) => {
    const reason = ch.repeat(300);
    const [f] = decodeFrames(encodeFrames({ type: 'close', reason }));
    if (f?.type !== 'close') throw new Error('not a close frame');
    const n = utf8(f.reason).length;
    expect(n).toBeLessThanOrEqual(200);
    expect(n).toBeGreaterThan(200 - width);
    expect(reason.startsWith(f.reason)).toBe(true);
  });

  it('a close reason under the limit is kept exactly, one over is cut (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (reason) => {
        if (new TextDecoder().decode(utf8(reason)) !== reason) return; // lone surrogates are not text
        const [f] = decodeFrames(encodeFrames({ type: 'close', reason }));
        if (f?.type !== 'close') throw new Error('not a close frame');
        if (utf8(reason).length <= 200) expect(f.reason).toBe(reason);
        else {
          expect(reason.startsWith(f.reason)).toBe(true);
          expect(utf8(f.reason).length).toBeGreaterThan(196);
        }
      }),
    );
  });

  it('a long hello name and path-close reason still decode', () => {
    const hello = decodeCommand(encodeCommand({ type: 'hello', signature: new Uint8Array(64), name: 'Ω'.repeat(40) }));
    if (hello.type !== 'hello') throw new Error('not hello');
    expect(hello.name).toBe('Ω'.repeat(32)); // 64 bytes
    const pc = decodeCommand(encodeCommand({ type: 'path-close', key: 'a|b', reason: '🙂'.repeat(60) }));
    if (pc.type !== 'path-close') throw new Error('not path-close');
    expect(pc.reason).toBe('🙂'.repeat(50)); // 200 bytes
  });
});

describe('commands', () => {
  const samples: Command[] = [
    { type: 'hello', signature: Uint8Array.from({ length: 64 }, (_, i) => i), name: 'alice' },
    { type: 'hello', signature: new Uint8Array(0), name: '' },
    { type: 'stations', stations: [] },
    {
      type: 'stations',
      stations: [
        { id: 'turn-a', state: 'active' },
        { id: 'turn-b', state: 'leaving' },
      ],
    },
    { type: 'stations', stations: Array.from({ length: 32 }, (_, i) => ({ id: `s${i}`, state: 'active' as const })) },
    { type: 'path-signal', key: 'turn-a|turn-b', offererStation: 'turn-a', answererStation: 'turn-b', data: utf8('{"sdp":"v=0"}') },
    { type: 'path-signal', key: 'k', offererStation: '', answererStation: '', data: new Uint8Array(0) },
    { type: 'path-close', key: 'turn-a|turn-b', reason: 'station leaving' },
  ];

  it.each(samples.map((c, i) => [`${c.type} #${i}`, c] as const))('%s round-trips', (_, c) => {
    expect(decodeCommand(encodeCommand(c))).toEqual(c);
  });

  it('decoded byte fields are copies, not views into the packet', () => {
    const b = encodeCommand(samples[0]!);
    const c = decodeCommand(b);
    b.fill(0);
    expect(c).toEqual(samples[0]);
  });

  it('any command round-trips (fast-check)', () => {
    const id = fc.string({ maxLength: 20 });
    const arbCommand: fc.Arbitrary<Command> = fc.oneof(
      fc.record({ type: fc.constant('hello' as const), signature: fc.uint8Array({ maxLength: 64 }), name: fc.string({ maxLength: 20 }) }),
      fc.record({
        type: fc.constant('stations' as const),
        stations: fc.array(fc.record({ id, state: fc.constantFrom('active' as const, 'leaving' as const) }), { maxLength: 32 }),
      }),
      fc.record({
        type: fc.constant('path-signal' as const),
        key: id,
        offererStation: id,
        answererStation: id,
        data: fc.uint8Array({ maxLength: 3000 }),
      }),
      fc.record({ type: fc.constant('path-close' as const), key: id, reason: fc.string({ maxLength: 60 }) }),
    );
    fc.assert(
      fc.property(arbCommand, (c) => {
        expect(decodeCommand(encodeCommand(c))).toEqual(c);
      }),
    );
  });

  it('every truncation of a valid command is a WireError', () => {
    for (const c of samples) {
      const b = encodeCommand(c);
      for (let n = 0; n < b.length; n++) wireCode(() => decodeCommand(b.subarray(0, n)));
    }
  });

  it('trailing bytes after a command are "frame"', () => {
    for (const c of samples) {
      const b = encodeCommand(c);
      const long = new Uint8Array(b.length + 1);
      long.set(b);
      expect(wireCode(() => decodeCommand(long))).toBe('frame');
    }
  });

  it('unknown command, too many stations, bad station state, oversized signature', () => {
    expect(wireCode(() => decodeCommand(bytes(0)))).toBe('frame');
    expect(wireCode(() => decodeCommand(bytes(5)))).toBe('frame');
    expect(wireCode(() => decodeCommand(bytes(2, 33)))).toBe('range');
    expect(wireCode(() => decodeCommand(bytes(2, 1, 1, 0x61, 2)))).toBe('range');
    expect(decodeCommand(bytes(2, 1, 1, 0x61, 1))).toEqual({ type: 'stations', stations: [{ id: 'a', state: 'leaving' }] });
    const bigSig = new Writer().u8(1).varBytes(new Uint8Array(65)).string('x').finish();
    expect(wireCode(() => decodeCommand(bigSig))).toBe('range');
  });

  it('arbitrary bytes: decodeCommand throws only WireError (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.uint8Array({ maxLength: 200 }), (t, rest) => {
        const b = new Uint8Array(1 + rest.length);
        b[0] = t;
        b.set(rest, 1);
        onlyWireError(() => decodeCommand(b));
      }),
      { numRuns: 2000 },
    );
  });
});
