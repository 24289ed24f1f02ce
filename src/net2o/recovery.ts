// Loss recovery (RFC 9002 style): what is in flight, what an ACK acknowledges, what is lost, the RTT and the
// probe timeout. It knows packets, not streams or paths: the session turns acked/lost packets into stream and
// path updates.
import { MAX_ACK_DELAY_MS, MAX_PTO_MS, PACKET_THRESHOLD, TIME_THRESHOLD, TIMER_GRANULARITY_MS } from './constants.ts';
import type { PathId } from './events.ts';
import type { AckRanges } from './frames.ts';
import { RttEstimator } from './rtt.ts';
import type { Chunk } from './stream.ts';

export interface SentPacket {
  pn: number;
  time: number;
  pathId: PathId;
  size: number;
  ackEliciting: boolean;
  chunks: Chunk[];
}

export interface AckOutcome {
  acked: SentPacket[];
  lost: SentPacket[];
  /** The newly acknowledged largest packet gave an RTT sample (ms, ack delay already capped). */
  rttSample: { packet: SentPacket; sampleMs: number; ackDelayMs: number } | null;
}

export class Recovery {
  /** In flight, in packet-number order (= send order). */
  private readonly sent = new Map<number, SentPacket>();
  bytesInFlight = 0;
  largestAcked = -1;
  /** When the next time-threshold loss check is due (Infinity: none). */
  lossTime = Infinity;
  ptoCount = 0;
  lastAckElicitingSentAt = -Infinity;
  readonly rtt = new RttEstimator();
  private changes = 0;
  private oldestAt = -1;
  private readonly oldestByPath = new Map<PathId, number>();

  get inFlightCount(): number {
    return this.sent.size;
  }

  onSent(p: SentPacket): void {
    this.sent.set(p.pn, p);
    this.changes++;
    this.bytesInFlight += p.size;
    this.lastAckElicitingSentAt = p.time;
  }

  /** Applies an ACK frame. `nextPn` guards against acks for packets never sent (the caller rejects those). */
  onAck(ranges: AckRanges, ackDelayMs: number, now: number): AckOutcome {
    const acked: SentPacket[] = [];
    for (const [from, to] of ranges) {
      // Ranges are often long (everything since the session began): walk what is in flight, not the range.
      if (to - from + 1 > this.sent.size) {
        for (const s of this.sent.values()) if (s.pn >= from && s.pn <= to) acked.push(s);
      } else {
        for (let pn = from; pn <= to; pn++) {
          const s = this.sent.get(pn);
          if (s) acked.push(s);
        }
      }
    }
    for (const s of acked) this.remove(s);
    const largest = ranges[0]![1];
    let rttSample: AckOutcome['rttSample'] = null;
    if (largest > this.largestAcked) {
      this.largestAcked = largest;
      const top = acked.find((s) => s.pn === largest);
      if (top?.ackEliciting) {
        const delay = Math.min(ackDelayMs, MAX_ACK_DELAY_MS);
        const sample = now - top.time;
        this.rtt.update(sample, delay);
        rttSample = { packet: top, sampleMs: sample, ackDelayMs: delay };
      }
    }
    if (acked.length > 0) this.ptoCount = 0;
    return { acked, lost: this.detectLoss(now), rttSample };
  }

  /** Packets below the largest acknowledged that are 3 packets or 9/8 RTT behind are lost; re-arms lossTime. */
  detectLoss(now: number): SentPacket[] {
    this.lossTime = Infinity;
    if (this.largestAcked < 0) return [];
    const delay = Math.max(TIME_THRESHOLD * Math.max(this.rtt.smoothed, this.rtt.latest), TIMER_GRANULARITY_MS);
    const lost: SentPacket[] = [];
    for (const s of this.sent.values()) {
      if (s.pn > this.largestAcked) break;
      // Same expression as the deadline below, so a timer firing exactly at it always makes progress.
      if (s.pn <= this.largestAcked - PACKET_THRESHOLD || s.time + delay <= now) lost.push(s);
      else this.lossTime = Math.min(this.lossTime, s.time + delay);
    }
    for (const s of lost) this.remove(s);
    return lost;
  }

  /** Removes and returns the packets in flight that match (they will be treated as lost). */
  take(which: (s: SentPacket) => boolean): SentPacket[] {
    const out = [...this.sent.values()].filter(which);
    for (const s of out) this.remove(s);
    return out;
  }

  /** The probe timeout fired: back off, and give up the oldest packet in flight (its data goes out again). */
  onPto(now: number): SentPacket | undefined {
    this.ptoCount++;
    const first = this.sent.values().next().value;
    if (first) this.remove(first);
    this.lastAckElicitingSentAt = now; // re-arm even if nothing can be sent (no path)
    return first;
  }

  ptoDeadline(): number {
    if (this.sent.size === 0) return Infinity;
    const pto = Math.min(this.rtt.pto(MAX_ACK_DELAY_MS) * 2 ** this.ptoCount, MAX_PTO_MS);
    return this.lastAckElicitingSentAt + pto;
  }

  /** Send time of the oldest ack-eliciting packet in flight on a path; one cached pass per change of `sent`. */
  oldestInFlight(pathId: PathId): number | null {
    if (this.oldestAt !== this.changes) {
      this.oldestByPath.clear();
      for (const s of this.sent.values()) if (s.ackEliciting && !this.oldestByPath.has(s.pathId)) this.oldestByPath.set(s.pathId, s.time);
      this.oldestAt = this.changes;
    }
    return this.oldestByPath.get(pathId) ?? null;
  }

  clear(): void {
    this.sent.clear();
    this.bytesInFlight = 0;
    this.changes++;
  }

  private remove(s: SentPacket): void {
    if (!this.sent.delete(s.pn)) return;
    this.changes++;
    this.bytesInFlight -= s.size;
  }
}
