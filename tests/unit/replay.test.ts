// RFC 6479 replay window: the table test from wireguard-go's replay/replay_test.go (itself ported from the
// Linux kernel), adapted to our window, then loops over the whole window, its boundary, and big jumps.
//
// Our convention: a counter is fresh iff highest − counter < REPLAY_WINDOW, i.e. the window holds REPLAY_WINDOW
// counters *including* the highest (as in RFC 4303). wireguard-go accepts one more (highest − windowSize), so its
// T_LIM = windowSize + 1 becomes our T_LIM = REPLAY_WINDOW, and its windowSize our REPLAY_WINDOW − 1 (= W below).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_PACKET_NUMBER, REPLAY_BLOCK_BITS, REPLAY_BLOCKS } from '../../src/net2o/constants.ts';
import { REPLAY_WINDOW, ReplayWindow } from '../../src/net2o/replay.ts';

const RING_BITS = REPLAY_BLOCKS * REPLAY_BLOCK_BITS; // 2048
const W = REPLAY_WINDOW - 1; // the farthest distance below the highest that is still accepted
const T_LIM = W + 1;

/** Mirrors the Go test's T(n, expected): check() must agree with update(), and update() records. */
function tester(w: ReplayWindow): (n: number, expected: boolean, label?: string) => void {
  let i = 0;
  return (n, expected, label) => {
    i++;
    const name = `T#${i} (${label ?? n})`;
    expect(w.check(n), `${name} check`).toBe(expected);
    expect(w.update(n), `${name} update`).toBe(expected);
  };
}

describe('ReplayWindow', () => {
  it('window size follows from the ring: 63 of 64 32-bit blocks', () => {
    expect(REPLAY_WINDOW).toBe(2016);
    expect(RING_BITS).toBe(2048);
  });

  it('the table test (wireguard-go / Linux kernel)', () => {
    const T = tester(new ReplayWindow());
    T(0, true); /*  1 */
    T(1, true); /*  2 */
    T(1, false); /*  3 */
    T(9, true); /*  4 */
    T(8, true); /*  5 */
    T(7, true); /*  6 */
    T(7, false); /*  7 */
    T(T_LIM, true); /*  8 */
    T(T_LIM - 1, true); /*  9 */
    T(T_LIM - 1, false); /* 10 */
    T(T_LIM - 2, true); /* 11 */
    T(2, true); /* 12 */
    T(2, false); /* 13 */
    T(T_LIM + 16, true); /* 14 */
    T(3, false); /* 15 */
    T(T_LIM + 16, false); /* 16 */
    T(T_LIM * 4, true); /* 17 */
    T(T_LIM * 4 - (T_LIM - 1), true); /* 18 */
    T(10, false); /* 19 */
    T(T_LIM * 4 - T_LIM, false); /* 20 */
    T(T_LIM * 4 - (T_LIM + 1), false); /* 21 */
    T(T_LIM * 4 - (T_LIM - 2), true); /* 22 */
    T(T_LIM * 4 + 1 - T_LIM, false); /* 23 */
    T(0, false); /* 24 */
    // 25–34 probe wireguard's RejectAfterMessages limit. Our limit is the 40-bit wire field (decodePacket cannot
    // produce a larger counter), so only the in-range rows carry over, at the top of the counter space.
    const L = MAX_PACKET_NUMBER + 1;
    T(L - 1, true, 'L-1'); /* 26 */
    T(L - 1, false, 'L-1'); /* 28 */
    T(L - 2, true, 'L-2'); /* 29 */
    T(L - 2, false, 'L-2'); /* 32 */
    T(L - 3, true, 'L-3'); /* 33 */
    T(0, false); /* 34 */
  });

  it('bulk 1: 1..W forward, then 0 (exactly W behind) once', () => {
    const T = tester(new ReplayWindow());
    for (let i = 1; i <= W; i++) T(i, true);
    T(0, true);
    T(0, false);
  });

  it('bulk 2: 2..W+1 forward, then 1 (W behind) is fresh, 0 (W+1 behind) too old', () => {
    const T = tester(new ReplayWindow());
    for (let i = 2; i <= W + 1; i++) T(i, true);
    T(1, true);
    T(0, false);
  });

  it('bulk 3: W+1 down to 1', () => {
    const T = tester(new ReplayWindow());
    for (let i = W + 1; i > 0; i--) T(i, true);
  });

  it('bulk 4: W+2 down to 2, then 0 is too old', () => {
    const T = tester(new ReplayWindow());
    for (let i = W + 2; i > 1; i--) T(i, true);
    T(0, false);
  });

  it('bulk 5: W down to 1, then W+1, then 0 is too old', () => {
    const T = tester(new ReplayWindow());
    for (let i = W; i > 0; i--) T(i, true);
    T(W + 1, true);
    T(0, false);
  });

  it('bulk 6: W down to 1, then 0, then W+1', () => {
    const T = tester(new ReplayWindow());
    for (let i = W; i > 0; i--) T(i, true);
    T(0, true);
    T(W + 1, true);
  });

  it('after a full forward pass, every counter in the window is a replay', () => {
    const w = new ReplayWindow();
    for (let i = 0; i < 3 * RING_BITS; i++) expect(w.update(i)).toBe(true);
    const last = 3 * RING_BITS - 1;
    for (let i = 0; i <= last; i++) expect(w.check(i)).toBe(false);
    expect(w.highest).toBe(last);
  });

  it('the too-old boundary is exactly REPLAY_WINDOW behind the highest', () => {
    for (const last of [REPLAY_WINDOW, 5000, 5000 + 17, 2 ** 33 + 5, MAX_PACKET_NUMBER]) {
      const w = new ReplayWindow();
      expect(w.update(last)).toBe(true);
      expect(w.check(last - REPLAY_WINDOW + 1)).toBe(true);
      expect(w.check(last - REPLAY_WINDOW)).toBe(false);
      expect(w.check(last - REPLAY_WINDOW - 1)).toBe(false);
      expect(w.update(last - REPLAY_WINDOW)).toBe(false);
      expect(w.update(last - REPLAY_WINDOW + 1)).toBe(true);
      expect(w.update(last - REPLAY_WINDOW + 1)).toBe(false);
    }
  });

  it('a jump of less than the ring clears exactly the blocks it passes', () => {
    const w = new ReplayWindow();
    for (let i = 0; i < RING_BITS; i++) w.update(i);
    const last = RING_BITS - 1 + 1000;
    expect(w.update(last)).toBe(true);
    for (let i = last - W; i < RING_BITS; i++) expect(w.check(i), `old ${i}`).toBe(false); // still recorded
    for (let i = RING_BITS; i < last; i++) expect(w.check(i), `new ${i}`).toBe(true); // never seen
    expect(w.check(last - W - 1)).toBe(false); // too old
  });

  it.each([RING_BITS - 32, RING_BITS, RING_BITS + 1, RING_BITS + 32, 5 * RING_BITS + 7, 1_000_000, 2 ** 32 + 3])(
    'a jump of %d (≥ ring) leaves no stale bits behind',
    (jump) => {
      const w = new ReplayWindow();
      for (let i = 0; i < RING_BITS; i++) w.update(i); // every bit of the ring set
      const last = RING_BITS - 1 + jump;
      expect(w.update(last)).toBe(true);
      for (let i = Math.max(RING_BITS, last - W); i < last; i++) expect(w.check(i), `${i}`).toBe(true);
      expect(w.check(last)).toBe(false);
    },
  );

  it('a jump to the top of the 40-bit space, then backwards through the window', () => {
    const w = new ReplayWindow();
    w.update(0);
    w.update(MAX_PACKET_NUMBER);
    for (let i = MAX_PACKET_NUMBER - 1; i > MAX_PACKET_NUMBER - REPLAY_WINDOW; i--) expect(w.update(i)).toBe(true);
    for (let i = MAX_PACKET_NUMBER; i > MAX_PACKET_NUMBER - REPLAY_WINDOW; i--) expect(w.check(i)).toBe(false);
    expect(w.check(MAX_PACKET_NUMBER - REPLAY_WINDOW)).toBe(false);
  });

  it('bit 31 of a block (the sign bit in JS bitwise ops) is recorded and checked', () => {
    const w = new ReplayWindow();
    for (const c of [31, 63, 2 ** 32 + 31]) {
      expect(w.update(c)).toBe(true);
      expect(w.check(c)).toBe(false);
      expect(w.update(c)).toBe(false);
    }
  });

  it('check never records', () => {
    const w = new ReplayWindow();
    for (let k = 0; k < 3; k++) {
      expect(w.check(5)).toBe(true);
      expect(w.check(100)).toBe(true);
    }
    expect(w.highest).toBe(-1);
    expect(w.update(100)).toBe(true);
    for (let k = 0; k < 3; k++) expect(w.check(5)).toBe(true);
    expect(w.highest).toBe(100);
    expect(w.update(5)).toBe(true);
    expect(w.check(5)).toBe(false);
    // check on a counter far ahead does not move the window
    expect(w.check(100 + 10 * RING_BITS)).toBe(true);
    expect(w.check(5)).toBe(false);
    expect(w.highest).toBe(100);
  });

  it('negative counters are never fresh', () => {
    const w = new ReplayWindow();
    expect(w.check(-1)).toBe(false);
    expect(w.update(-1)).toBe(false);
    expect(w.highest).toBe(-1);
  });

  it('agrees with a set-based model for any sequence (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 3 * RING_BITS }),
            fc.integer({ min: 0, max: 200 }).map((d) => ({ back: d * 13 })), // relative to the highest
          ),
          { maxLength: 300 },
        ),
        (ops) => {
          const w = new ReplayWindow();
          const seen = new Set<number>();
          let last = -1;
          for (const op of ops) {
            const c = typeof op === 'number' ? op : Math.max(0, last - op.back);
            const fresh = !seen.has(c) && (c > last || last - c < REPLAY_WINDOW);
            expect(w.check(c)).toBe(fresh);
            expect(w.update(c)).toBe(fresh);
            if (fresh) {
              seen.add(c);
              last = Math.max(last, c);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
