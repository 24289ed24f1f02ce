// An ordered, reliable message stream over lossy packets. Messages are cut into chunks (seq, offset, fin);
// a lost chunk is queued again, unchanged, and goes out in a *new* packet; the receiver reassembles and delivers in order.
import { MAX_BODY_SIZE, MAX_MESSAGE_SIZE, MAX_RECEIVE_AHEAD } from './constants.ts';

/** Chunks leave room for the other frames of a packet (ack, ping, challenge), so a lost chunk always fits
 * into a fresh packet unchanged. */
export const MAX_CHUNK = MAX_BODY_SIZE - 512;
import { WireError } from './errors.ts';

export interface Chunk {
  stream: number;
  seq: number;
  offset: number;
  fin: boolean;
  data: Uint8Array;
}

/** Plain data (structured-clone friendly): what moves to another tab with the session. */
export interface SendStreamState {
  nextSeq: number;
  nextToSend: number;
  buffered: number;
  messages: Array<{ seq: number; data: Uint8Array; sentUpTo: number; acked: number[]; ackedBytes: number }>;
  lost: Chunk[];
}

export interface ReceiveStreamState {
  nextSeq: number;
  partial: Array<{ seq: number; chunks: Array<[number, Uint8Array]>; received: number; length: number }>;
}

interface OutMessage {
  data: Uint8Array;
  sentUpTo: number; // bytes handed to packets at least once
  acked: Set<number>; // offsets of acknowledged chunks
  ackedBytes: number;
}

export class SendStream {
  private readonly messages = new Map<number, OutMessage>();
  private nextSeq = 0;
  private nextToSend = 0; // lowest seq with unsent bytes
  private readonly lost: Chunk[] = [];
  /** Bytes the application queued that are not yet acknowledged. */
  buffered = 0;

  constructor(readonly stream: number) {}

  push(data: Uint8Array): number {
    const seq = this.nextSeq++;
    this.messages.set(seq, { data, sentUpTo: 0, acked: new Set(), ackedBytes: 0 });
    this.buffered += data.length;
    return seq;
  }

  /** Anything to send (new bytes or a retransmission)? */
  get hasPending(): boolean {
    return this.lost.length > 0 || this.nextToSend < this.nextSeq;
  }

  get unackedMessages(): number {
    return this.messages.size;
  }

  /** The next chunk of at most `max` data bytes: retransmissions first. */
  nextChunk(max: number): Chunk | null {
    while (this.lost.length > 0) {
      const c = this.lost[0]!;
      const m = this.messages.get(c.seq);
      if (!m || m.acked.has(c.offset)) {
        this.lost.shift(); // acknowledged meanwhile (the "lost" copy arrived after all)
        continue;
      }
      // A retransmission is the same chunk again (never re-split), so chunks never overlap at the receiver.
      return c.data.length <= max ? this.lost.shift()! : null;
    }
    while (this.nextToSend < this.nextSeq) {
      const seq = this.nextToSend;
      const m = this.messages.get(seq);
      if (!m) {
        this.nextToSend++;
        continue;
      }
      const left = m.data.length - m.sentUpTo;
      if (left > 0 && max <= 0) return null;
      const n = Math.min(left, max, MAX_CHUNK);
      const chunk: Chunk = {
        stream: this.stream,
        seq,
        offset: m.sentUpTo,
        fin: m.sentUpTo + n === m.data.length,
        data: m.data.subarray(m.sentUpTo, m.sentUpTo + n),
      };
      m.sentUpTo += n;
      if (chunk.fin) this.nextToSend++;
      return chunk;
    }
    return null;
  }

  exportState(): SendStreamState {
    return {
      nextSeq: this.nextSeq,
      nextToSend: this.nextToSend,
      buffered: this.buffered,
      messages: [...this.messages].map(([seq, m]) => ({ seq, data: m.data, sentUpTo: m.sentUpTo, acked: [...m.acked], ackedBytes: m.ackedBytes })),
      lost: this.lost.map((c) => ({ ...c })),
    };
  }

  importState(st: SendStreamState): void {
    this.nextSeq = st.nextSeq;
    this.nextToSend = st.nextToSend;
    this.buffered = st.buffered;
    this.messages.clear();
    for (const m of st.messages) this.messages.set(m.seq, { data: m.data, sentUpTo: m.sentUpTo, acked: new Set(m.acked), ackedBytes: m.ackedBytes });
    this.lost.length = 0;
    this.lost.push(...st.lost.map((c) => ({ ...c })));
  }

  onAcked(c: Chunk): void {
    const m = this.messages.get(c.seq);
    if (!m || m.acked.has(c.offset)) return;
    m.acked.add(c.offset);
    m.ackedBytes += c.data.length;
    if (m.ackedBytes >= m.data.length) {
      this.messages.delete(c.seq);
      this.buffered -= m.data.length;
    }
  }

  onLost(c: Chunk): void {
    const m = this.messages.get(c.seq);
    if (!m || m.acked.has(c.offset)) return;
    this.lost.push(c);
  }
}

interface InMessage {
  chunks: Map<number, Uint8Array>;
  received: number;
  length: number; // -1 until the fin chunk arrived
}

export class ReceiveStream {
  private nextSeq = 0;
  private readonly partial = new Map<number, InMessage>();
  duplicates = 0;

  exportState(): ReceiveStreamState {
    return {
      nextSeq: this.nextSeq,
      partial: [...this.partial].map(([seq, m]) => ({ seq, chunks: [...m.chunks], received: m.received, length: m.length })),
    };
  }

  importState(st: ReceiveStreamState): void {
    this.nextSeq = st.nextSeq;
    this.partial.clear();
    for (const m of st.partial) this.partial.set(m.seq, { chunks: new Map(m.chunks), received: m.received, length: m.length });
  }

  /** Accepts a chunk; returns the messages that became deliverable, in order. */
  onChunk(c: Chunk): Uint8Array[] {
    if (c.seq < this.nextSeq) {
      this.duplicates++;
      return [];
    }
    if (c.seq >= this.nextSeq + MAX_RECEIVE_AHEAD) throw new WireError('range', `message ${c.seq} too far ahead`);
    let m = this.partial.get(c.seq);
    if (!m) {
      m = { chunks: new Map(), received: 0, length: -1 };
      this.partial.set(c.seq, m);
    }
    if (c.fin) {
      const len = c.offset + c.data.length;
      if (m.length >= 0 && m.length !== len) throw new WireError('frame', `message ${c.seq} changed length`);
      if (len > MAX_MESSAGE_SIZE) throw new WireError('range', 'message too large');
      m.length = len;
    }
    if (m.chunks.has(c.offset)) {
      this.duplicates++;
    } else {
      m.chunks.set(c.offset, c.data.slice());
      m.received += c.data.length;
    }
    const out: Uint8Array[] = [];
    for (;;) {
      const head = this.partial.get(this.nextSeq);
      if (!head || head.length < 0 || head.received < head.length) break;
      out.push(assemble(head));
      this.partial.delete(this.nextSeq);
      this.nextSeq++;
    }
    return out;
  }
}

function assemble(m: InMessage): Uint8Array {
  const out = new Uint8Array(m.length);
  let at = 0;
  // Our sender never re-splits a chunk, so the chunks tile the message exactly; anything else is a peer's bug.
  for (const o of [...m.chunks.keys()].sort((x, y) => x - y)) {
    const d = m.chunks.get(o)!;
    if (o !== at || o + d.length > m.length) throw new WireError('frame', 'message chunks overlap or leave a gap');
    out.set(d, o);
    at = o + d.length;
  }
  if (at !== m.length) throw new WireError('frame', 'message chunks leave a gap');
  return out;
}
