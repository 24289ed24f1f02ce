// A path over one WebRTC data channel (simple-peer): relay-only, through one station as the only ICE server,
// unordered and without retransmissions — the session layer above does reliability and ordering.
import SimplePeer from 'simple-peer';
import type { StationInfo } from '../../signaling-server/contracts.ts';
import { newTransportId, SEND_HIGH_WATER, SEND_LOW_WATER, type PathTransport, type TransportEvents, type TransportFactory } from './transport.ts';

/** How often a blocked sender checks whether the channel drained (simple-peer keeps onbufferedamountlow). */
const DRAIN_POLL_MS = 5;

export interface WebRtcOptions {
  /** An RTCPeerConnection implementation for Node (@roamhq/wrtc); browsers use their own. */
  wrtc?: unknown;
}

export class WebRtcFactory implements TransportFactory {
  readonly kind = 'webrtc';
  constructor(private readonly opts: WebRtcOptions = {}) {}

  create(opts: { initiator: boolean; station: StationInfo }, events: TransportEvents): PathTransport {
    return new WebRtcTransport(opts.initiator, opts.station, events, this.opts);
  }
}

const te = new TextEncoder();
const td = new TextDecoder();

class WebRtcTransport implements PathTransport {
  readonly id = newTransportId();
  private readonly peer: SimplePeer.Instance;
  private closed = false;
  private drainTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly initiator: boolean,
    readonly station: StationInfo,
    private readonly events: TransportEvents,
    opts: WebRtcOptions,
  ) {
    this.peer = new SimplePeer({
      initiator,
      trickle: true,
      config: { iceServers: [station.iceServer], iceTransportPolicy: 'relay' },
      channelConfig: { ordered: false, maxRetransmits: 0 },
      ...(opts.wrtc ? { wrtc: opts.wrtc as SimplePeer.Options['wrtc'] } : {}),
    });
    this.peer.on('signal', (s: unknown) => {
      if (!this.closed) events.onSignal(te.encode(JSON.stringify(s)));
    });
    this.peer.on('connect', () => {
      if (!this.closed) events.onOpen();
    });
    this.peer.on('data', (d: Uint8Array) => {
      if (!this.closed) events.onData(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    });
    this.peer.on('close', () => this.shut('closed by peer'));
    this.peer.on('error', (e: Error & { code?: string }) => this.shut(e.code ?? e.message));
  }

  get isOpen(): boolean {
    return !this.closed && this.peer.connected;
  }

  signal(data: Uint8Array): void {
    if (this.closed) return;
    let s: unknown;
    try {
      s = JSON.parse(td.decode(data));
    } catch {
      return; // a peer's malformed setup message: ignore it, the setup times out
    }
    try {
      this.peer.signal(s as SimplePeer.SignalData);
    } catch (e) {
      this.shut(`bad signal: ${(e as Error).message}`);
    }
  }

  send(data: Uint8Array): boolean {
    if (!this.isOpen) return false;
    try {
      this.peer.send(data);
    } catch (e) {
      this.shut(`send failed: ${(e as Error).message}`);
      return false;
    }
    if (this.bufferedAmount() <= SEND_HIGH_WATER) return true;
    this.watchDrain();
    return false;
  }

  bufferedAmount(): number {
    return this.peer.bufferSize;
  }

  private watchDrain(): void {
    if (this.drainTimer) return;
    this.drainTimer = setInterval(() => {
      if (this.closed || this.bufferedAmount() <= SEND_LOW_WATER) {
        clearInterval(this.drainTimer!);
        this.drainTimer = null;
        if (!this.closed) this.events.onDrain();
      }
    }, DRAIN_POLL_MS);
  }

  close(): void {
    this.shut('closed');
  }

  private shut(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = null;
    this.peer.removeAllListeners('signal');
    this.peer.removeAllListeners('data');
    // simple-peer 9.11.1 leaves its 5 s ICE-complete timer running after destroy(): clear it, so a closed
    // path holds nothing alive.
    clearTimeout((this.peer as unknown as { _iceCompleteTimer?: ReturnType<typeof setTimeout> })._iceCompleteTimer);
    this.peer.destroy();
    this.events.onClose(reason);
  }
}
