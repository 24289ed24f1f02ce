// `window.net2oDemo`: the automation surface for scripted demos and tests (documented in the README).
import type { StationView, PeerView, LogEntry, AttackKind, AttackResult, StreamStats } from './api.ts';
import type { MoveProgress } from './move.ts';
import type { NodeRuntime } from './node-runtime.ts';

export interface Net2oDemoApi {
  nodeId: string;
  inviteLink(): string;
  stations(): StationView[];
  attach(id: string): Promise<void>;
  detach(id: string, opts?: { abrupt?: boolean }): Promise<void>;
  hop(id: string): Promise<void>;
  peers(): PeerView[];
  /** One peer's counters, or the sums over all peers. */
  stats(peerId?: string): StreamStats & { hops: number; failovers: number; returnAddressMoves: number; rejected: number };
  events(): readonly LogEntry[];
  startStream(perSecond: number): void;
  stopStream(): void;
  send(text: string): void;
  attack(kind: AttackKind): Promise<AttackResult>;
  disconnectSignaling(): void;
  setOverlapMs(ms: number): void;
  stationAdmin(id: string, action: 'down' | 'up'): Promise<void>;
  counters(): ReturnType<NodeRuntime['counters']>;
  /** Moves the node to another tab; resolves to the URL that tab must open (same origin). */
  startMove(): Promise<string>;
  moveProgress(): MoveProgress;
  /** 'node', 'frozen' (handing over), 'forwarding' (old tab during the overlap) or 'moved'. */
  mode(): NodeRuntime['mode'];
}

export function automation(rt: NodeRuntime): Net2oDemoApi {
  return {
    nodeId: rt.snapshot().nodeId,
    inviteLink: () => rt.inviteLink(),
    stations: () => rt.snapshot().stations,
    attach: (id) => rt.attach(id),
    detach: (id, opts) => rt.detach(id, opts),
    hop: (id) => rt.hop(id),
    peers: () => rt.snapshot().peers,
    stats: (peerId) => {
      const peers = rt.snapshot().peers.filter((p) => !peerId || p.peerId === peerId);
      const sum = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, maxGapMs: 0, lastLatencyMs: null as number | null, hops: 0, failovers: 0, returnAddressMoves: 0, rejected: 0 };
      for (const p of peers) {
        sum.sent += p.stats.sent;
        sum.delivered += p.stats.delivered;
        sum.lost += p.stats.lost;
        sum.duplicated += p.stats.duplicated;
        sum.reordered += p.stats.reordered;
        sum.maxGapMs = Math.max(sum.maxGapMs, p.stats.maxGapMs);
        sum.lastLatencyMs = p.stats.lastLatencyMs ?? sum.lastLatencyMs;
        sum.hops = Math.max(sum.hops, p.hopsSurvived);
        sum.failovers += p.failovers;
        sum.returnAddressMoves += p.returnAddressMoves;
        sum.rejected += p.rejected;
      }
      return sum;
    },
    events: () => rt.log(),
    startStream: (n) => rt.startStream(n),
    stopStream: () => rt.stopStream(),
    send: (t) => rt.send(t),
    attack: (k) => rt.attack(k),
    disconnectSignaling: () => rt.disconnectSignaling(),
    setOverlapMs: (ms) => rt.setOverlapMs(ms),
    stationAdmin: (id, a) => rt.stationAdmin(id, a),
    counters: () => rt.counters(),
    startMove: () => rt.startMove(),
    moveProgress: () => rt.moveProgress(),
    mode: () => rt.mode,
  };
}
