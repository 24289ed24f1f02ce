// A path's transport: one datagram channel between one of our stations and one of the peer's. The runtime
// sees only this contract; the WebRTC data channel (webrtc-transport.ts) and the in-memory channel below both
// pass one shared contract suite (tests/contract/transport-contract.ts), so what the simulator proves carries over.
import type { StationInfo } from '../../signaling-server/contracts.ts';

export interface TransportEvents {
  /** A setup message (offer, answer, candidate) to carry to the other side, by any means. */
  onSignal(data: Uint8Array): void;
  onOpen(): void;
  onData(data: Uint8Array): void;
  /** Closed locally, by the other side, or failed. Fires once. */
  onClose(reason: string): void;
  /** bufferedAmount fell below the low-water mark after a send found it high. */
  onDrain(): void;
}

export interface PathTransport {
  readonly id: number;
  readonly station: StationInfo;
  readonly initiator: boolean;
  readonly isOpen: boolean;
  /** Feed a setup message from the other side. */
  signal(data: Uint8Array): void;
  /** Sends one datagram (unordered, unreliable). Returns false when the send buffer is above the high-water mark. */
  send(data: Uint8Array): boolean;
  bufferedAmount(): number;
  /** Idempotent. Fires onClose('closed') if it was not closed yet. */
  close(): void;
}

export interface TransportFactory {
  readonly kind: string;
  create(opts: { initiator: boolean; station: StationInfo }, events: TransportEvents): PathTransport;
}

/** Pause sending above this many buffered bytes; resume below the low mark (DESIGN §5: 64 KiB / 16 KiB). */
export const SEND_HIGH_WATER = 64 * 1024;
export const SEND_LOW_WATER = 16 * 1024;

let nextTransportId = 1;
export function newTransportId(): number {
  return nextTransportId++;
}

// ------------------------------------------------------------------ in-memory transport

interface MemEnd {
  t: MemoryTransport;
  events: TransportEvents;
}

/** A medium that connects in-memory transports, with stations that can go down (packets vanish silently). */
export class MemoryMedium implements TransportFactory {
  readonly kind = 'memory';
  readonly ends = new Map<number, MemEnd>();
  readonly down = new Set<string>();
  delayMs = 0;

  create(opts: { initiator: boolean; station: StationInfo }, events: TransportEvents): PathTransport {
    const t = new MemoryTransport(this, opts.initiator, opts.station, events);
    this.ends.set(t.id, { t, events });
    if (opts.initiator) queueMicrotask(() => !t.closedFlag && events.onSignal(encode({ offer: t.id })));
    return t;
  }

  deliver(from: MemoryTransport, data: Uint8Array): void {
    const peer = from.peer;
    if (!peer || this.down.has(from.station.id) || this.down.has(peer.station.id)) return;
    const copy = data.slice();
    setTimeout(() => {
      if (peer.isOpen && !this.down.has(peer.station.id)) this.ends.get(peer.id)?.events.onData(copy);
    }, this.delayMs);
  }
}

class MemoryTransport implements PathTransport {
  readonly id = newTransportId();
  peer: MemoryTransport | null = null;
  isOpen = false;
  closedFlag = false;

  constructor(
    private readonly medium: MemoryMedium,
    readonly initiator: boolean,
    readonly station: StationInfo,
    private readonly events: TransportEvents,
  ) {}

  signal(data: Uint8Array): void {
    if (this.closedFlag) return;
    const msg = decode(data);
    if (!this.initiator && typeof msg.offer === 'number') {
      const other = this.medium.ends.get(msg.offer)?.t;
      if (!other || other.closedFlag) return;
      this.peer = other;
      other.peer = this;
      this.events.onSignal(encode({ answer: this.id }));
      this.open();
    } else if (this.initiator && typeof msg.answer === 'number' && this.peer?.id === msg.answer) {
      this.open();
    }
  }

  private open(): void {
    queueMicrotask(() => {
      if (this.closedFlag || this.isOpen) return;
      this.isOpen = true;
      this.events.onOpen();
    });
  }

  send(data: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.medium.deliver(this, data);
    return true;
  }

  bufferedAmount(): number {
    return 0;
  }

  close(): void {
    this.shut('closed');
    const p = this.peer;
    if (p) setTimeout(() => p.shut('remote closed'), this.medium.delayMs);
  }

  shut(reason: string): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.isOpen = false;
    this.medium.ends.delete(this.id);
    this.events.onClose(reason);
  }
}

const te = new TextEncoder();
const td = new TextDecoder();
function encode(v: unknown): Uint8Array {
  return te.encode(JSON.stringify(v));
}
function decode(b: Uint8Array): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(td.decode(b));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
