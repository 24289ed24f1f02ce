// The runtime: the only impure layer. It drives the sans-IO core (after every input: deliver events, flush
// transmits, re-arm one timer), owns one transport per path, introduces nodes through the signaling server
// once, and carries every later path setup in-band as session commands.
import type { StationInfo } from '../../signaling-server/contracts.ts';
import type { WebSocketConstructorLike } from '../../signaling-server/client.ts';
import type { Crypto } from '../net2o/crypto.ts';
import type { Net2oEvent, PathId, SessionId } from '../net2o/events.ts';
import { identityFingerprint, Node, type NodeSnapshot } from '../net2o/node.ts';
import { decodePacket } from '../net2o/wire.ts';
import type {
  AttackKind,
  AttackResult,
  LogEntry,
  PeerView,
  RuntimeApi,
  RuntimeSnapshot,
  StationView,
  WireSighting,
} from './api.ts';
import { base64url, fromBase64url } from './base64.ts';
import { decodeApp, encodeChat, encodeTick, TickStats } from './demo-stream.ts';
import { craftAttack, Eavesdropper } from './eavesdropper.ts';
import { SignalingLink } from './signaling-link.ts';
import { MAX_CONNECTION_TAG } from '../net2o/constants.ts';
import { describeEvent } from './describe.ts';
import { MoveSource, type MoveProgress } from './move.ts';
import type { PathTransport, TransportFactory } from './transport.ts';

const LOG_LIMIT = 500;
/** The demo stream's timer period, and the most ticks it sends at once to catch up after a stall. */
const STREAM_TIMER_MS = 5;
const STREAM_BURST_MAX = 50;
const CHAT_LIMIT = 200;
/** The largest delay setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RuntimeOptions {
  crypto: Crypto;
  transports: TransportFactory;
  signalingUrl: string;
  WebSocket?: WebSocketConstructorLike;
  stations: () => Promise<StationInfo[]>;
  room: string;
  secret: Uint8Array;
  nodeId: string;
  name: string;
  /** The station to attach first (default: the first one that is up). */
  station?: string;
  /** Base for the invite link: origin + path of the page. */
  inviteBase?: string;
  stationAdmin?: (id: string, action: 'down' | 'up') => Promise<void>;
  /** Wall clock shared by tabs on one machine, for latency. */
  wallClock?: () => number;
  overlapMs?: number;
  /** How long a session without any path waits for one before it closes (default: the core's 30 s). */
  idleTimeoutMs?: number;
  /** A node that moved here from another tab: restore it instead of starting fresh (see move.ts). */
  restore?: { node: NodeSnapshot; runtime: RuntimeMoveState };
}

/** The runtime's own part of a move: who the peers are and the demo stream's counters. */
export interface RuntimeMoveState {
  incarnation: number;
  peers: Array<{ peerId: string; name: string; session: SessionId | null; ticks: TickStats['s']; tickState: ReturnType<TickStats['exportState']>; hops: number; failovers: number; moves: number; rejected: number }>;
  tickSeq: number;
  streamRate: number;
  chat: Array<{ at: number; from: string; text: string; mine: boolean }>;
}

/** Attachments of a moved node carry its incarnation (`cell-a~1`): a different address on the same station. */
export function baseStation(attachment: string): string {
  const i = attachment.indexOf('~');
  return i < 0 ? attachment : attachment.slice(0, i);
}

interface PeerRecord {
  peerId: string;
  name: string;
  session: SessionId | null;
  ticks: TickStats;
  hops: number;
  failovers: number;
  moves: number;
  rejected: number;
}

interface SetupRecord {
  session: SessionId;
  key: string;
  localStation: string;
  remoteStation: string;
  transport: PathTransport;
}

export class NodeRuntime implements RuntimeApi {
  readonly node: Node;
  private readonly t0: number;
  private readonly wall: () => number;
  private readonly transports = new Map<PathId, PathTransport>();
  private readonly setups = new Map<string, SetupRecord>(); // `${session}|${key}`
  private readonly intro = new Map<string, { transport: PathTransport; remoteStation: string; initiator: boolean }>();
  private readonly peers = new Map<string, PeerRecord>();
  private readonly peerOfSession = new Map<SessionId, string>();
  private readonly introOfTransport = new Map<PathId, string>();
  private readonly stationList: StationInfo[] = [];
  private readonly logEntries: LogEntry[] = [];
  private readonly chatLog: Array<{ at: number; from: string; text: string; mine: boolean }> = [];
  private readonly listeners = new Set<() => void>();
  private readonly link: SignalingLink;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  /** The transport whose send buffer is full: sending pauses until it drains or closes. */
  private blockedOn: PathId | null = null;
  private streamTimer: ReturnType<typeof setInterval> | null = null;
  private streamRate = 0;
  private tickSeq = 0;
  private stopped = false;
  private lastRejection: { reason: string; at: number } | null = null;

  constructor(private readonly opts: RuntimeOptions) {
    this.t0 = performance.now();
    this.wall = opts.wallClock ?? (() => performance.timeOrigin + performance.now());
    this.link = new SignalingLink({
      url: opts.signalingUrl,
      ...(opts.WebSocket ? { WebSocket: opts.WebSocket } : {}),
      room: opts.room,
      nodeId: opts.nodeId,
      name: opts.name,
      onIntro: (from, data) => this.onIntroSignal(from, data),
      onResume: (from, data) => this.onRelayed(from, data),
      onChange: () => this.input(() => {}),
      note: (text) => this.note('signaling', text),
    });
    this.incarnation = opts.restore?.runtime.incarnation ?? 0;
    this.node = new Node({
      crypto: opts.crypto,
      inviteSecret: opts.secret,
      name: opts.name,
      ...(opts.restore ? { snapshot: opts.restore.node } : {}),
      ...(opts.overlapMs !== undefined ? { overlapMs: opts.overlapMs } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    });
  }

  now(): number {
    return performance.now() - this.t0;
  }

  // ------------------------------------------------------------------ start and stop

  /** 0 for a node started here; n for a node that moved tabs n times (its attachments get `~n`). */
  readonly incarnation: number;
  /** 'node' drives the core; 'frozen' while handing over to another tab; 'forwarding' after; 'moved' when done. */
  mode: 'node' | 'frozen' | 'forwarding' | 'moved' = 'node';
  private frozenIn: Array<[PathTransport, Uint8Array]> = [];
  /** Set by a move: where packets arriving on our transports go once we only forward. */
  forwarder: ((t: PathTransport, d: Uint8Array) => void) | null = null;

  private attachId(station: string): string {
    return this.incarnation ? `${station}~${this.incarnation}` : station;
  }

  async start(): Promise<void> {
    this.stationList.push(...(await this.opts.stations()));
    if (this.opts.restore) return this.startRestored(this.opts.restore);
    const first = this.opts.station ?? this.stationList.find((s) => s.up)?.id ?? this.stationList[0]?.id;
    if (!first) throw new Error('no stations to attach to');
    if (!this.stationList.some((s) => s.id === first)) throw new Error(`unknown station ${first}`);
    this.node.attach(first, this.now());
    this.note('runtime', `attached to ${this.label(first)}`);
    const peers = await this.link.connect();
    // The newcomer introduces itself to everyone already there; they answer.
    for (const p of peers) this.introduce(p.node, p.name);
    this.changed();
  }

  // ------------------------------------------------------------------ relay (recovery through the signaling server)

  /** The relay path of a session: a pseudo-transport id no real transport uses. */
  private relayPathId(session: SessionId): PathId {
    return -session;
  }

  private onRelayed(from: string, data: unknown): void {
    const p = this.peers.get(from);
    if (!p || p.session === null || typeof data !== 'string' || data.length > 64 * 1024) {
      this.note('signaling', `ignored a relayed packet from ${from}`);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = fromBase64url(data);
    } catch {
      this.note('signaling', `ignored a malformed relayed packet from ${from}`);
      return;
    }
    const id = this.relayPathId(p.session);
    this.eavesdropper.recordRelayed(from, bytes);
    this.input(() => {
      this.sighting('in', id, bytes);
      this.node.handleDatagram(id, bytes, this.now());
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopStream();
    for (const s of [...this.node.sessions.keys()]) this.node.close(s, 'node stopped', this.now());
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.transports.values()) t.close();
    for (const s of this.setups.values()) s.transport.close();
    for (const i of this.intro.values()) i.transport.close();
    await this.link.close();
  }

  // ------------------------------------------------------------------ moving tabs (the protocol is in move.ts)

  /** The new tab: the node and its sessions were restored from the snapshot; paths come from `addForwarded`. */
  private async startRestored(r: { node: NodeSnapshot; runtime: RuntimeMoveState }): Promise<void> {
    const now = this.now();
    this.node.adopt(r.node, now);
    for (const p of r.runtime.peers) {
      const rec = this.peer(p.peerId, p.name);
      rec.session = p.session;
      rec.ticks.importState(p.tickState);
      Object.assign(rec.ticks.s, p.ticks);
      Object.assign(rec, { hops: p.hops, failovers: p.failovers, moves: p.moves, rejected: p.rejected });
      if (p.session !== null) {
        this.peerOfSession.set(p.session, p.peerId);
        this.node.addPath(this.relayPathId(p.session), { localStation: 'signaling', session: p.session, relay: true }, now);
      }
    }
    this.tickSeq = r.runtime.tickSeq;
    this.chatLog.push(...r.runtime.chat);
    this.note('runtime', `moved here from another tab with ${r.node.sessions.length} session(s)`);
  }

  /** The new tab: a path of the old tab, reached through its forwarding. */
  addForwarded(t: PathTransport, session: SessionId, localStation: string, remoteStation: string | null): void {
    this.transports.set(t.id, t);
    this.input(() => this.node.addPath(t.id, { localStation, remoteStation, session }, this.now()));
  }

  /** The old tab closed a forwarded transport (or stopped): the core loses that path. */
  forwardedClosed(t: PathTransport): void {
    if (this.transports.delete(t.id)) this.input(() => this.node.removePath(t.id, this.now()));
  }

  /** Feeds a packet that arrived through the old tab's forwarding. */
  forwardedIn(t: PathTransport, d: Uint8Array): void {
    this.onData(t, d);
  }

  /** The old tab, at the start of a hand-over: stop sending, keep what arrives, and describe what moves. */
  freezeForMove(): { node: NodeSnapshot; runtime: RuntimeMoveState; paths: Array<{ label: number; session: SessionId; localStation: string; remoteStation: string | null }> } {
    const paths: Array<{ label: number; session: SessionId; localStation: string; remoteStation: string | null }> = [];
    for (const s of this.node.sessions.values()) {
      for (const p of s.pathStates()) {
        if (!p.relay && this.transports.has(p.id) && p.localStation) paths.push({ label: p.id, session: s.id, localStation: p.localStation, remoteStation: p.remoteStation });
      }
    }
    const node = this.node.exportForMove({ retire: false });
    this.mode = 'frozen';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    const runtime: RuntimeMoveState = {
      incarnation: this.incarnation + 1,
      peers: [...this.peers.values()].map((p) => ({
        peerId: p.peerId,
        name: p.name,
        session: p.session,
        ticks: { ...p.ticks.s },
        tickState: p.ticks.exportState(),
        hops: p.hops,
        failovers: p.failovers,
        moves: p.moves,
        rejected: p.rejected,
      })),
      tickSeq: this.tickSeq,
      streamRate: this.streamRate,
      chat: [...this.chatLog],
    };
    this.note('runtime', 'handing the node over to another tab');
    return { node, runtime, paths };
  }

  /** The hand-over failed: carry on as the node, with everything that arrived meanwhile. */
  unfreeze(reason: string): void {
    if (this.mode !== 'frozen') return;
    this.mode = 'node';
    this.note('runtime', `move aborted (${reason}); this tab is still the node`);
    const held = this.frozenIn;
    this.frozenIn = [];
    for (const [t, d] of held) this.onData(t, d);
    this.afterInput();
  }

  /** The hand-over committed: never send again; forward what arrives (held packets first). */
  commitMove(forward: (t: PathTransport, d: Uint8Array) => void): void {
    this.node.retire();
    this.stopStream();
    this.forwarder = forward;
    this.mode = 'forwarding';
    const held = this.frozenIn;
    this.frozenIn = [];
    for (const [t, d] of held) forward(t, d);
    this.note('runtime', 'the node now lives in the other tab; this tab forwards during the overlap');
    this.link.disconnect();
  }

  private move: MoveSource | null = null;

  /** Starts moving this node to another tab; resolves to the address that tab should open. */
  async startMove(): Promise<string> {
    if (this.mode !== 'node') throw new Error(`this tab is ${this.mode}`);
    this.move = new MoveSource(this, { room: this.opts.room, secret: this.opts.secret, nodeId: this.opts.nodeId, name: this.opts.name }, () => this.changed());
    const id = base64url(this.opts.crypto.randomBytes(9));
    return this.move.start(this.opts.inviteBase ?? 'http://localhost/', id);
  }

  moveProgress(): MoveProgress {
    return this.move ? { ...this.move.progress } : { phase: 'idle', forwardedIn: 0, forwardedOut: 0, url: null, detail: '' };
  }

  /** The old tab's transport by label, to send what the new tab hands us. */
  transportByLabel(label: number): PathTransport | undefined {
    return this.transports.get(label);
  }

  openTransportCount(): number {
    return this.transports.size;
  }

  finishMove(): void {
    this.mode = 'moved';
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
    this.note('runtime', 'move finished: this tab is no longer part of the session');
    this.changed();
  }

  /** The new tab: after the commit, reach the signaling server under the node's id (for recovery only). */
  async connectAfterMove(): Promise<void> {
    await this.link.connectWithRetries(10);
  }

  resumeStream(rate: number): void {
    if (rate > 0) this.startStream(rate);
  }

  // ------------------------------------------------------------------ introduction (signaling, first path only)

  private peer(peerId: string, name = ''): PeerRecord {
    let p = this.peers.get(peerId);
    if (!p) {
      p = { peerId, name, session: null, ticks: new TickStats(), hops: 0, failovers: 0, moves: 0, rejected: 0 };
      this.peers.set(peerId, p);
    }
    if (name) p.name = name;
    return p;
  }

  private activeStation(): StationInfo {
    const id = this.node.stationList().find((s) => s.state === 'active')?.id;
    const st = id !== undefined ? this.stationInfo(id) : undefined;
    if (!st) throw new Error('not attached to any station');
    return st;
  }

  private introduce(peerId: string, name: string): void {
    this.peer(peerId, name);
    const station = this.activeStation();
    const t: PathTransport = this.opts.transports.create(
      { initiator: true, station },
      {
        onSignal: (d) => this.link.intro(peerId, { station: station.id, data: new TextDecoder().decode(d) }),
        onOpen: () => this.input(() => this.onIntroOpen(peerId, t)),
        onData: (d) => {
          this.input(() => this.onIntroOpen(peerId, t));
          this.onData(t, d);
        },
        onClose: (r) => this.transportClosed(t, r),
        onDrain: () => this.input(() => this.drained(t)),
      },
    );
    this.intro.set(peerId, { transport: t, remoteStation: '', initiator: true });
    this.introOfTransport.set(t.id, peerId);
    this.note('signaling', `introducing ourselves to ${name || peerId} from ${station.label}`);
  }

  private onIntroSignal(from: string, data: unknown): void {
    const d = data as { station?: unknown; data?: unknown } | null;
    if (!d || typeof d.station !== 'string' || typeof d.data !== 'string') return this.note('signaling', `ignored a malformed introduction from ${from}`);
    let rec = this.intro.get(from);
    if (!rec) {
      if (this.peers.get(from)?.session != null) return; // already connected: a stale introduction
      const station = this.activeStation();
      const t: PathTransport = this.opts.transports.create(
        { initiator: false, station },
        {
          onSignal: (x) => this.link.intro(from, { station: station.id, data: new TextDecoder().decode(x) }),
          onOpen: () => this.input(() => this.onIntroOpen(from, t)),
          onData: (x) => {
            this.input(() => this.onIntroOpen(from, t));
            this.onData(t, x);
          },
          onClose: (r) => this.transportClosed(t, r),
          onDrain: () => this.input(() => this.drained(t)),
        },
      );
      rec = { transport: t, remoteStation: d.station, initiator: false };
      this.intro.set(from, rec);
      this.introOfTransport.set(t.id, from);
      this.peer(from);
    }
    rec.remoteStation = d.station;
    rec.transport.signal(new TextEncoder().encode(d.data));
  }

  private onIntroOpen(peerId: string, t: PathTransport): void {
    const rec = this.intro.get(peerId);
    if (!rec || rec.transport !== t) return;
    this.intro.delete(peerId);
    this.transports.set(t.id, t);
    this.node.addPath(t.id, { localStation: t.station.id, remoteStation: rec.remoteStation || null }, this.now());
    if (rec.initiator) {
      const sid = this.node.connect(t.id, this.now());
      this.peer(peerId).session = sid;
      this.peerOfSession.set(sid, peerId);
    }
    this.note('runtime', `first path to ${this.peerName(peerId)} open (${t.station.label})`);
  }

  // ------------------------------------------------------------------ driving the core

  /** Runs one input against the core, then delivers events, flushes packets and re-arms the timer. */
  private input(fn: () => void): void {
    if (this.stopped || this.mode !== 'node') return;
    fn();
    this.afterInput();
  }

  private afterInput(): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const e = this.node.pollEvent();
      if (!e) break;
      this.onEvent(e);
    }
    this.flush();
    this.arm();
    const now = this.now();
    this.link.ensure([...this.node.sessions.values()].some((s) => s.relayWanted(now)));
    this.changed();
  }

  private flush(): void {
    if (this.blockedOn !== null) {
      if (this.transports.get(this.blockedOn)?.isOpen) return;
      this.blockedOn = null; // it closed instead of draining
    }
    const now = this.now();
    for (let guard = 0; guard < 100_000; guard++) {
      const pkt = this.node.pollTransmit(now);
      if (!pkt) return;
      if (pkt.pathId < 0) {
        // The relay: an encrypted packet, opaque to the server. Lost if it is unreachable (the core resends).
        const peerId = this.peerOfSession.get(-pkt.pathId);
        if (peerId && this.link.relay(peerId, base64url(pkt.data), now)) this.sighting('out', pkt.pathId, pkt.data);
        continue;
      }
      const t = this.transports.get(pkt.pathId);
      if (!t || !t.isOpen) continue; // its transport is gone: the core learns that on its own (liveness)
      this.sighting('out', pkt.pathId, pkt.data);
      if (!t.send(pkt.data)) {
        this.blockedOn = t.id; // resumes on its onDrain, or when it closes
        return;
      }
    }
  }

  private arm(): void {
    const at = this.node.pollTimeout();
    if (at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.input(() => this.node.handleTimeout(this.now()));
      },
      Math.min(Math.max(0, at - this.now()), MAX_TIMER_MS),
    );
  }

  private onData(t: PathTransport, d: Uint8Array): void {
    if (this.mode === 'frozen') {
      this.frozenIn.push([t, d.slice()]);
      return;
    }
    if (this.mode === 'forwarding') {
      this.forwarder?.(t, d);
      return;
    }
    this.input(() => {
      this.sighting('in', t.id, d);
      this.node.handleDatagram(t.id, d, this.now());
    });
  }

  private drained(t: PathTransport): void {
    if (this.blockedOn === t.id) this.blockedOn = null;
  }

  private transportClosed(t: PathTransport, reason: string): void {
    if (this.blockedOn === t.id) this.blockedOn = null;
    if (this.mode === 'forwarding' || this.mode === 'moved') {
      if (this.transports.delete(t.id)) this.move?.transportClosed(t.id);
      return;
    }
    this.input(() => this.onTransportClose(t, reason));
  }

  private onTransportClose(t: PathTransport, reason: string): void {
    const introPeer = this.introOfTransport.get(t.id);
    if (introPeer && this.intro.get(introPeer)?.transport === t) {
      this.intro.delete(introPeer);
      this.note('runtime', `introduction to ${this.peerName(introPeer)} failed: ${reason}`);
    }
    for (const [k, s] of this.setups) {
      if (s.transport === t) {
        this.setups.delete(k);
        if (!t.isOpen) this.node.abandonPath(s.session, s.key, `transport: ${reason}`);
      }
    }
    if (this.transports.delete(t.id)) this.node.removePath(t.id, this.now());
  }

  private onEvent(e: Net2oEvent): void {
    const now = this.now();
    switch (e.type) {
      case 'path-wanted':
        this.createSetup(e.session, e.key, e.localStation, e.remoteStation, true);
        break;
      case 'path-signal': {
        const rec = this.setups.get(`${e.session}|${e.key}`) ?? this.createSetup(e.session, e.key, e.localStation, e.remoteStation, false);
        rec?.transport.signal(e.data);
        break;
      }
      case 'path-abandoned': {
        const k = `${e.session}|${e.key}`;
        const rec = this.setups.get(k);
        if (rec && !this.transports.has(rec.transport.id)) rec.transport.close();
        this.setups.delete(k);
        break;
      }
      case 'path-closed': {
        const t = this.transports.get(e.pathId);
        this.transports.delete(e.pathId);
        t?.close();
        break;
      }
      case 'handshake-done': {
        let peerId = this.peerOfSession.get(e.session);
        if (!peerId) {
          // Responder: the session's first path is the transport the introduction opened.
          const s = this.node.session(e.session);
          const first = s ? [...s.paths.keys()][0] : undefined;
          peerId = first !== undefined ? this.introOfTransport.get(first) : undefined;
          if (peerId) {
            this.peerOfSession.set(e.session, peerId);
            this.peer(peerId).session = e.session;
          }
        }
        if (peerId && e.peerName) this.peer(peerId).name = e.peerName;
        this.node.addPath(this.relayPathId(e.session), { localStation: 'signaling', session: e.session, relay: true }, now);
        break;
      }
      case 'message':
        this.onAppMessage(e.session, e.data, now);
        break;
      case 'hop-finished':
        for (const p of this.peers.values()) if (p.session !== null) p.hops++;
        break;
      case 'failover': {
        const p = this.peerRecord(e.session);
        if (p) p.failovers++;
        break;
      }
      case 'return-address-moved': {
        const p = this.peerRecord(e.session);
        if (p) p.moves++;
        break;
      }
      case 'packet-rejected': {
        this.lastRejection = { reason: e.reason, at: now };
        const p = e.session !== null ? this.peerRecord(e.session) : undefined;
        if (p) p.rejected++;
        break;
      }
      default:
        break;
    }
    if (e.type !== 'message') {
      const peerId = 'session' in e && e.session !== null ? this.peerOfSession.get(e.session) : undefined;
      this.logEntries.push({ at: now, kind: e.type, text: describeEvent(e, (id) => this.label(id), peerId ? this.peerName(peerId) : undefined), ...(peerId ? { peerId } : {}) });
      if (this.logEntries.length > LOG_LIMIT) this.logEntries.splice(0, this.logEntries.length - LOG_LIMIT);
    }
  }

  private createSetup(session: SessionId, key: string, localStation: string, remoteStation: string, initiator: boolean): SetupRecord | undefined {
    const station = this.stationInfo(localStation);
    if (!station) {
      this.node.abandonPath(session, key, `unknown station ${localStation}`);
      return undefined;
    }
    const k = `${session}|${key}`;
    // Data can arrive before simple-peer reports 'connect' (it waits for getStats): register on whichever is first.
    const register = (): void => {
      if (this.transports.has(t.id) || this.setups.get(k)?.transport !== t) return;
      this.transports.set(t.id, t);
      this.node.addPath(t.id, { localStation, remoteStation, key, session }, this.now());
    };
    const t: PathTransport = this.opts.transports.create(
      { initiator, station },
      {
        onSignal: (d) => this.input(() => this.node.sendPathSignal(session, key, d)),
        onOpen: () => this.input(register),
        onData: (d) => {
          if (!this.transports.has(t.id)) this.input(register);
          this.onData(t, d);
        },
        onClose: (r) => this.transportClosed(t, r),
        onDrain: () => this.input(() => this.drained(t)),
      },
    );
    const rec = { session, key, localStation, remoteStation, transport: t };
    this.setups.set(k, rec);
    return rec;
  }

  // ------------------------------------------------------------------ application messages

  private onAppMessage(session: SessionId, data: Uint8Array, now: number): void {
    const m = decodeApp(data);
    const p = this.peerRecord(session);
    if (!m || !p) return;
    if (m.type === 'tick') p.ticks.onTick(m.seq, m.sentAt, m.intervalMs, this.wall());
    else {
      this.chatLog.push({ at: now, from: p.name || p.peerId, text: m.text, mine: false });
      if (this.chatLog.length > CHAT_LIMIT) this.chatLog.shift();
    }
  }

  private sendTick(session: SessionId): void {
    try {
      this.node.send(session, encodeTick(this.tickSeq, this.wall(), 1000 / this.streamRate));
      const p = this.peerRecord(session);
      if (p) p.ticks.s.sent++;
    } catch {
      // Backpressure or not yet established: the stream skips this tick (it is not a loss).
    }
  }

  startStream(perSecond: number): void {
    this.stopStream();
    if (!(perSecond > 0)) return;
    this.streamRate = Math.min(perSecond, 1000);
    // Paced by elapsed time, not by timer callbacks: a busy page still sends at the asked rate (in small bursts).
    const start = this.now();
    const firstSeq = this.tickSeq;
    this.streamTimer = setInterval(() => {
      this.input(() => {
        const due = firstSeq + Math.floor(((this.now() - start) * this.streamRate) / 1000) + 1;
        for (let n = 0; this.tickSeq < due && n < STREAM_BURST_MAX; n++) {
          for (const [sid, s] of this.node.sessions) if (s.state === 'established') this.sendTick(sid);
          this.tickSeq++;
        }
      });
    }, STREAM_TIMER_MS);
  }

  stopStream(): void {
    if (this.streamTimer) clearInterval(this.streamTimer);
    this.streamTimer = null;
    this.streamRate = 0;
  }

  send(text: string): void {
    this.input(() => {
      for (const [sid, s] of this.node.sessions) if (s.state === 'established') this.node.send(sid, encodeChat(text));
      this.chatLog.push({ at: this.now(), from: this.opts.name, text, mine: true });
    });
  }

  // ------------------------------------------------------------------ stations

  async attach(stationId: string): Promise<void> {
    this.requireStation(stationId);
    this.input(() => this.node.attach(this.attachId(stationId), this.now()));
    this.note('runtime', `attached to ${this.label(stationId)}`);
  }

  async detach(stationId: string, opts: { abrupt?: boolean } = {}): Promise<void> {
    this.requireStation(stationId);
    this.input(() => {
      const id = this.node.stationList().some((x) => x.id === this.attachId(stationId)) ? this.attachId(stationId) : stationId;
      this.node.detach(id, { abrupt: opts.abrupt ?? false }, this.now());
      if (opts.abrupt) {
        // Coverage lost: every transport through that station dies now, as the radio would.
        for (const [pid, t] of [...this.transports]) if (t.station.id === stationId) this.node.removePath(pid, this.now());
      }
    });
    this.note('runtime', opts.abrupt ? `lost coverage on ${this.label(stationId)}` : `leaving ${this.label(stationId)} (overlap ${this.node.overlapMs} ms)`);
  }

  async hop(stationId: string): Promise<void> {
    this.requireStation(stationId);
    this.input(() => this.node.hopTo(this.attachId(stationId), this.now()));
  }

  setOverlapMs(ms: number): void {
    this.node.overlapMs = Math.max(0, Math.min(ms, 60_000));
  }

  overlapMs(): number {
    return this.node.overlapMs;
  }

  async stationAdmin(stationId: string, action: 'down' | 'up'): Promise<void> {
    if (!this.opts.stationAdmin) throw new Error('station admin is not available here');
    await this.opts.stationAdmin(stationId, action);
    const st = this.stationList.find((s) => s.id === stationId);
    if (st) st.up = action === 'up';
    this.note('runtime', `${this.label(stationId)} taken ${action}`);
    this.changed();
  }

  private requireStation(id: string): void {
    if (!this.stationList.some((s) => s.id === id)) throw new Error(`unknown station ${id}`);
  }

  disconnectSignaling(): void {
    this.link.disconnect();
  }

  // ------------------------------------------------------------------ attacks ("what an eavesdropper sees")

  private readonly eavesdropper = new Eavesdropper();

  async attack(kind: AttackKind, peerId?: string): Promise<AttackResult> {
    if (kind === 'relay-replay' || kind === 'relay-forge') {
      // Plays a malicious signaling server: re-delivers an earlier resumption, or one under wrong keys.
      const captured = this.eavesdropper.lastRelayed();
      if (!captured) return { kind, rejected: false, reason: 'no resumption seen yet', returnAddressUnchanged: true };
      const pkt = craftAttack(kind, captured.data, (b) => crypto.getRandomValues(b));
      return this.runAttack(kind, this.peers.get(captured.from)?.session ?? null, () => this.onRelayed(captured.from, base64url(pkt)));
    }
    const target = peerId ? this.peers.get(peerId) : [...this.peers.values()].find((p) => p.session !== null);
    const session = target?.session ?? null;
    const captured = session !== null ? this.eavesdropper.lastCaptured(session) : undefined;
    if (!captured) return { kind, rejected: false, reason: 'nothing captured yet', returnAddressUnchanged: true };
    const pkt = craftAttack(kind, captured, (b) => crypto.getRandomValues(b));
    // Injected from a path the node never opened, as an on-path attacker would.
    const fakePath = -1 - Math.floor(Math.random() * 1e6) - MAX_CONNECTION_TAG;
    return this.runAttack(kind, session, () => this.input(() => this.node.handleDatagram(fakePath, pkt, this.now())));
  }

  private runAttack(kind: AttackKind, session: SessionId | null, inject: () => void): AttackResult {
    const s = session !== null ? this.node.session(session) : undefined;
    const retBefore = s?.returnPath ?? null;
    const before = this.totalRejected();
    inject();
    const rejected = this.totalRejected() > before;
    const result: AttackResult = {
      kind,
      rejected,
      reason: rejected ? (this.lastRejection?.reason ?? '?') : 'accepted',
      returnAddressUnchanged: (s?.returnPath ?? null) === retBefore,
    };
    this.note('attack', `${kind}: ${rejected ? `rejected (${result.reason})` : 'NOT rejected'}; return address ${result.returnAddressUnchanged ? 'unchanged' : 'MOVED'}`);
    return result;
  }

  private totalRejected(): number {
    return Object.values(this.node.counters.rejected).reduce((a, b) => a + b, 0);
  }

  private sighting(direction: 'in' | 'out', pathId: PathId, data: Uint8Array): void {
    this.eavesdropper.record(direction, pathId, data, this.now(), (tag, dir) => {
      const session = dir === 'in' ? tag : this.sessionOfPeerTag(tag);
      return session !== undefined ? (this.peerOfSession.get(session) ?? null) : null;
    });
  }

  private sessionOfPeerTag(tag: number): SessionId | undefined {
    for (const s of this.node.sessions.values()) if (s.peerTag === tag) return s.id;
    return undefined;
  }

  // ------------------------------------------------------------------ views

  private peerRecord(session: SessionId): PeerRecord | undefined {
    const id = this.peerOfSession.get(session);
    return id ? this.peers.get(id) : undefined;
  }

  private peerName(peerId: string): string {
    return this.peers.get(peerId)?.name || peerId;
  }

  private stationInfo(attachment: string): StationInfo | undefined {
    const id = baseStation(attachment);
    return this.stationList.find((s) => s.id === id);
  }

  private label(stationId: string): string {
    const st = this.stationInfo(stationId);
    if (!st) return stationId;
    return stationId.includes('~') ? `${st.label} (this tab)` : st.label;
  }

  private note(kind: LogEntry['kind'], text: string): void {
    this.logEntries.push({ at: this.now(), kind, text });
    if (this.logEntries.length > LOG_LIMIT) this.logEntries.shift();
    this.changed();
  }

  private readonly fingerprints = new WeakMap<Uint8Array, string>();
  /** A peer identity's fingerprint, hashed once (the UI asks for it several times a second). */
  private peerFingerprint(identity: Uint8Array): string {
    if (identity.length === 0) return '';
    let f = this.fingerprints.get(identity);
    if (f === undefined) this.fingerprints.set(identity, (f = identityFingerprint(this.node.crypto, identity)));
    return f;
  }

  snapshot(): RuntimeSnapshot {
    const attached = new Map(this.node.stationList().map((s) => [s.id, s.state]));
    const stations: StationView[] = this.stationList.map((s) => ({
      ...s,
      attachment: attached.get(this.attachId(s.id)) ?? attached.get(s.id) ?? 'detached',
    }));
    const peers: PeerView[] = [];
    for (const p of this.peers.values()) {
      const s = p.session !== null ? this.node.session(p.session) : undefined;
      peers.push({
        peerId: p.peerId,
        name: p.name || p.peerId,
        fingerprint: s ? this.peerFingerprint(s.peerIdentity) : '',
        sessionId: p.session ?? 0,
        state: !s ? (p.session === null ? 'handshaking' : 'closed') : s.state === 'established' ? 'established' : s.state === 'closed' ? 'closed' : 'handshaking',
        connectionTag: (p.session ?? 0).toString(16).padStart(6, '0'),
        peerTag: (s?.peerTag ?? 0).toString(16).padStart(6, '0'),
        paths: (s?.pathStates() ?? []).filter((x) => !x.relay).map((x) => ({
          pathId: x.id,
          localStation: x.localStation,
          remoteStation: x.remoteStation,
          phase: x.phase,
          rttMs: x.rtt.samples > 0 ? Math.round(x.rtt.smoothed * 10) / 10 : null,
          isReturn: s?.returnPath === x.id,
          isActive: s?.activePath === x.id,
          bytesSent: x.bytesSent,
          bytesReceived: x.bytesReceived,
        })),
        recovering: s ? s.relayWanted(this.now()) : false,
        rttMs: s && s.rtt.samples > 0 ? Math.round(s.rtt.smoothed * 10) / 10 : null,
        stats: { ...p.ticks.s },
        hopsSurvived: p.hops,
        failovers: p.failovers,
        returnAddressMoves: p.moves,
        rejected: p.rejected,
      });
    }
    return {
      nodeId: this.opts.nodeId,
      name: this.opts.name,
      fingerprint: this.node.fingerprint,
      room: this.opts.room,
      signaling: this.link.state,
      stations,
      peers,
      streaming: this.streamRate,
      mode: this.mode,
      move: this.moveProgress(),
    };
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  log(): readonly LogEntry[] {
    return this.logEntries;
  }

  wire(): readonly WireSighting[] {
    return this.eavesdropper.wire;
  }

  chat(): readonly { at: number; from: string; text: string; mine: boolean }[] {
    return this.chatLog;
  }

  inviteLink(): string {
    const base = this.opts.inviteBase ?? '';
    return `${base}#room=${encodeURIComponent(this.opts.room)}&secret=${base64url(this.opts.secret)}`;
  }

  /** Counters of the local node (for tests and the automation surface). */
  counters() {
    return { ...this.node.counters, rejected: { ...this.node.counters.rejected } };
  }
}
