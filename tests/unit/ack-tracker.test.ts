// Which packet numbers were received (as ranges) and when the ACK is due: table-driven merges, the ack-delay
// policy (immediate on reordering or every ACK_ELICITING_THRESHOLD packets, else MAX_ACK_DELAY_MS), fuzzed coverage.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AckTracker } from '../../src/net2o/ack-tracker.ts';
import { ACK_ELICITING_THRESHOLD, MAX_ACK_DELAY_MS, MAX_ACK_RANGES, MAX_PACKET_NUMBER } from '../../src/net2o/constants.ts';
import type { AckRanges } from '../../src/net2o/frames.ts';

function rangesAfter(pns: number[]): AckRanges {
  const t = new AckTracker();
  for (const pn of pns) t.onReceived(pn, true, 0);
  return t.take(0)?.ranges ?? [];
}

/** The reference: the set as maximal runs, highest first. */
function modelRanges(pns: Iterable<number>): AckRanges {
  const sorted = [...new Set(pns)].sort((a, b) => b - a);
  const out: AckRanges = [];
  for (const pn of sorted) {
    const last = out[out.length - 1];
    if (last && last[0] === pn + 1) last[0] = pn;
    else out.push([pn, pn]);
  }
  return out;
}

describe('ranges', () => {
  const table: Array<[string, number[], AckRanges]> = [
    ['in order', [1, 2, 3], [[1, 3]]],
    ['reversed', [3, 2, 1], [[1, 3]]],
    ['one hole', [1, 3], [[3, 3], [1, 1]]],
    ['hole filled: merges both sides', [1, 3, 2], [[1, 3]]],
    ['hole at zero', [2, 0], [[2, 2], [0, 0]]],
    ['fill at zero', [0, 2, 1], [[0, 2]]],
    ['three singletons', [10, 0, 5], [[10, 10], [5, 5], [0, 0]]],
    ['middle grows both ways', [10, 0, 5, 4, 6], [[10, 10], [4, 6], [0, 0]]],
    ['middle joins the top', [10, 0, 5, 4, 6, 9, 8, 7], [[4, 10], [0, 0]]],
    ['everything joins', [10, 0, 5, 4, 6, 9, 8, 7, 1, 2, 3], [[0, 10]]],
    ['extend down only', [5, 6, 4], [[4, 6]]],
    ['extend up below the top', [100, 50, 51, 49], [[100, 100], [49, 51]]],
    ['fill the lower of two holes', [0, 2, 4, 6, 3], [[6, 6], [2, 4], [0, 0]]],
    ['fill the upper of two holes', [0, 2, 4, 6, 5], [[4, 6], [2, 2], [0, 0]]],
    ['new range between two', [20, 0, 10], [[20, 20], [10, 10], [0, 0]]],
    ['adjacent to the range above (pn + 1 = from)', [20, 10, 19], [[19, 20], [10, 10]]],
    ['top of the 40-bit space', [MAX_PACKET_NUMBER, MAX_PACKET_NUMBER - 2, MAX_PACKET_NUMBER - 1], [[MAX_PACKET_NUMBER - 2, MAX_PACKET_NUMBER]]],
  ];
  it.each(table)('%s: %j', (_, pns, expected) => {
    expect(rangesAfter(pns)).toEqual(expected);
    expect(modelRanges(pns)).toEqual(expected); // the model agrees with the table
  });

  it('duplicates are ignored', () => {
    expect(rangesAfter([1, 1, 1])).toEqual([[1, 1]]);
    expect(rangesAfter([5, 3, 3, 5, 4, 4, 3])).toEqual([[3, 5]]);
    expect(rangesAfter([10, 0, 5, 0, 10, 5])).toEqual([[10, 10], [5, 5], [0, 0]]);
  });

  it('for any packet numbers in any order, the ranges exactly cover the set (fast-check)', () => {
    // Numbers in 0..60 can make at most 31 ranges: always within MAX_ACK_RANGES.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 90 }), (pns) => {
        expect(rangesAfter(pns)).toEqual(modelRanges(pns));
      }),
      { numRuns: 500 },
    );
  });

  it('…also for sparse, large packet numbers (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 39 }),
        fc.array(fc.integer({ min: 0, max: 3 * MAX_ACK_RANGES }), { minLength: 1, maxLength: 3 * MAX_ACK_RANGES }),
        (base, offsets) => {
          const pns = offsets.map((o) => base + o);
          const expected = modelRanges(pns);
          fc.pre(expected.length <= MAX_ACK_RANGES);
          expect(rangesAfter(pns)).toEqual(expected);
        },
      ),
    );
  });

  it('with more holes than MAX_ACK_RANGES, the highest ranges are reported', () => {
    const pns = Array.from({ length: 3 * MAX_ACK_RANGES }, (_, i) => 2 * i); // 0, 2, 4, …: all holes
    for (const order of [pns, [...pns].reverse()]) {
      const got = rangesAfter(order);
      expect(got).toHaveLength(MAX_ACK_RANGES);
      expect(got).toEqual(modelRanges(pns).slice(0, MAX_ACK_RANGES));
    }
  });

  it('take() returns a snapshot: later receipts do not change ranges already handed out', () => {
    const t = new AckTracker();
    t.onReceived(1, true, 0);
    t.onReceived(3, true, 0);
    const first = t.take(0)!.ranges;
    t.onReceived(4, true, 0); // extends [3,3] to [3,4]
    t.onReceived(0, true, 0); // extends [1,1] to [0,1]
    expect(first).toEqual([[3, 3], [1, 1]]);
    expect(t.take(0)!.ranges).toEqual([[3, 4], [0, 1]]);
  });

  it('nothing received: take() returns null and no ack is pending', () => {
    const t = new AckTracker();
    expect(t.take(0)).toBeNull();
    expect(t.pending).toBe(false);
    t.ackNow(5);
    expect(t.pending).toBe(false);
  });
});

describe('ack timing', () => {
  it('one in-order ack-eliciting packet: the ack is delayed MAX_ACK_DELAY_MS', () => {
    const t = new AckTracker();
    t.onReceived(1, true, 100);
    expect(t.pending).toBe(true);
    expect(t.deadline).toBe(100 + MAX_ACK_DELAY_MS);
  });

  it(`after ${ACK_ELICITING_THRESHOLD} ack-eliciting packets the ack is due at once`, () => {
    const t = new AckTracker();
    for (let i = 1; i < ACK_ELICITING_THRESHOLD; i++) t.onReceived(i, true, 100);
    expect(t.deadline).toBe(100 + MAX_ACK_DELAY_MS);
    t.onReceived(ACK_ELICITING_THRESHOLD, true, 102);
    expect(t.deadline).toBe(102);
  });

  it('the delayed deadline is not pushed later by further packets', () => {
    const t = new AckTracker();
    t.onReceived(1, true, 100);
    t.onReceived(2, false, 103);
    expect(t.deadline).toBe(100 + MAX_ACK_DELAY_MS);
  });

  it('a reordered packet (below the largest) is acked at once', () => {
    const t = new AckTracker();
    t.onReceived(5, true, 100);
    t.take(100);
    expect(t.pending).toBe(false);
    t.onReceived(3, true, 110);
    expect(t.deadline).toBe(110); // only one unacked packet, but reordering says "loss": tell the sender now
  });

  it('non-ack-eliciting packets (ack-only) are recorded but schedule no ack', () => {
    const t = new AckTracker();
    t.onReceived(1, false, 100);
    t.onReceived(0, false, 101); // even reordered
    expect(t.pending).toBe(false);
    expect(t.deadline).toBe(Infinity);
    expect(t.take(200)!.ranges).toEqual([[0, 1]]);
  });

  it('take() clears the pending ack and the eliciting count', () => {
    const t = new AckTracker();
    t.onReceived(1, true, 100);
    t.onReceived(2, true, 100);
    expect(t.deadline).toBe(100);
    t.take(100);
    expect(t.pending).toBe(false);
    t.onReceived(3, true, 200); // count restarted: delayed, not immediate
    expect(t.deadline).toBe(200 + MAX_ACK_DELAY_MS);
  });

  it('ackNow makes a pending ack due immediately', () => {
    const t = new AckTracker();
    t.onReceived(1, true, 100);
    t.ackNow(101);
    expect(t.deadline).toBe(101);
  });

  it('ack delay is measured from when the largest packet arrived', () => {
    const t = new AckTracker();
    t.onReceived(10, true, 100);
    t.onReceived(5, true, 103); // not the largest: does not restart the clock
    expect(t.take(104)!.delayMs).toBe(4);
    t.onReceived(11, true, 110);
    expect(t.take(110)!.delayMs).toBe(0);
    t.onReceived(12, true, 120.4);
    expect(t.take(123)!.delayMs).toBe(3); // whole milliseconds on the wire
  });
});
