// Moving a live node to another tab — net2o's forwarding overlap, as in VM migration. Tab 1 (the old host)
// hands its sessions over through a BroadcastChannel, then only forwards: packets that still reach its
// transports go to tab 2 with the transport's label in the header's path field (the unauthenticated field
// net2o switches rewrite), and tab 2's packets for those transports come back the same way. Tab 2 builds its
// own paths in-band through the forwarded ones and, once they work, closes the forwarded ones; then tab 1 stops.
//
//   tab 2 → hello        tab 1 freezes (sends nothing) and answers with the state
//   tab 1 → state        tab 2 restores the node
//   tab 2 → restored     tab 1 commits: it never sends on its own again
//   tab 1 → commit       tab 2 starts sending (packet numbers continue where tab 1 stopped)
//   both  → pkt          forwarded packets, label in the path field
//   tab 2 → close(label) a forwarded path is no longer needed; tab 1 closes that transport
//   abort / bye          a tab closing or giving up mid-move: before the commit the move is cancelled (tab 1
//                        stays the node); after it, the move is complete and tab 1 just stops forwarding
import type { StationInfo } from '../../signaling-server/contracts.ts';
import { HEADER_PATH_OFFSET } from '../net2o/constants.ts';
import type { SessionId } from '../net2o/events.ts';
import type { NodeSnapshot } from '../net2o/node.ts';
import type { NodeRuntime, RuntimeMoveState } from './node-runtime.ts';
import type { PathTransport } from './transport.ts';

/** If the other tab does not answer within this long, the move is cancelled and tab 1 stays the node. */
export const MOVE_TIMEOUT_MS = 5_000;
/** Forwarded paths get ids above this in the new tab, clear of its own transports' ids. */
const FORWARD_ID_BASE = 1_000_000_000;
/** Marks a forwarding label in the path field: 'n2o' + version. */
const LABEL_MAGIC = [0x6e, 0x32, 0x6f, 0x01];

export type MovePhase = 'idle' | 'waiting' | 'handing-over' | 'forwarding' | 'done' | 'aborted';
export interface MoveProgress {
  phase: MovePhase;
  /** Packets tab 1 forwarded in each direction. */
  forwardedIn: number;
  forwardedOut: number;
  url: string | null;
  detail: string;
}

export interface MovedPath {
  label: number;
  session: SessionId;
  localStation: string;
  remoteStation: string | null;
}

type Msg =
  | { t: 'hello' }
  | { t: 'state'; node: NodeSnapshot; runtime: RuntimeMoveState; paths: MovedPath[]; room: string; secret: Uint8Array; nodeId: string; name: string }
  | { t: 'restored' }
  | { t: 'commit' }
  | { t: 'abort'; reason: string }
  | { t: 'pkt'; data: Uint8Array }
  | { t: 'close'; label: number }
  | { t: 'closed'; label: number }
  | { t: 'bye' };

export function writeLabel(packet: Uint8Array, label: number): Uint8Array {
  const out = packet.slice();
  out.set(LABEL_MAGIC, HEADER_PATH_OFFSET);
  new DataView(out.buffer).setUint32(HEADER_PATH_OFFSET + 4, label, true);
  return out;
}

export function readLabel(packet: Uint8Array): number | null {
  if (packet.length < HEADER_PATH_OFFSET + 8) return null;
  for (let i = 0; i < 4; i++) if (packet[HEADER_PATH_OFFSET + i] !== LABEL_MAGIC[i]) return null;
  return new DataView(packet.buffer, packet.byteOffset).getUint32(HEADER_PATH_OFFSET + 4, true);
}

export function clearLabel(packet: Uint8Array): Uint8Array {
  const out = packet.slice();
  out.fill(0, HEADER_PATH_OFFSET, HEADER_PATH_OFFSET + 16);
  return out;
}

function channelName(moveId: string): string {
  return `net2o-move-${moveId}`;
}

// ------------------------------------------------------------------ tab 1: the old host

export class MoveSource {
  readonly progress: MoveProgress = { phase: 'idle', forwardedIn: 0, forwardedOut: 0, url: null, detail: '' };
  private channel: BroadcastChannel | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly rt: NodeRuntime,
    private readonly identity: { room: string; secret: Uint8Array; nodeId: string; name: string },
    private readonly onChange: () => void,
  ) {}

  /** Opens the hand-over; resolves to the address the new tab should open. */
  start(baseUrl: string, moveId: string): string {
    if (this.progress.phase !== 'idle' && this.progress.phase !== 'aborted') throw new Error(`a move is already ${this.progress.phase}`);
    const url = new URL(baseUrl);
    url.searchParams.set('move', moveId);
    url.hash = '';
    this.channel = new BroadcastChannel(channelName(moveId));
    this.channel.onmessage = (ev: MessageEvent<Msg>) => this.onMessage(ev.data);
    this.set('waiting', 'open the new tab');
    this.progress.url = url.toString();
    addEventListener('pagehide', () => this.onPageHide());
    return this.progress.url;
  }

  private set(phase: MovePhase, detail: string): void {
    this.progress.phase = phase;
    this.progress.detail = detail;
    this.onChange();
  }

  private post(m: Msg): void {
    this.channel?.postMessage(m);
  }

  private onMessage(m: Msg): void {
    switch (m.t) {
      case 'hello': {
        if (this.progress.phase !== 'waiting') return;
        const { node, runtime, paths } = this.rt.freezeForMove();
        this.set('handing-over', `handing ${node.sessions.length} session(s) over`);
        this.post({ t: 'state', node, runtime, paths, ...this.identity });
        this.timer = setTimeout(() => this.abort('the new tab did not answer'), MOVE_TIMEOUT_MS);
        return;
      }
      case 'restored': {
        if (this.progress.phase !== 'handing-over') return;
        if (this.timer) clearTimeout(this.timer);
        this.rt.commitMove((t, d) => {
          this.progress.forwardedIn++;
          this.post({ t: 'pkt', data: writeLabel(d, t.id) });
        });
        this.post({ t: 'commit' });
        this.set('forwarding', 'forwarding to the new tab during the overlap');
        return;
      }
      case 'pkt': {
        if (this.progress.phase !== 'forwarding') return;
        const label = readLabel(m.data);
        const t = label !== null ? this.rt.transportByLabel(label) : undefined;
        if (!t) return;
        this.progress.forwardedOut++;
        t.send(clearLabel(m.data));
        return;
      }
      case 'close': {
        this.rt.transportByLabel(m.label)?.close();
        if (this.rt.openTransportCount() === 0) this.finish();
        return;
      }
      case 'abort':
        if (this.progress.phase === 'handing-over') this.abort(m.reason);
        else if (this.progress.phase === 'forwarding') this.finish(); // the new tab is gone: nothing to forward to
        return;
      case 'bye':
        if (this.progress.phase === 'forwarding') this.finish();
        return;
      default:
        return;
    }
  }

  /** Tells the new tab that one of the forwarded transports closed (the peer went away on it). */
  transportClosed(label: number): void {
    if (this.progress.phase === 'forwarding') {
      this.post({ t: 'closed', label });
      if (this.rt.openTransportCount() === 0) this.finish();
    }
  }

  private abort(reason: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.post({ t: 'abort', reason });
    this.channel?.close();
    this.channel = null;
    this.rt.unfreeze(reason);
    this.set('aborted', reason);
  }

  private finish(): void {
    if (this.progress.phase === 'done') return;
    this.post({ t: 'bye' });
    this.channel?.close();
    this.channel = null;
    this.rt.finishMove();
    this.set('done', `moved; forwarded ${this.progress.forwardedIn} in, ${this.progress.forwardedOut} out`);
  }

  private onPageHide(): void {
    if (this.progress.phase === 'handing-over' || this.progress.phase === 'waiting') this.abort('the old tab closed');
    else if (this.progress.phase === 'forwarding') this.finish(); // the new tab resumes without us if it must
  }
}

// ------------------------------------------------------------------ tab 2: the new host

/** A path of the old tab, as the new tab sees it: sending posts the packet, labelled, to the old tab. */
class ForwardedTransport implements PathTransport {
  readonly initiator = false;
  isOpen = true;
  constructor(
    readonly id: number,
    readonly label: number,
    readonly station: StationInfo,
    private readonly channel: BroadcastChannel,
    private readonly onClosed: () => void,
  ) {}
  signal(): void {}
  send(data: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.channel.postMessage({ t: 'pkt', data: writeLabel(data, this.label) } satisfies Msg);
    return true;
  }
  bufferedAmount(): number {
    return 0;
  }
  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.channel.postMessage({ t: 'close', label: this.label } satisfies Msg);
    this.onClosed();
  }
  /** The old tab reports the transport gone. */
  lost(): void {
    this.isOpen = false;
    this.onClosed();
  }
}

export interface AcceptedMove {
  state: Extract<Msg, { t: 'state' }>;
  /** Builds the runtime (restored), then call `complete(runtime)`. */
  complete(rt: NodeRuntime, stationOf: (attachment: string) => StationInfo | undefined): Promise<void>;
}

/** The new tab: asks the old one for the node; resolves with its state, or rejects after MOVE_TIMEOUT_MS. */
export function acceptMove(moveId: string): Promise<AcceptedMove> {
  const channel = new BroadcastChannel(channelName(moveId));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      channel.close();
      reject(new Error('no tab answered the move (closed, or the link is stale)'));
    }, MOVE_TIMEOUT_MS);
    channel.onmessage = (ev: MessageEvent<Msg>) => {
      const m = ev.data;
      if (m.t === 'abort') {
        clearTimeout(timer);
        channel.close();
        reject(new Error(`the old tab cancelled the move: ${m.reason}`));
      }
      if (m.t !== 'state') return;
      clearTimeout(timer);
      resolve({
        state: m,
        complete: (rt, stationOf) => completeMove(rt, m, channel, stationOf),
      });
    };
    channel.postMessage({ t: 'hello' } satisfies Msg);
  });
}

function completeMove(rt: NodeRuntime, state: Extract<Msg, { t: 'state' }>, channel: BroadcastChannel, stationOf: (a: string) => StationInfo | undefined): Promise<void> {
  const byLabel = new Map<number, ForwardedTransport>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      channel.postMessage({ t: 'abort', reason: 'the new tab gave up waiting' } satisfies Msg);
      reject(new Error('the old tab did not commit the move'));
    }, MOVE_TIMEOUT_MS);
    channel.onmessage = (ev: MessageEvent<Msg>) => {
      const m = ev.data;
      switch (m.t) {
        case 'commit': {
          clearTimeout(timer);
          // Only now may this tab send: the old one has stopped for good.
          for (const p of state.paths) {
            const station = stationOf(p.localStation);
            if (!station) continue;
            const t = new ForwardedTransport(FORWARD_ID_BASE + p.label, p.label, station, channel, () => rt.forwardedClosed(t));
            byLabel.set(p.label, t);
            rt.addForwarded(t, p.session, p.localStation, p.remoteStation);
          }
          rt.resumeStream(state.runtime.streamRate);
          void rt.connectAfterMove();
          resolve();
          return;
        }
        case 'pkt': {
          const label = readLabel(m.data);
          const t = label !== null ? byLabel.get(label) : undefined;
          if (t) rt.forwardedIn(t, clearLabel(m.data));
          return;
        }
        case 'closed':
          byLabel.get(m.label)?.lost();
          return;
        case 'bye':
          for (const t of byLabel.values()) t.lost();
          channel.close();
          return;
        case 'abort':
          clearTimeout(timer);
          reject(new Error(`the old tab cancelled the move: ${m.reason}`));
          return;
        default:
          return;
      }
    };
    addEventListener('pagehide', () => channel.postMessage({ t: 'abort', reason: 'the new tab closed' } satisfies Msg));
    channel.postMessage({ t: 'restored' } satisfies Msg);
  });
}
