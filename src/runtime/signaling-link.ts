// The node's connection to the signaling server: used to introduce a node once, and to relay a session's
// path setup when no path is left (recovery). Hops never use it. Reconnects with backoff only while a session
// needs it, and paces relayed packets below the server's rate limit.
import { SignalingClient, type WebSocketConstructorLike } from '../../signaling-server/client.ts';
import type { PeerInfo } from '../../signaling-server/protocol.ts';

export type SignalingState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Reconnect backoff, when recovery needs the server. */
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;
/** Below the signaling server's limit (50/s, burst 100), whatever the number of sessions relaying. */
const RELAY_RATE_PER_SEC = 40;
const RELAY_BURST = 40;

export interface SignalingLinkOptions {
  url: string;
  WebSocket?: WebSocketConstructorLike;
  room: string;
  nodeId: string;
  name: string;
  onIntro(from: string, data: unknown): void;
  onResume(from: string, data: unknown): void;
  /** Something changed (state, peers): the runtime re-runs its driver step. */
  onChange(): void;
  note(text: string): void;
}

export class SignalingLink {
  state: SignalingState = 'connecting';
  private client: SignalingClient | null = null;
  private reconnecting = false;
  private delay = RECONNECT_MIN_MS;
  private bucket = { tokens: RELAY_BURST, at: 0 };
  private closed = false;

  constructor(private readonly o: SignalingLinkOptions) {}

  /** Connects and joins the room; resolves to the nodes already there. */
  async connect(): Promise<PeerInfo[]> {
    const sig = new SignalingClient(this.o.url, this.o.WebSocket ? { WebSocket: this.o.WebSocket } : {});
    this.client = sig;
    this.state = 'connecting';
    sig.onSignal((m) => (m.kind === 'resume' ? this.o.onResume(m.from, m.data) : this.o.onIntro(m.from, m.data)));
    sig.onPeerJoined((p) => this.o.note(`${p.name || p.node} joined the room`));
    sig.onClose(() => {
      if (this.client !== sig) return;
      if (this.state !== 'closed') this.state = 'disconnected';
      this.o.note('signaling server connection closed; open sessions and hops do not need it');
      this.o.onChange();
    });
    try {
      const { peers } = await sig.join(this.o.room, this.o.nodeId, this.o.name);
      this.state = 'connected';
      this.delay = RECONNECT_MIN_MS;
      this.o.note(`joined room ${this.o.room} (${peers.length} other node${peers.length === 1 ? '' : 's'})`);
      this.o.onChange();
      return peers;
    } catch (e) {
      if (this.client === sig) this.state = 'disconnected';
      void sig.close();
      throw e;
    }
  }

  /** Connects, retrying a few times (a moved node: the old tab's connection may linger a moment). */
  async connectWithRetries(attempts: number): Promise<void> {
    for (let i = 0; i < attempts && !this.closed; i++) {
      try {
        await this.connect();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200 * (i + 1)));
      }
    }
  }

  /** Called after every driver step: while recovery needs the server and it is not reachable, retry with backoff. */
  ensure(needed: boolean): void {
    if (!needed || this.closed || this.reconnecting || this.state === 'connected' || this.state === 'connecting') return;
    this.reconnecting = true;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
    this.o.note(`no path left to a peer: reaching the signaling server to resume (in ${delay} ms)`);
    setTimeout(() => {
      if (this.closed) return;
      this.connect().then(
        () => {
          this.reconnecting = false;
        },
        (e: unknown) => {
          this.reconnecting = false;
          this.o.note(`signaling server unreachable (${(e as Error).message}); will retry`);
          this.o.onChange();
        },
      );
    }, delay);
  }

  /** Sends one introduction message (first path setup) to a node in the room. */
  intro(to: string, data: unknown): void {
    try {
      this.client?.signal(to, data);
    } catch {
      // Not connected: the introduction fails and the user can retry by reloading.
    }
  }

  /** Relays one encrypted packet; false if it could not go now (the core resends it). */
  relay(to: string, packet: string, now: number): boolean {
    if (this.state !== 'connected' || !this.takeToken(now)) return false;
    try {
      this.client?.resume(to, packet);
      return true;
    } catch {
      return false; // closing, or reconnecting
    }
  }

  private takeToken(now: number): boolean {
    const b = this.bucket;
    b.tokens = Math.min(RELAY_BURST, b.tokens + ((now - b.at) * RELAY_RATE_PER_SEC) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** The user (or a move) disconnects: hops and open sessions do not need the server. */
  disconnect(): void {
    this.state = 'closed';
    void this.client?.close();
    this.o.onChange();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.state = 'closed';
    await this.client?.close();
  }
}
