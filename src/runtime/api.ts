// What the UI (and tests, and the automation surface) may see and do. The UI reads snapshots and events and
// calls actions; it never reaches into the core. `NodeRuntime` implements it; UI tests use a fake.
import type { StationInfo } from '../../signaling-server/contracts.ts';
import type { Net2oEvent } from '../net2o/events.ts';
import type { MoveProgress } from './move.ts';

export type StationAttachment = 'active' | 'leaving' | 'detached';

export interface StationView extends StationInfo {
  attachment: StationAttachment;
}

export interface PathView {
  pathId: number;
  localStation: string | null;
  remoteStation: string | null;
  phase: 'validating' | 'validated' | 'suspected' | 'closed';
  rttMs: number | null;
  /** This path is where replies go (the return address). */
  isReturn: boolean;
  /** This path carries our bulk traffic now. */
  isActive: boolean;
  bytesSent: number;
  bytesReceived: number;
}

export interface StreamStats {
  sent: number;
  delivered: number;
  lost: number; // sent by the peer and never delivered here (known once later numbers arrived)
  duplicated: number;
  reordered: number;
  maxGapMs: number;
  lastLatencyMs: number | null;
}

export interface PeerView {
  peerId: string; // the signaling node id
  name: string;
  fingerprint: string; // of the peer's identity key
  sessionId: number;
  state: 'handshaking' | 'established' | 'closed';
  connectionTag: string; // our receive address for this connection (hex)
  peerTag: string; // where we send (hex)
  paths: PathView[];
  /** No path is left: the session waits for one, and resumes through the signaling server's relay. */
  recovering: boolean;
  rttMs: number | null;
  stats: StreamStats; // the demo stream from this peer
  hopsSurvived: number;
  failovers: number;
  returnAddressMoves: number;
  rejected: number;
}

export interface LogEntry {
  at: number; // ms since page start
  kind: Net2oEvent['type'] | 'signaling' | 'runtime' | 'attack';
  text: string; // human-readable, one line
  peerId?: string;
}

/** A packet as an eavesdropper sees it: only the clear header. */
export interface WireSighting {
  at: number;
  direction: 'in' | 'out';
  peerId: string | null;
  pathId: number;
  size: number;
  flags: number;
  tags: number;
  address: string; // the 64-bit destination address, hex
  connectionTag: string;
  packetNumber: number;
}

/** forge/replay/hijack: packets injected on a path the node never opened. relay-*: what a malicious signaling
 * server could deliver as a resumption (a replay of an earlier one, or one under the wrong keys). */
export type AttackKind = 'forge' | 'replay' | 'hijack' | 'relay-replay' | 'relay-forge';

export interface AttackResult {
  kind: AttackKind;
  rejected: boolean;
  reason: string; // e.g. 'tag', 'replay'
  returnAddressUnchanged: boolean;
}

export interface RuntimeSnapshot {
  nodeId: string;
  name: string;
  fingerprint: string;
  room: string;
  signaling: 'connecting' | 'connected' | 'disconnected' | 'closed';
  stations: StationView[];
  peers: PeerView[];
  streaming: number; // messages per second we send to every peer, 0 = off
  /** 'node' normally; while moving to another tab: 'frozen', then 'forwarding', then 'moved'. */
  mode: 'node' | 'frozen' | 'forwarding' | 'moved';
  move: MoveProgress;
}

export interface RuntimeApi {
  /** The clock of every `at` in log, wire and chat entries (ms since the runtime started). */
  now(): number;
  snapshot(): RuntimeSnapshot;
  /** Called after every change (coalesced per animation frame by the UI bridge). */
  subscribe(listener: () => void): () => void;
  /** Protocol and runtime events, newest last; bounded. May be a live array: copy before keeping it. */
  log(): readonly LogEntry[];
  wire(): readonly WireSighting[];
  inviteLink(): string;
  attach(stationId: string): Promise<void>;
  detach(stationId: string, opts?: { abrupt?: boolean }): Promise<void>;
  hop(stationId: string): Promise<void>;
  setOverlapMs(ms: number): void;
  overlapMs(): number;
  stationAdmin(stationId: string, action: 'down' | 'up'): Promise<void>;
  startStream(perSecond: number): void;
  stopStream(): void;
  /** Sends a chat line to every peer (reliable, ordered). */
  send(text: string): void;
  /** Chat lines received: newest last. */
  chat(): readonly { at: number; from: string; text: string; mine: boolean }[];
  attack(kind: AttackKind, peerId?: string): Promise<AttackResult>;
  disconnectSignaling(): void;
  /** Moves this node to another tab (net2o's forwarding overlap); resolves to the URL the new tab opens. */
  startMove(): Promise<string>;
  moveProgress(): MoveProgress;
}
