// A net2o node: its identity, its stations, and every session it holds. Demultiplexes packets by address
// alone, runs the handshake, and drives handover (attach, detach, hop) across all sessions at once.
// Sans-IO: the runtime (or the simulator) calls handle*/attach/detach with `now` and polls the outputs.
import { toHex } from './bytes.ts';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_OVERLAP_MS,
  HANDSHAKE_RESEND_MS,
  HANDSHAKE_TIMEOUT_MS,
  MAX_CONNECTION_TAG,
  MAX_OVERLAP_MS,
  OVERLAP_RECHECK_MS,
  REJECT_GRACE_MS,
  SETUP_CONNECTION_TAG,
  TAG_STATELESS,
} from './constants.ts';
import type { Crypto, KeyPair } from './crypto.ts';
import { HandshakeError, LocalProtocolError, WireError, type RejectReason } from './errors.ts';
import type { Net2oEvent, PathCloseReason, PathId, SessionId } from './events.ts';
import type { Command } from './frames.ts';
import {
  deriveKeys,
  encodeInit,
  encodeReject,
  encodeReply,
  inviteKeys,
  openHandshake,
  REJECT_WRONG_SECRET,
  signTranscript,
  transcript1,
  transcript2,
  verifyTranscript,
  type InviteKeys,
} from './handshake.ts';
import type { PathState } from './paths.ts';
import { Session, type SessionContext, type SessionSnapshot } from './session.ts';
import { decodePacket } from './wire.ts';

/** A whole node, as it moves to another host (tab): identity, invite keys, stations and every session. */
export interface NodeSnapshot {
  identity: KeyPair;
  name: string;
  invite: InviteKeys;
  overlapMs: number;
  idleTimeoutMs: number;
  stations: Array<{ id: string; state: 'active' | 'leaving' }>;
  sessions: SessionSnapshot[];
  counters: NodeCounters;
}

export interface NodeOptions {
  crypto: Crypto;
  /** The invite secret shared out of band (URL fragment). */
  inviteSecret: Uint8Array;
  /** Restores a node that moved here (the invite secret is then unused). */
  snapshot?: NodeSnapshot;
  name?: string;
  identity?: KeyPair;
  overlapMs?: number;
  idleTimeoutMs?: number;
}

export interface PathRegistration {
  /** Our station this transport goes through. */
  localStation: string;
  /** The peer's station, when known. */
  remoteStation?: string | null;
  /** The in-band setup this transport completes (session and key from path-wanted / path-signal). */
  key?: string | null;
  session?: SessionId | null;
  /** A relay through the signaling server, for recovery only (see PathState.relay). Needs `session`. */
  relay?: boolean;
}

interface Pending {
  ephemeral: KeyPair;
  initPacket: Uint8Array;
  h1: Uint8Array;
  pathId: PathId;
  startedAt: number;
  lastSentAt: number;
  /** When the first (unauthenticated) reject or bad reply arrived. */
  rejectedAt: number;
}

interface HopState {
  station: string;
  startedAt: number;
}

export interface NodeCounters {
  rejected: Record<RejectReason, number>;
  hops: number;
  failovers: number;
  returnAddressMoves: number;
}

/** What people compare to recognise a node: the first 8 bytes of BLAKE2b-128 of its Ed25519 identity, in hex. */
export function identityFingerprint(c: Crypto, identity: Uint8Array): string {
  return toHex(c.hash(identity, null, 16)).slice(0, 16);
}

/** Canonical name of the path between the initiator's station and the responder's: both ends compute it. */
export function pathKey(initiatorStation: string, responderStation: string): string {
  return `${initiatorStation}|${responderStation}`;
}

export class Node {
  readonly crypto: Crypto;
  readonly identity: KeyPair;
  readonly name: string;
  overlapMs: number;
  readonly idleTimeoutMs: number;
  private readonly invite: InviteKeys;
  readonly sessions = new Map<SessionId, Session>();
  private readonly pending = new Map<SessionId, Pending>();
  /** Responder's record of inits already answered (ephemeral key → session), so a replayed init allocates nothing. */
  private readonly answered = new Map<string, { session: SessionId; reply: Uint8Array; at: number }>();
  private readonly stations = new Map<string, { state: 'active' | 'leaving'; leaveAt: number; leaveStartedAt: number }>();
  private readonly pathRegistry = new Map<PathId, PathRegistration>();
  private readonly events: Net2oEvent[] = [];
  private readonly stateless: Array<{ pathId: PathId; data: Uint8Array }> = [];
  private readonly closedPaths: Array<{ pathId: PathId; session: SessionId | null; reason: PathCloseReason }> = [];
  private hop: HopState | null = null;
  private rr = 0;
  readonly counters: NodeCounters = {
    rejected: { malformed: 0, 'unknown-address': 0, replay: 0, tag: 0, handshake: 0 },
    hops: 0,
    failovers: 0,
    returnAddressMoves: 0,
  };

  constructor(opts: NodeOptions) {
    this.crypto = opts.crypto;
    this.identity = opts.identity ?? opts.crypto.signKeyPair();
    this.name = opts.name ?? 'node';
    this.overlapMs = opts.overlapMs ?? DEFAULT_OVERLAP_MS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.invite = opts.snapshot ? opts.snapshot.invite : inviteKeys(opts.crypto, opts.inviteSecret);
    if (opts.snapshot) {
      this.identity = opts.snapshot.identity;
      this.name = opts.snapshot.name;
      this.overlapMs = opts.snapshot.overlapMs;
      this.idleTimeoutMs = opts.snapshot.idleTimeoutMs;
      Object.assign(this.counters, opts.snapshot.counters, { rejected: { ...opts.snapshot.counters.rejected } });
    }
  }

  /**
   * Moving to another host: every established session is exported and retired here. This node must send
   * nothing afterwards; the new host restores with `new Node({ snapshot })` + `adopt(now)`.
   */
  exportForMove(opts: { retire?: boolean } = {}): NodeSnapshot {
    const sessions: SessionSnapshot[] = [];
    for (const s of this.established()) sessions.push(s.exportForMove());
    if (opts.retire ?? true) this.retire();
    return {
      identity: this.identity,
      name: this.name,
      invite: this.invite,
      overlapMs: this.overlapMs,
      idleTimeoutMs: this.idleTimeoutMs,
      stations: this.stationList(),
      sessions,
      counters: { ...this.counters, rejected: { ...this.counters.rejected } },
    };
  }

  /** After a move committed: every session retired, nothing is ever sent again from here. */
  retire(): void {
    for (const s of this.sessions.values()) if (s.state === 'established') s.retire();
    this.sessions.clear();
    this.sessionOrderStale = true;
    this.pending.clear();
    this.stateless.length = 0;
  }

  /**
   * The new host takes the sessions over. The old host's stations stay as 'leaving' (its transports now reach
   * us through the old host's forwarding) until our own paths work — the same make-before-break as a hop.
   */
  adopt(snapshot: NodeSnapshot, now: number): void {
    for (const snap of snapshot.sessions) {
      const s = this.newSession(snap.id, snap.initiator, now);
      s.importSnapshot(snap, now);
    }
    for (const st of snapshot.stations) this.stations.set(st.id, { state: 'leaving', leaveAt: now + this.overlapMs, leaveStartedAt: now });
  }

  get fingerprint(): string {
    return (this.ownFingerprint ??= identityFingerprint(this.crypto, this.identity.publicKey));
  }
  private ownFingerprint: string | undefined;

  // ------------------------------------------------------------------ stations and handover

  stationList(): Array<{ id: string; state: 'active' | 'leaving' }> {
    return [...this.stations].map(([id, s]) => ({ id, state: s.state }));
  }

  /** Attach to a station: ask for a path from it to every open connection, and announce it. */
  attach(station: string, now: number): void {
    const cur = this.stations.get(station);
    if (cur?.state === 'active') return;
    this.stations.set(station, { state: 'active', leaveAt: Infinity, leaveStartedAt: Infinity });
    for (const s of this.established()) {
      this.announce(s);
      this.wantPaths(s, now);
      s.choosePath();
    }
  }

  /**
   * Detach from a station. Graceful: keep its paths for the overlap, then close them. Abrupt (coverage lost):
   * close them now; unacknowledged data on them is resent on whatever path remains.
   */
  detach(station: string, opts: { abrupt?: boolean; overlapMs?: number }, now: number): void {
    const cur = this.stations.get(station);
    if (!cur) throw new LocalProtocolError('ERR_UNKNOWN_STATION', station);
    if (opts.abrupt) {
      this.stations.delete(station);
      this.closeStationPaths(station, 'station-lost', now);
    } else {
      cur.state = 'leaving';
      cur.leaveAt = now + (opts.overlapMs ?? this.overlapMs);
      cur.leaveStartedAt = now;
    }
    for (const s of this.established()) {
      this.announce(s);
      this.abandonSetupsOn(s, station, 'our station left');
      s.choosePath();
    }
  }

  /** Make-before-break: attach `to`, and gracefully leave every other station. */
  hopTo(station: string, now: number): void {
    const leaving = [...this.stations].filter(([id, s]) => id !== station && s.state === 'active').map(([id]) => id);
    this.hop = { station, startedAt: now };
    this.counters.hops++;
    this.emit({ type: 'hop-started', station, leaving });
    this.attach(station, now);
    for (const id of leaving) this.detach(id, {}, now);
    this.checkHopDone(now);
  }

  private announce(s: Session): void {
    s.sendCommand({ type: 'stations', stations: this.stationList() });
  }

  /** For every pair (our active station, peer's active station) with no path and no setup, ask for one. */
  private wantPaths(s: Session, now: number): void {
    if (!s.initiator) return; // the session initiator offers every path: no glare by construction
    for (const local of this.activeStations()) {
      for (const [remote, state] of s.peerStations) {
        if (state !== 'active') continue;
        const key = pathKey(local, remote);
        if (s.setups.has(key) || [...s.paths.values()].some((p) => p.key === key || (p.localStation === local && p.remoteStation === remote)))
          continue;
        s.setups.set(key, { key, role: 'offerer', localStation: local, remoteStation: remote, startedAt: now });
        this.emit({ type: 'path-wanted', session: s.id, key, localStation: local, remoteStation: remote });
      }
    }
  }

  private abandonSetupsOn(s: Session, station: string, reason: string, remote = false): void {
    for (const [key, setup] of s.setups) {
      if ((remote ? setup.remoteStation : setup.localStation) !== station) continue;
      s.setups.delete(key);
      this.emit({ type: 'path-abandoned', session: s.id, key, reason });
      s.sendCommand({ type: 'path-close', key, reason });
    }
  }

  private closeStationPaths(station: string, reason: PathCloseReason, now: number): void {
    for (const s of this.sessions.values()) {
      for (const p of s.pathStates()) if (!p.relay && p.localStation === station) s.closePath(p.id, reason, now, true);
      this.abandonSetupsOn(s, station, reason);
    }
    for (const [id, reg] of this.pathRegistry) {
      if (reg.localStation === station && !this.boundSession(id)) this.closeUnbound(id, reason);
    }
  }

  /** Does session s still need station `id`: it has paths there and no usable path on an active station? */
  private dependsOn(s: Session, id: string): boolean {
    const paths = s.pathStates();
    if (!paths.some((p) => p.localStation === id)) return false;
    return !paths.some((p) => p.usable && p.localStation !== null && this.stations.get(p.localStation)?.state === 'active');
  }

  private checkHopDone(now: number): void {
    const h = this.hop;
    if (!h) return;
    for (const s of this.established()) {
      const a = s.activePath !== null ? s.paths.get(s.activePath) : undefined;
      if (!a || a.localStation !== h.station) return;
    }
    this.hop = null;
    this.emit({ type: 'ping-all', station: h.station, sessions: this.established().length });
    this.emit({ type: 'hop-finished', station: h.station, durationMs: now - h.startedAt });
  }

  // ------------------------------------------------------------------ transports (paths)

  /** The runtime opened a transport. Packets may arrive on it before any session claims it. */
  addPath(id: PathId, reg: PathRegistration, now: number): void {
    this.pathRegistry.set(id, {
      localStation: reg.localStation,
      remoteStation: reg.remoteStation ?? null,
      key: reg.key ?? null,
      relay: reg.relay ?? false,
      session: reg.session ?? null,
    });
    // Keys name station pairs and repeat across sessions: the session id says which one this path serves.
    const s = reg.session !== undefined && reg.session !== null ? this.sessions.get(reg.session) : undefined;
    if (s && ((reg.key && s.setups.has(reg.key)) || reg.relay || !reg.key)) s.addPath(id, now);
    // Already carrying packets (they can arrive before the transport reports open): update what it knows.
    for (const x of this.sessions.values()) if (x.paths.has(id)) x.addPath(id, now);
  }

  /** The runtime lost a transport (closed, failed). */
  removePath(id: PathId, now: number): void {
    for (const s of this.sessions.values()) if (s.paths.has(id)) s.closePath(id, 'transport', now, true);
    this.pathRegistry.delete(id);
  }

  /** Feed an in-band setup message the runtime produced for path `key` (offer, answer, candidate). */
  sendPathSignal(session: SessionId, key: string, data: Uint8Array): void {
    const s = this.sessions.get(session);
    const setup = s?.setups.get(key);
    if (!s || !setup) return;
    const [offerer, answerer] = setup.role === 'offerer' ? [setup.localStation, setup.remoteStation] : [setup.remoteStation, setup.localStation];
    s.sendCommand({ type: 'path-signal', key, offererStation: offerer, answererStation: answerer, data });
  }

  /** The runtime gave up on setting up path `key`. */
  abandonPath(session: SessionId, key: string, reason: string): void {
    const s = this.sessions.get(session);
    if (!s || !s.setups.delete(key)) return;
    s.sendCommand({ type: 'path-close', key, reason });
  }

  private boundSession(id: PathId): Session | undefined {
    for (const s of this.sessions.values()) if (s.paths.has(id)) return s;
    return undefined;
  }

  private closeUnbound(id: PathId, reason: PathCloseReason): void {
    this.pathRegistry.delete(id);
    this.closedPaths.push({ pathId: id, session: null, reason });
    this.emit({ type: 'path-closed', session: null, pathId: id, reason });
  }

  // ------------------------------------------------------------------ sessions

  /** Start a handshake as initiator over transport `pathId` (registered with addPath). */
  connect(pathId: PathId, now: number): SessionId {
    const id = this.allocateTag();
    const s = this.newSession(id, true, now);
    const ephemeral = this.crypto.dhKeyPair();
    const { packet: initPacket, h1 } = encodeInit(this.crypto, this.invite, ephemeral.publicKey, this.identity.publicKey, id);
    this.pending.set(id, { ephemeral, initPacket, h1, pathId, startedAt: now, lastSentAt: now, rejectedAt: Infinity });
    this.stateless.push({ pathId, data: initPacket });
    s.addPath(pathId, now);
    return id;
  }

  send(session: SessionId, data: Uint8Array): void {
    const s = this.sessions.get(session);
    if (!s) throw new LocalProtocolError('ERR_SESSION_CLOSED', `no session ${session}`);
    if (s.state !== 'established') throw new LocalProtocolError('ERR_NOT_ESTABLISHED', `session ${session} is ${s.state}`);
    s.send(data);
  }

  close(session: SessionId, reason: string, now: number): void {
    this.sessions.get(session)?.close(reason, now, true);
  }

  private allocateTag(): SessionId {
    for (;;) {
      const b = this.crypto.randomBytes(3);
      const tag = b[0]! | (b[1]! << 8) | (b[2]! << 16);
      if (tag !== SETUP_CONNECTION_TAG && tag <= MAX_CONNECTION_TAG && !this.sessions.has(tag)) return tag;
    }
  }

  private newSession(id: SessionId, initiator: boolean, now: number): Session {
    const ctx: SessionContext = {
      crypto: this.crypto,
      emit: (e) => this.emit(e),
      stationState: (st) => this.stations.get(st)?.state,
      activeStations: () => this.activeStations(),
      pathInfo: (p) => {
        const r = this.pathRegistry.get(p);
        // A transport registered for one session is not another session's registered path.
        if (r && r.session !== undefined && r.session !== null && r.session !== id) return undefined;
        return r ? { key: r.key ?? null, localStation: r.localStation, remoteStation: r.remoteStation ?? null, relay: r.relay ?? false } : undefined;
      },
      onPathClosed: (sid, pathId, reason) => {
        const r = this.pathRegistry.get(pathId);
        if (r && r.session !== undefined && r.session !== null && r.session !== sid) return; // another session's transport
        this.pathRegistry.delete(pathId);
        this.closedPaths.push({ pathId, session: sid, reason });
        this.emit({ type: 'path-closed', session: sid, pathId, reason });
      },
    };
    const s = new Session(id, initiator, ctx, this.idleTimeoutMs, now);
    s.onCommand = (c, path, t) => this.onCommand(s, c, path, t);
    this.sessions.set(id, s);
    this.sessionOrderStale = true;
    return s;
  }

  private established(): Session[] {
    return [...this.sessions.values()].filter((s) => s.state === 'established');
  }

  private activeStations(): string[] {
    return [...this.stations].filter(([, s]) => s.state === 'active').map(([id]) => id);
  }

  // ------------------------------------------------------------------ receiving

  /** A datagram arrived on transport `pathId`. Demultiplexed by its address alone. */
  handleDatagram(pathId: PathId, data: Uint8Array, now: number): void {
    let pkt;
    try {
      pkt = decodePacket(data);
    } catch (e) {
      this.reject('malformed', pathId, null, e instanceof WireError ? e.message : 'undecodable');
      return;
    }
    if (pkt.tags & TAG_STATELESS) {
      this.handleSetup(pkt, pathId, now);
      return;
    }
    const s = this.sessions.get(pkt.connectionTag);
    if (!s || s.state === 'closed' || s.state === 'handshaking') {
      this.reject('unknown-address', pathId, null, `no connection at tag ${pkt.connectionTag}`);
      return;
    }
    const wasHello = s.state;
    const r = s.receive(pkt, pathId, data.length, now);
    if (r) {
      s.stats.rejected++;
      this.reject(r.reason, pathId, s.id, r.detail);
      return;
    }
    if (wasHello === 'awaiting-hello' && s.state === 'awaiting-hello') {
      // The first authentic packet must carry the hello; anything else is dropped with the session.
      s.close('no hello', now, false);
      this.emit({ type: 'handshake-failed', session: s.id, code: 'ERR_BAD_SIGNATURE', pathId });
      this.sessions.delete(s.id);
      this.sessionOrderStale = true;
    }
    this.checkHopDone(now);
  }

  private handleSetup(pkt: ReturnType<typeof decodePacket>, pathId: PathId, now: number): void {
    let msg;
    try {
      msg = openHandshake(this.crypto, this.invite, pkt);
    } catch (e) {
      this.reject('malformed', pathId, null, e instanceof WireError ? e.message : 'bad setup packet');
      return;
    }
    if (pkt.connectionTag === SETUP_CONNECTION_TAG) {
      if (msg === 'bad-mac') {
        // A stranger without the invite secret. Allocate nothing; tell it (advisory, unauthenticated).
        this.reject('handshake', pathId, null, 'init failed the invite MAC');
        this.emit({ type: 'handshake-failed', session: null, code: 'ERR_WRONG_SECRET', pathId });
        const tag = tagOfInit(pkt.sealed);
        if (tag > 0) this.stateless.push({ pathId, data: encodeReject(this.crypto, tag, REJECT_WRONG_SECRET) });
        return;
      }
      if (msg.kind !== 'init') return this.reject('handshake', pathId, null, `${msg.kind} sent to the setup address`);
      const seenKey = toHex(msg.ephemeral);
      const seen = this.answered.get(seenKey);
      if (seen) {
        this.stateless.push({ pathId, data: seen.reply }); // our reply was lost, or this is a replay: no new state
        return;
      }
      const id = this.allocateTag();
      const eph = this.crypto.dhKeyPair();
      const h1 = transcript1(this.crypto, msg);
      const { packet, h2 } = encodeReply(this.crypto, this.invite, msg.tag, eph.publicKey, this.identity, id, h1);
      const s = this.newSession(id, false, now);
      s.peerTag = msg.tag;
      s.peerIdentity = msg.identity;
      s.keys = deriveKeys(this.crypto, this.invite, eph, msg.ephemeral, h2, false);
      this.helloTranscripts.set(id, h2);
      this.answered.set(seenKey, { session: id, reply: packet, at: now });
      s.addPath(pathId, now);
      this.stateless.push({ pathId, data: packet });
      return;
    }
    const p = this.pending.get(pkt.connectionTag);
    const s = this.sessions.get(pkt.connectionTag);
    if (!p || !s) return this.reject('unknown-address', pathId, null, `setup packet for tag ${pkt.connectionTag}`);
    if (msg === 'bad-mac' || msg.kind === 'reject') {
      // The responder holds another invite secret, or someone forged its answer: a reject cannot be
      // authenticated, so it only starts a grace period in which a valid reply still wins.
      if (p.rejectedAt === Infinity) p.rejectedAt = now;
      return this.reject('handshake', pathId, s.id, msg === 'bad-mac' ? 'reply failed the invite MAC' : 'responder rejected our secret');
    }
    if (msg.kind !== 'reply') return this.reject('handshake', pathId, s.id, 'unexpected init');
    const h2 = transcript2(this.crypto, p.h1, msg.signed);
    if (!verifyTranscript(this.crypto, 'r', h2, msg.signature, msg.identity)) {
      this.failHandshake(s, 'ERR_BAD_SIGNATURE', pathId, now);
      return this.reject('handshake', pathId, s.id, 'reply signature invalid');
    }
    this.pending.delete(s.id);
    s.peerTag = msg.tag;
    s.peerIdentity = msg.identity;
    s.keys = deriveKeys(this.crypto, this.invite, p.ephemeral, msg.ephemeral, h2, true);
    s.state = 'established';
    s.lastReceiveAt = now;
    s.sendCommand({ type: 'hello', signature: signTranscript(this.crypto, 'i', h2, this.identity), name: this.name });
    this.announce(s);
    s.markValidated(pathId, now);
    s.returnPath = pathId;
    s.choosePath();
    this.emit({ type: 'handshake-done', session: s.id, initiator: true, peerIdentity: msg.identity, peerName: '' });
  }

  private readonly helloTranscripts = new Map<SessionId, Uint8Array>();

  private failHandshake(s: Session, code: HandshakeError['code'], pathId: PathId, now: number): void {
    this.pending.delete(s.id);
    s.close(code, now, false);
    this.sessions.delete(s.id);
    this.sessionOrderStale = true;
    this.emit({ type: 'handshake-failed', session: s.id, code, pathId });
  }

  private onCommand(s: Session, c: Command, path: PathState, now: number): void {
    if (s.state === 'awaiting-hello') {
      const h2 = this.helloTranscripts.get(s.id);
      if (c.type !== 'hello' || !h2 || !verifyTranscript(this.crypto, 'i', h2, c.signature, s.peerIdentity)) {
        throw new WireError('frame', 'first command is not a valid hello');
      }
      this.helloTranscripts.delete(s.id);
      s.state = 'established';
      s.peerName = c.name;
      s.markValidated(path.id, now);
      s.returnPath = path.id;
      s.sendCommand({ type: 'hello', signature: new Uint8Array(0), name: this.name });
      this.announce(s);
      s.choosePath();
      this.emit({ type: 'handshake-done', session: s.id, initiator: false, peerIdentity: s.peerIdentity, peerName: c.name });
      return;
    }
    switch (c.type) {
      case 'hello':
        // The responder's hello only carries its name (its identity was proven by the signed reply).
        if (s.initiator && !s.peerName) s.peerName = c.name;
        return;
      case 'stations': {
        const before = new Map(s.peerStations);
        s.peerStations.clear();
        for (const st of c.stations) s.peerStations.set(st.id, st.state);
        // Learn the remote station of paths that did not know it (the first path).
        const peerActive = c.stations.filter((x) => x.state === 'active');
        for (const p of s.pathStates()) {
          if (!p.relay && p.remoteStation === null && peerActive.length === 1 && before.size === 0) p.remoteStation = peerActive[0]!.id;
        }
        for (const [id] of before) {
          if (!s.peerStations.has(id)) {
            for (const p of s.pathStates()) if (!p.relay && p.remoteStation === id) s.closePath(p.id, 'peer-closed', now, false);
          }
          if (s.peerStations.get(id) !== 'active') this.abandonSetupsOn(s, id, 'peer station left', true);
        }
        this.wantPaths(s, now);
        s.choosePath();
        return;
      }
      case 'path-signal': {
        const mine = s.initiator ? c.offererStation : c.answererStation;
        const theirs = s.initiator ? c.answererStation : c.offererStation;
        const setup = s.setups.get(c.key);
        if (!setup) {
          if (s.initiator) return; // a late answer for a setup we abandoned
          if (this.stations.get(mine)?.state !== 'active' || c.key !== pathKey(theirs, mine)) {
            s.sendCommand({ type: 'path-close', key: c.key, reason: `station ${mine} is not active here` });
            return;
          }
          s.setups.set(c.key, { key: c.key, role: 'answerer', localStation: mine, remoteStation: theirs, startedAt: now });
        }
        this.emit({ type: 'path-signal', session: s.id, key: c.key, localStation: mine, remoteStation: theirs, data: c.data });
        return;
      }
      case 'path-close': {
        if (s.setups.delete(c.key)) this.emit({ type: 'path-abandoned', session: s.id, key: c.key, reason: c.reason });
        for (const p of s.pathStates()) if (p.key === c.key) s.closePath(p.id, 'peer-closed', now, false);
        return;
      }
    }
  }

  private reject(reason: RejectReason, pathId: PathId, session: SessionId | null, detail: string): void {
    this.counters.rejected[reason]++;
    this.emit({ type: 'packet-rejected', reason, pathId, session, detail });
  }

  private emit(e: Net2oEvent): void {
    if (e.type === 'failover') this.counters.failovers++;
    if (e.type === 'return-address-moved') this.counters.returnAddressMoves++;
    this.events.push(e);
  }

  // ------------------------------------------------------------------ outputs and timers

  pollEvent(): Net2oEvent | undefined {
    return this.events.shift();
  }

  /** The next datagram to send, round-robin over sessions. */
  pollTransmit(now: number): { pathId: PathId; data: Uint8Array } | null {
    const st = this.stateless.shift();
    if (st) return st;
    // A stable array, rebuilt only when sessions come or go: this runs once per packet sent.
    if (this.sessionOrderStale) {
      this.sessionOrder = [...this.sessions.values()];
      this.sessionOrderStale = false;
    }
    const list = this.sessionOrder;
    for (let i = 0; i < list.length; i++) {
      const s = list[(this.rr + i) % list.length]!;
      if (s.finalPacket) {
        const f = s.finalPacket;
        s.finalPacket = null;
        if (s.closeAfterFinal !== null) {
          this.closedPaths.push({ pathId: s.closeAfterFinal, session: s.id, reason: 'session-closed' });
          this.emit({ type: 'path-closed', session: s.id, pathId: s.closeAfterFinal, reason: 'session-closed' });
          s.closeAfterFinal = null;
        }
        return f;
      }
      const t = s.pollTransmit(now);
      if (t) {
        this.rr = (this.rr + i + 1) % list.length;
        return t;
      }
    }
    return null;
  }

  private sessionOrder: Session[] = [];
  /** Set whenever `sessions` changes membership (a delete plus a set keeps the size). */
  private sessionOrderStale = true;

  pollTimeout(): number {
    let t = Infinity;
    for (const s of this.sessions.values()) t = Math.min(t, s.nextTimeout());
    for (const p of this.pending.values())
      t = Math.min(t, p.lastSentAt + HANDSHAKE_RESEND_MS, p.startedAt + HANDSHAKE_TIMEOUT_MS, p.rejectedAt + REJECT_GRACE_MS);
    for (const st of this.stations.values()) t = Math.min(t, st.leaveAt);
    return t;
  }

  handleTimeout(now: number): void {
    for (const [id, p] of this.pending) {
      const s = this.sessions.get(id);
      if (!s) continue;
      if (now >= p.rejectedAt + REJECT_GRACE_MS) this.failHandshake(s, 'ERR_WRONG_SECRET', p.pathId, now);
      else if (now >= p.startedAt + HANDSHAKE_TIMEOUT_MS) this.failHandshake(s, 'ERR_HANDSHAKE_TIMEOUT', p.pathId, now);
      else if (now >= p.lastSentAt + HANDSHAKE_RESEND_MS) {
        p.lastSentAt = now;
        this.stateless.push({ pathId: p.pathId, data: p.initPacket });
      }
    }
    for (const [id, st] of [...this.stations]) {
      if (now >= st.leaveAt) {
        // Make before break: while some connection has no usable path on an active station yet, the old
        // station stays (bounded), so a slow setup or a crossed hop never leaves a session without a path.
        if (now < st.leaveStartedAt + MAX_OVERLAP_MS && this.established().some((s) => this.dependsOn(s, id))) {
          st.leaveAt = now + OVERLAP_RECHECK_MS;
          continue;
        }
        this.stations.delete(id);
        this.closeStationPaths(id, 'overlap-ended', now);
        for (const s of this.established()) this.announce(s);
      }
    }
    for (const s of [...this.sessions.values()]) {
      s.handleTimeout(now);
      if (s.state === 'closed' && !s.finalPacket) {
        this.sessions.delete(s.id);
        this.sessionOrderStale = true;
      }
    }
    for (const [k, a] of this.answered) if (now - a.at > HANDSHAKE_TIMEOUT_MS * 6) this.answered.delete(k);
    this.checkHopDone(now);
  }

  // ------------------------------------------------------------------ introspection

  debugTimers(): string {
    return [...this.sessions.values()].map((s) => s.debugTimers()).join(' ');
  }

  session(id: SessionId): Session | undefined {
    return this.sessions.get(id);
  }
}

/** The initiator's tag from an init body (offset: type, version, eI, idI), for the advisory reject. */
function tagOfInit(sealed: Uint8Array): number {
  const at = 2 + 32 + 32;
  if (sealed.length < at + 3) return 0;
  return sealed[at]! | (sealed[at + 1]! << 8) | (sealed[at + 2]! << 16);
}
