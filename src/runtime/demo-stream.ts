// The application messages of the demo, on the session's reliable stream: numbered stream ticks (to prove
// nothing is lost, duplicated or reordered across hops) and chat lines. Pure encode/decode and bookkeeping.
import type { StreamStats } from './api.ts';

const TICK = 1;
const CHAT = 2;

export type AppMessage = { type: 'tick'; seq: number; sentAt: number; intervalMs: number } | { type: 'chat'; text: string };

export function encodeTick(seq: number, sentAt: number, intervalMs: number): Uint8Array {
  const b = new Uint8Array(1 + 4 + 8 + 4);
  const dv = new DataView(b.buffer);
  b[0] = TICK;
  dv.setUint32(1, seq);
  dv.setFloat64(5, sentAt);
  dv.setUint32(13, Math.round(intervalMs));
  return b;
}

export function encodeChat(text: string): Uint8Array {
  const t = new TextEncoder().encode(text.slice(0, 500));
  const b = new Uint8Array(1 + t.length);
  b[0] = CHAT;
  b.set(t, 1);
  return b;
}

export function decodeApp(b: Uint8Array): AppMessage | null {
  if (b.length === 0) return null;
  if (b[0] === TICK && b.length === 17) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { type: 'tick', seq: dv.getUint32(1), sentAt: dv.getFloat64(5), intervalMs: dv.getUint32(13) };
  }
  if (b[0] === CHAT) {
    try {
      return { type: 'chat', text: new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(1)) };
    } catch {
      return null;
    }
  }
  return null;
}

/** Receiver-side accounting of one peer's ticks. */
export class TickStats {
  readonly s: StreamStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, maxGapMs: 0, lastLatencyMs: null };
  private expect = 0;
  private lastArrival = -1;
  private lastSentAt = -1;
  private started = false;

  exportState(): { expect: number; lastArrival: number; lastSentAt: number; started: boolean } {
    return { expect: this.expect, lastArrival: this.lastArrival, lastSentAt: this.lastSentAt, started: this.started };
  }

  importState(st: ReturnType<TickStats['exportState']>): void {
    this.expect = st.expect;
    this.lastArrival = st.lastArrival;
    this.lastSentAt = st.lastSentAt;
    this.started = st.started;
  }

  /** `now` and `sentAt` on a wall clock shared by the tabs (performance.timeOrigin + performance.now()). */
  onTick(seq: number, sentAt: number, intervalMs: number, now: number): void {
    if (!this.started) {
      // A peer that started streaming before we joined: count from its first tick we see.
      this.started = true;
      this.expect = seq;
    }
    if (seq < this.expect) {
      this.s.duplicated++;
      return;
    }
    if (seq > this.expect) {
      this.s.reordered++;
      this.s.lost += seq - this.expect; // gaps are never refilled: the stream is ordered
    }
    this.s.delivered++;
    // The delivery gap counts only between ticks sent back to back at the stream's rate.
    if (this.lastArrival >= 0 && seq === this.expect && sentAt - this.lastSentAt <= 2 * intervalMs + 5) {
      this.s.maxGapMs = Math.max(this.s.maxGapMs, now - this.lastArrival);
    }
    this.expect = seq + 1;
    this.lastArrival = now;
    this.lastSentAt = sentAt;
    this.s.lastLatencyMs = Math.max(0, now - sentAt);
  }
}
