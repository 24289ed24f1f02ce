// Which packet numbers we received, as ranges, and when an ACK frame is due.
import { ACK_ELICITING_THRESHOLD, MAX_ACK_DELAY_MS, MAX_ACK_RANGES } from './constants.ts';
import type { AckRanges } from './frames.ts';

export class AckTracker {
  /** Received ranges, highest first, disjoint and non-adjacent. */
  private ranges: AckRanges = [];
  private unacked = 0; // ack-eliciting packets since the last ACK we sent
  private largestAt = 0;
  /** When the pending ACK must be sent (Infinity: none pending). */
  deadline = Infinity;

  onReceived(pn: number, ackEliciting: boolean, now: number): void {
    // Below the largest (reordered) or above it with a hole (a loss): either way the sender wants to know now.
    const outOfOrder = this.ranges.length > 0 && (pn < this.ranges[0]![1] || pn > this.ranges[0]![1] + 1);
    this.insert(pn);
    if (pn === this.ranges[0]![1]) this.largestAt = now;
    if (!ackEliciting) return;
    this.unacked++;
    // Ack at once on reordering (a gap tells the sender about loss early) or after every second packet.
    if (outOfOrder || this.unacked >= ACK_ELICITING_THRESHOLD) this.deadline = now;
    else this.deadline = Math.min(this.deadline, now + MAX_ACK_DELAY_MS);
  }

  /** Immediately ack (after a ping or challenge: the peer is measuring). */
  ackNow(now: number): void {
    if (this.ranges.length > 0) this.deadline = now;
  }

  exportState(): AckRanges {
    return this.ranges.map(([a, b]) => [a, b]);
  }

  /** A restored tracker acks everything it knows at once (the new owner has acks to catch up on). */
  importState(ranges: AckRanges, now: number): void {
    this.ranges = ranges.map(([a, b]) => [a, b]);
    this.largestAt = now;
    if (ranges.length > 0) this.deadline = now;
  }

  get pending(): boolean {
    return this.deadline !== Infinity;
  }

  /** The ranges to send, and clears the pending ack. */
  take(now: number): { ranges: AckRanges; delayMs: number } | null {
    if (this.ranges.length === 0) return null;
    this.deadline = Infinity;
    this.unacked = 0;
    // Copies: insert() mutates the [from, to] pairs in place, and a caller may hold the frame past the next receipt.
    const ranges: AckRanges = this.ranges.slice(0, MAX_ACK_RANGES).map(([from, to]) => [from, to]);
    return { ranges, delayMs: Math.max(0, Math.round(now - this.largestAt)) };
  }

  private insert(pn: number): void {
    const r = this.ranges;
    let i = 0;
    while (i < r.length && r[i]![0] > pn + 1) i++; // skip ranges entirely above pn+1
    if (i < r.length && r[i]![0] <= pn + 1 && r[i]![1] >= pn - 1) {
      const cur = r[i]!;
      if (pn >= cur[0] && pn <= cur[1]) return;
      if (pn === cur[1] + 1) {
        cur[1] = pn;
        // Merging with the range above is impossible: ranges above start at > pn + 1.
      } else {
        cur[0] = pn;
        const next = r[i + 1];
        if (next && next[1] === pn - 1) {
          cur[0] = next[0];
          r.splice(i + 1, 1);
        }
      }
    } else {
      r.splice(i, 0, [pn, pn]);
    }
    if (r.length > MAX_ACK_RANGES * 2) r.length = MAX_ACK_RANGES * 2; // forget the oldest holes
  }
}
