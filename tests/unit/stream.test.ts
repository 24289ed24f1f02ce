// Ordered reliable messages over lossy packets: splitting and reassembly, retransmission of the same chunk,
// and a fuzzed lossy/reordering/duplicating network that must deliver each message exactly once, in order.
import { describe, expect, it } from 'vitest';
import { wireCode } from '../helpers/wire-errors.ts';
import fc from 'fast-check';
import { bytesEqual } from '../../src/net2o/bytes.ts';
import { MAX_BODY_SIZE, MAX_MESSAGE_SIZE, MAX_RECEIVE_AHEAD } from '../../src/net2o/constants.ts';
import { MAX_CHUNK, ReceiveStream, SendStream, type Chunk } from '../../src/net2o/stream.ts';
import { Rng } from '../../src/sim/rng.ts';

/** Deterministic randomness (the simulator's seeded PRNG): the fuzz runs replay from fast-check's seed. */
function prng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

function message(i: number, len: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, k) => (i * 31 + k * 7 + (k >> 8)) & 0xff);
}

function drain(s: SendStream, max = MAX_CHUNK): Chunk[] {
  const out: Chunk[] = [];
  for (let c = s.nextChunk(max); c; c = s.nextChunk(max)) out.push(c);
  return out;
}

describe('splitting and reassembly', () => {
  it('a chunk leaves room for other frames in the largest body', () => {
    expect(MAX_CHUNK).toBeLessThan(MAX_BODY_SIZE);
    expect(MAX_CHUNK).toBeGreaterThan(MAX_BODY_SIZE / 2);
  });

  it('a message larger than a chunk is split at MAX_CHUNK; only the last chunk has fin', () => {
    const s = new SendStream(1);
    const data = message(0, 2 * MAX_CHUNK + 1234);
    expect(s.push(data)).toBe(0);
    const chunks = drain(s, MAX_BODY_SIZE);
    expect(chunks.map((c) => [c.seq, c.offset, c.data.length, c.fin])).toEqual([
      [0, 0, MAX_CHUNK, false],
      [0, MAX_CHUNK, MAX_CHUNK, false],
      [0, 2 * MAX_CHUNK, 1234, true],
    ]);
    expect(chunks.every((c) => c.stream === 1)).toBe(true);
    expect(s.hasPending).toBe(false);

    const r = new ReceiveStream();
    expect(r.onChunk(chunks[2]!)).toEqual([]); // the end first: still incomplete
    expect(r.onChunk(chunks[0]!)).toEqual([]);
    const out = r.onChunk(chunks[1]!);
    expect(out).toHaveLength(1);
    expect(out[0]).toEqual(data);
  });

  it('chunks never exceed the room the packer offers', () => {
    const s = new SendStream(1);
    s.push(message(0, 1000));
    const chunks = drain(s, 300);
    expect(chunks.map((c) => c.data.length)).toEqual([300, 300, 300, 100]);
    expect(chunks.map((c) => c.offset)).toEqual([0, 300, 600, 900]);
    expect(s.nextChunk(0)).toBeNull();
  });

  it('no room: nothing is cut, and the message stays pending', () => {
    const s = new SendStream(1);
    s.push(message(0, 10));
    expect(s.nextChunk(0)).toBeNull();
    expect(s.hasPending).toBe(true);
    expect(s.nextChunk(10)?.fin).toBe(true);
  });

  it('an empty message is one empty fin chunk and is delivered', () => {
    const s = new SendStream(1);
    s.push(new Uint8Array(0));
    const chunks = drain(s);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ seq: 0, offset: 0, fin: true });
    const r = new ReceiveStream();
    expect(r.onChunk(chunks[0]!)).toEqual([new Uint8Array(0)]);
  });

  it('messages are delivered in order: a later complete message waits for the earlier one', () => {
    const s = new SendStream(1);
    const msgs = [message(0, 50), message(1, 60), message(2, 70)];
    for (const m of msgs) s.push(m);
    const [a, b, c] = drain(s);
    const r = new ReceiveStream();
    expect(r.onChunk(c!)).toEqual([]);
    expect(r.onChunk(b!)).toEqual([]);
    expect(r.onChunk(a!)).toEqual(msgs);
  });

  it('the receiver keeps its own copy of chunk data', () => {
    const r = new ReceiveStream();
    const data = new Uint8Array([1, 2, 3]);
    r.onChunk({ stream: 1, seq: 0, offset: 0, fin: false, data });
    data.fill(9);
    expect(r.onChunk({ stream: 1, seq: 0, offset: 3, fin: true, data: new Uint8Array([4]) })).toEqual([
      new Uint8Array([1, 2, 3, 4]),
    ]);
  });
});

describe('retransmission', () => {
  it('a lost chunk is resent unchanged, before new data', () => {
    const s = new SendStream(1);
    s.push(message(0, 2 * MAX_CHUNK));
    const first = s.nextChunk(MAX_CHUNK)!;
    s.onLost(first);
    const again = s.nextChunk(MAX_CHUNK)!;
    expect(again).toEqual(first);
    expect(s.nextChunk(MAX_CHUNK)!.offset).toBe(MAX_CHUNK); // then the new data
  });

  it('a retransmission is never re-split: with too little room it waits, blocking new data', () => {
    const s = new SendStream(1);
    s.push(message(0, 500));
    const c = s.nextChunk(500)!;
    s.push(message(1, 10));
    s.onLost(c);
    expect(s.nextChunk(100)).toBeNull();
    expect(s.nextChunk(500)).toEqual(c);
  });

  it('an acked chunk is not retransmitted, even if declared lost afterwards', () => {
    const s = new SendStream(1);
    s.push(message(0, 100));
    const c = s.nextChunk(MAX_CHUNK)!;
    s.onAcked(c);
    s.onLost(c);
    expect(s.hasPending).toBe(false);
    expect(s.nextChunk(MAX_CHUNK)).toBeNull();
  });

  it('a chunk declared lost and then acked (the late ack) is dropped from the resend queue', () => {
    const s = new SendStream(1);
    s.push(message(0, 2 * MAX_CHUNK));
    const [a, b] = drain(s);
    s.onLost(a!);
    s.onLost(b!);
    s.onAcked(a!);
    expect(s.nextChunk(MAX_CHUNK)).toEqual(b);
    expect(s.nextChunk(MAX_CHUNK)).toBeNull();
  });

  it('a message is done only when every chunk is acked: the last, 1-byte chunk is still resent', () => {
    const s = new SendStream(1);
    s.push(message(0, 2 * MAX_CHUNK + 1));
    const [a, b, c] = drain(s);
    expect(c!.data.length).toBe(1);
    s.onAcked(a!);
    s.onAcked(b!);
    expect(s.unackedMessages).toBe(1);
    expect(s.buffered).toBe(2 * MAX_CHUNK + 1);
    s.onLost(c!);
    expect(s.nextChunk(MAX_CHUNK)).toEqual(c);
    s.onAcked(c!);
    expect(s.unackedMessages).toBe(0);
    expect(s.buffered).toBe(0);
  });

  it('buffered counts unacknowledged bytes and falls to 0 when all are acked', () => {
    const s = new SendStream(1);
    s.push(message(0, MAX_CHUNK + 10));
    s.push(message(1, 20));
    expect(s.buffered).toBe(MAX_CHUNK + 30);
    const [a, b, c] = drain(s);
    s.onAcked(a!);
    expect(s.buffered).toBe(MAX_CHUNK + 30); // message 0 is not complete yet
    s.onAcked(c!);
    expect(s.buffered).toBe(MAX_CHUNK + 10);
    s.onAcked(c!); // a duplicate ack changes nothing
    expect(s.buffered).toBe(MAX_CHUNK + 10);
    s.onAcked(b!);
    expect(s.buffered).toBe(0);
    expect(s.unackedMessages).toBe(0);
    s.onAcked(b!);
    expect(s.buffered).toBe(0);
  });
});

describe('a lossy, reordering, duplicating network (fast-check)', () => {
  const arbLen = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 200 }) },
    { weight: 1, arbitrary: fc.integer({ min: MAX_CHUNK - 1, max: 3 * MAX_CHUNK + 1 }) },
  );

  it('delivers every message exactly once, in order, and ends with nothing buffered', () => {
    fc.assert(
      fc.property(
        fc.array(arbLen, { minLength: 1, maxLength: 8 }),
        fc.integer(),
        fc.double({ min: 0, max: 0.5, noNaN: true }), // loss
        fc.double({ min: 0, max: 0.3, noNaN: true }), // duplication
        fc.double({ min: 0, max: 0.3, noNaN: true }), // lost acks
        (lens, seed, pLoss, pDup, pAckLoss) => {
          const rnd = prng(seed);
          const msgs = lens.map((n, i) => message(i, n));
          const s = new SendStream(1);
          const r = new ReceiveStream();
          const delivered: Uint8Array[] = [];
          const network: Chunk[] = [];
          let pushed = 0;
          for (let step = 0; step < 100_000; step++) {
            if (pushed < msgs.length && rnd() < 0.3) s.push(msgs[pushed++]!);
            // The packer offers varying room; a resend that does not fit waits for a roomier packet.
            const room = rnd() < 0.5 ? MAX_CHUNK : 1 + Math.floor(rnd() * MAX_CHUNK);
            const c = s.nextChunk(room) ?? s.nextChunk(MAX_BODY_SIZE);
            if (c) network.push(c);
            // Deliver (or lose) one chunk chosen at random: reordering.
            if (network.length > 0 && (rnd() < 0.6 || !c)) {
              const i = Math.floor(rnd() * network.length);
              const x = network[i]!;
              if (rnd() < pDup) network.push(x); // a copy stays in flight
              network.splice(i, 1);
              if (rnd() < pLoss) {
                s.onLost(x);
              } else {
                delivered.push(...r.onChunk(x));
                if (rnd() < pAckLoss) s.onLost(x); // the ack was lost: a spurious resend
                else s.onAcked(x);
              }
            }
            // Now and then the sender wrongly suspects a chunk still in flight.
            if (network.length > 0 && rnd() < 0.05) s.onLost(network[Math.floor(rnd() * network.length)]!);
            if (pushed === msgs.length && network.length === 0 && !s.hasPending && s.unackedMessages === 0) break;
          }
          expect(delivered.length).toBe(msgs.length);
          // bytesEqual, not toEqual: a deep-equal over ~50 KB arrays per run dominates the test's time.
          for (let i = 0; i < msgs.length; i++) expect(bytesEqual(delivered[i]!, msgs[i]!), `message ${i}`).toBe(true);
          expect(s.buffered).toBe(0);
          expect(s.unackedMessages).toBe(0);
          expect(s.hasPending).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('hostile chunks', () => {
  const chunk = (seq: number, offset: number, fin: boolean, data: Uint8Array): Chunk => ({ stream: 1, seq, offset, fin, data });

  it('a message too far ahead of the next one to deliver is "range"', () => {
    const r = new ReceiveStream();
    expect(wireCode(() => r.onChunk(chunk(MAX_RECEIVE_AHEAD, 0, true, new Uint8Array(1))))).toBe('range');
    expect(r.onChunk(chunk(MAX_RECEIVE_AHEAD - 1, 0, true, new Uint8Array(1)))).toEqual([]); // just inside
  });

  it('the limit moves with delivery', () => {
    const r = new ReceiveStream();
    expect(r.onChunk(chunk(0, 0, true, new Uint8Array(1)))).toHaveLength(1);
    expect(r.onChunk(chunk(MAX_RECEIVE_AHEAD, 0, true, new Uint8Array(1)))).toEqual([]);
    expect(wireCode(() => r.onChunk(chunk(MAX_RECEIVE_AHEAD + 1, 0, true, new Uint8Array(1))))).toBe('range');
  });

  it('old messages are counted as duplicates and ignored', () => {
    const r = new ReceiveStream();
    r.onChunk(chunk(0, 0, true, new Uint8Array([1])));
    expect(r.onChunk(chunk(0, 0, true, new Uint8Array([1])))).toEqual([]);
    expect(r.duplicates).toBe(1);
  });

  it('a fin that changes the message length is "frame"', () => {
    const r = new ReceiveStream();
    r.onChunk(chunk(1, 10, true, new Uint8Array(5)));
    expect(wireCode(() => r.onChunk(chunk(1, 10, true, new Uint8Array(6))))).toBe('frame');
  });

  it('a message longer than MAX_MESSAGE_SIZE is "range"', () => {
    const r = new ReceiveStream();
    expect(wireCode(() => r.onChunk(chunk(0, MAX_MESSAGE_SIZE, true, new Uint8Array(1))))).toBe('range');
  });

  it('overlapping chunks or data beyond the end are "frame", not a corrupt message', () => {
    const r1 = new ReceiveStream();
    r1.onChunk(chunk(0, 0, false, new Uint8Array(30)));
    expect(wireCode(() => r1.onChunk(chunk(0, 10, true, new Uint8Array(30))))).toBe('frame');
    const r2 = new ReceiveStream();
    r2.onChunk(chunk(0, 100, false, new Uint8Array(10)));
    expect(wireCode(() => r2.onChunk(chunk(0, 0, true, new Uint8Array(50))))).toBe('frame');
  });
});
