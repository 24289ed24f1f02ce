// One encrypted connection to one peer: packet protection, reliability, paths and the return address.
// Sans-IO: inputs take `now`; outputs are polled by the Node that owns it.
import { AckTracker } from './ack-tracker.ts';
import { Writer } from './bytes.ts';
import {
  FIRST_DATA_PACKET_NUMBER,
  KEEPALIVE_MS,
  MAC_SIZE,
  MAX_BODY_SIZE,
  MAX_IN_FLIGHT_BYTES,
  MAX_MESSAGE_SIZE,
  MAX_SEND_BUFFER_BYTES,
  PATH_CHALLENGE_SIZE,
  PATH_DEAD_MS,
  STREAM_COMMANDS,
  STREAM_MESSAGES,
  VALIDATION_RESEND_MS,
  VALIDATION_TIMEOUT_MS,
} from './constants.ts';
import { nonceFor, type Crypto } from './crypto.ts';
import { LocalProtocolError, WireError } from './errors.ts';
import type { Net2oEvent, PathCloseReason, PathId, SessionId } from './events.ts';
import { decodeCommand, decodeFrames, encodeCommand, encodeFrame, frameSize, isProbing, type Command, type Frame } from './frames.ts';
import type { SessionKeys } from './handshake.ts';
import { PathState } from './paths.ts';
import { ReplayWindow } from './replay.ts';
import { Recovery, type SentPacket } from './recovery.ts';
import type { RttEstimator } from './rtt.ts';
import { ReceiveStream, SendStream, type Chunk, type ReceiveStreamState, type SendStreamState } from './stream.ts';
import { packetSize, sizeExponentFor, writeHeader, type DecodedPacket } from './wire.ts';

/** What a session needs from its node: crypto, events, and the node's station table. */
export interface SessionContext {
  crypto: Crypto;
  emit(e: Net2oEvent): void;
  /** State of one of our own stations: attached and active, leaving (overlap), or gone. */
  stationState(id: string): 'active' | 'leaving' | undefined;
  /** Stations we are attached to and not leaving. */
  activeStations(): string[];
  /** Transport facts the runtime registered for a path id (stations, setup key). */
  pathInfo(id: PathId): { key: string | null; localStation: string | null; remoteStation: string | null; relay: boolean } | undefined;
  /** The path is gone: tell the runtime (through the node) to destroy it. */
  onPathClosed(session: SessionId, id: PathId, reason: PathCloseReason): void;
}

export interface SessionStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesDelivered: number;
  retransmittedChunks: number;
  lostPackets: number;
  duplicateChunks: number;
  returnAddressMoves: number;
  failovers: number;
  rejected: number;
}

export type SessionState = 'handshaking' | 'awaiting-hello' | 'established' | 'closed';

/**
 * Everything an established session needs to go on elsewhere (another tab): keys, packet numbers, the replay
 * window, the streams. Paths stay behind (they are the old host's transports). Structured-clone friendly.
 */
export interface SessionSnapshot {
  id: SessionId;
  initiator: boolean;
  peerTag: number;
  peerName: string;
  peerIdentity: Uint8Array;
  keys: SessionKeys;
  nextPn: number;
  largestReceived: number;
  replay: { last: number; ring: Uint32Array };
  acks: Array<[number, number]>;
  rtt: ReturnType<RttEstimator['exportState']>;
  cmdOut: SendStreamState;
  cmdIn: ReceiveStreamState;
  msgOut: SendStreamState;
  msgIn: ReceiveStreamState;
  peerStations: Array<[string, 'active' | 'leaving']>;
  stats: SessionStats;
}

type SetupRole = 'offerer' | 'answerer';
interface PathSetup {
  key: string;
  role: SetupRole;
  localStation: string;
  remoteStation: string;
  startedAt: number;
}

export class Session {
  state: SessionState;
  closeReason = '';
  peerTag = 0;
  peerName = '';
  peerIdentity: Uint8Array = new Uint8Array(0);
  keys: SessionKeys | null = null;

  readonly paths = new Map<PathId, PathState>();
  /** The path of the authentic, fresh packet with the highest packet number: where replies go. */
  returnPath: PathId | null = null;
  /** The path bulk traffic uses now (the return path, unless it is unusable or on a leaving station). */
  activePath: PathId | null = null;
  /** The peer's stations, from its last 'stations' command. */
  readonly peerStations = new Map<string, 'active' | 'leaving'>();
  readonly setups = new Map<string, PathSetup>();

  private nextPn = FIRST_DATA_PACKET_NUMBER;
  private largestReceived = -1;
  private readonly replay = new ReplayWindow();
  private readonly acks = new AckTracker();
  private readonly recovery = new Recovery();
  /** The session's RTT (every path keeps its own too). */
  get rtt(): RttEstimator {
    return this.recovery.rtt;
  }
  private readonly cmdOut = new SendStream(STREAM_COMMANDS);
  private readonly cmdIn = new ReceiveStream();
  private readonly msgOut = new SendStream(STREAM_MESSAGES);
  private readonly msgIn = new ReceiveStream();
  private wasBlocked = false;
  lastReceiveAt: number;
  private readonly nonce = new Uint8Array(12);

  readonly stats: SessionStats = {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    retransmittedChunks: 0,
    lostPackets: 0,
    duplicateChunks: 0,
    returnAddressMoves: 0,
    failovers: 0,
    rejected: 0,
  };

  constructor(
    readonly id: SessionId,
    readonly initiator: boolean,
    private readonly ctx: SessionContext,
    readonly idleTimeoutMs: number,
    now: number,
  ) {
    this.state = initiator ? 'handshaking' : 'awaiting-hello';
    this.lastReceiveAt = now;
  }

  // ---------------------------------------------------------------- application commands

  /** Queues one application message (reliable, ordered). Throws LocalProtocolError when it cannot. */
  send(data: Uint8Array): void {
    if (this.state === 'closed') throw new LocalProtocolError('ERR_SESSION_CLOSED', `session ${this.id} is closed`);
    if (data.length > MAX_MESSAGE_SIZE) throw new LocalProtocolError('ERR_MESSAGE_TOO_LARGE', `${data.length} bytes`);
    if (this.msgOut.buffered + data.length > MAX_SEND_BUFFER_BYTES) {
      this.wasBlocked = true;
      throw new LocalProtocolError('ERR_SEND_BUFFER_FULL', `${this.msgOut.buffered} bytes queued`);
    }
    this.msgOut.push(data.slice());
    this.stats.messagesSent++;
  }

  /** Bytes the application may still queue. */
  sendCapacity(): number {
    return Math.max(0, MAX_SEND_BUFFER_BYTES - this.msgOut.buffered);
  }

  /** Messages handed to send() and not yet acknowledged by the peer. */
  get unacknowledgedMessages(): number {
    return this.msgOut.unackedMessages;
  }

  sendCommand(c: Command): void {
    if (this.state === 'closed') return;
    this.cmdOut.push(encodeCommand(c));
  }

  // ---------------------------------------------------------------- paths

  addPath(id: PathId, now: number): PathState {
    let p = this.paths.get(id);
    const info = this.ctx.pathInfo(id);
    if (p && !p.closed) {
      // Packets may arrive before the runtime registered the transport: learn its stations now.
      if (info && !p.registered) {
        p.registered = true;
        p.key = info.key ?? p.key;
        p.localStation = info.localStation ?? p.localStation;
        p.remoteStation = info.remoteStation ?? p.remoteStation;
      }
      return p;
    }
    p = new PathState(id, info?.key ?? null, info?.localStation ?? null, info?.remoteStation ?? null, now, info !== undefined, info?.relay ?? false);
    this.paths.set(id, p);
    this.ctx.emit({ type: 'path-added', session: this.id, pathId: id, key: p.key });
    if (this.state === 'established') this.startValidation(p, now);
    return p;
  }

  /** The first path: the handshake proved both ends reach each other on it. */
  markValidated(id: PathId, now: number): void {
    const p = this.paths.get(id) ?? this.addPath(id, now);
    if (p.validated) return;
    p.validated = true;
    p.validatedAt = now;
    p.challenge = null;
    this.ctx.emit({ type: 'path-validated', session: this.id, pathId: id, rttMs: p.rtt.smoothed });
  }

  closePath(id: PathId, reason: PathCloseReason, now: number, tellPeer: boolean): void {
    const p = this.paths.get(id);
    if (!p || p.closed) return;
    p.closed = true;
    this.paths.delete(id);
    if (p.key) this.setups.delete(p.key);
    if (tellPeer && p.key && this.state === 'established') this.sendCommand({ type: 'path-close', key: p.key, reason });
    // Whatever was in flight there is presumed lost and goes out again on another path.
    this.requeueInFlight((s) => s.pathId === id);
    if (this.returnPath === id) this.returnPath = null;
    this.ctx.onPathClosed(this.id, id, reason);
    this.choosePath();
  }

  private startValidation(p: PathState, now: number): void {
    if (p.validated || p.challenge || p.relay) return;
    p.challenge = this.ctx.crypto.randomBytes(PATH_CHALLENGE_SIZE);
    p.challengeStartedAt = now;
    p.challengeSentAt = -Infinity;
  }

  /** Picks the path for bulk traffic; emits path-promoted when it changes. */
  choosePath(): void {
    const preferred = (p: PathState): boolean =>
      p.usable &&
      (p.localStation === null || this.ctx.stationState(p.localStation) === 'active') &&
      (p.remoteStation === null || this.peerStations.get(p.remoteStation) !== 'leaving');
    const ret = this.returnPath !== null ? this.paths.get(this.returnPath) : undefined;
    let best: PathState | undefined;
    if (ret && preferred(ret)) best = ret;
    else {
      for (const p of this.paths.values()) if (preferred(p) && (!best || p.lastReceiveAt > best.lastReceiveAt)) best = p;
      if (!best && ret && ret.usable) best = ret;
      if (!best) for (const p of this.paths.values()) if (p.usable && (!best || p.lastReceiveAt > best.lastReceiveAt)) best = p;
    }
    const next = best?.id ?? null;
    if (next !== this.activePath) {
      const from = this.activePath;
      this.activePath = next;
      if (next !== null) {
        this.ctx.emit({ type: 'path-promoted', session: this.id, pathId: next, from });
        // A new path carries a ping at once, so the peer's return address follows without waiting for data.
        this.paths.get(next)!.pingWanted = true;
      }
    }
  }

  // ---------------------------------------------------------------- receiving

  /** Handles an encrypted packet already demultiplexed to this session. Returns a reject reason or null. */
  receive(pkt: DecodedPacket, pathId: PathId, size: number, now: number): { reason: 'replay' | 'tag' | 'malformed'; detail: string } | null {
    if (!this.keys || this.state === 'closed') return { reason: 'tag', detail: 'no keys' };
    const pn = pkt.packetNumber;
    if (pn < FIRST_DATA_PACKET_NUMBER || !this.replay.check(pn)) return { reason: 'replay', detail: `packet ${pn}` };
    const plain = this.ctx.crypto.open(this.keys.receive, nonceFor(pn, this.nonce), pkt.sealed, pkt.ad);
    if (!plain) return { reason: 'tag', detail: `packet ${pn} failed authentication` };
    // Authentic. Only now may the packet change state (wireguard-go: endpoint update after decrypt + replay).
    this.replay.update(pn);
    let frames: Frame[];
    try {
      frames = decodeFrames(plain);
    } catch (e) {
      return { reason: 'malformed', detail: e instanceof WireError ? e.message : String(e) };
    }
    this.lastReceiveAt = now;
    this.stats.packetsReceived++;
    this.stats.bytesReceived += size;
    const path = this.paths.get(pathId) ?? this.addPath(pathId, now);
    path.bytesReceived += size;
    // The peer's end just proved open: a challenge sent before that may have been dropped, resend it now.
    if (path.packetsReceived === 0 && path.challenge) path.challengeResendNow = true;
    path.packetsReceived++;
    path.lastReceiveAt = now;
    if (path.suspected) this.recover(path);
    if (this.state === 'established' && !path.validated) this.startValidation(path, now);

    // Return-address rule: only the highest packet number moves it (Mosh/WireGuard/QUIC), and only a packet
    // that is not merely probing the path (keepalives and validation on backup paths leave it alone).
    if (pn > this.largestReceived) {
      this.largestReceived = pn;
      if (this.returnPath !== pathId && !path.relay && !frames.every(isProbing)) {
        // A path our runtime opened moves it at once; one that merely appeared (a packet raced in from an
        // unknown transport) must pass validation first, or an on-path attacker could redirect replies.
        if (path.registered || path.validated) this.moveReturnAddress(pathId, pn);
        else path.pendingReturn = pn;
      }
    }

    let ackEliciting = false;
    try {
      for (const f of frames) {
        if (f.type !== 'ack') ackEliciting = true;
        this.onFrame(f, path, now);
      }
    } catch (e) {
      if (e instanceof WireError) return { reason: 'malformed', detail: e.message };
      throw e;
    }
    this.acks.onReceived(pn, ackEliciting, now);
    if (frames.some((f) => f.type === 'ping' || f.type === 'probe' || f.type === 'path-challenge')) this.acks.ackNow(now);
    this.choosePath();
    return null;
  }

  private hasUsablePath(): boolean {
    for (const p of this.paths.values()) if (p.usable) return true;
    return false;
  }

  private moveReturnAddress(pathId: PathId, pn: number): void {
    const from = this.returnPath;
    this.returnPath = pathId;
    this.stats.returnAddressMoves++;
    this.ctx.emit({ type: 'return-address-moved', session: this.id, from, to: pathId, packetNumber: pn });
  }

  private onFrame(f: Frame, path: PathState, now: number): void {
    switch (f.type) {
      case 'ping':
      case 'probe':
        return;
      case 'ack':
        this.onAck(f.ranges, f.delayMs, now);
        return;
      case 'stream': {
        const inbound = f.stream === STREAM_COMMANDS ? this.cmdIn : f.stream === STREAM_MESSAGES ? this.msgIn : null;
        if (!inbound) throw new WireError('frame', `stream ${f.stream}`);
        const before = inbound.duplicates;
        const done = inbound.onChunk(f);
        this.stats.duplicateChunks += inbound.duplicates - before;
        for (const m of done) {
          if (f.stream === STREAM_MESSAGES) {
            this.stats.messagesDelivered++;
            this.ctx.emit({ type: 'message', session: this.id, data: m });
          } else this.onCommand(decodeCommand(m), path, now);
        }
        return;
      }
      case 'path-challenge':
        if (path.responses.length < 4) path.responses.push(f.data.slice());
        return;
      case 'path-response':
        if (path.challenge && equal8(path.challenge, f.data)) {
          path.rtt.update(now - path.challengeSentAt);
          path.challenge = null;
          path.validated = true;
          path.validatedAt = now;
          if (path.key) this.setups.delete(path.key); // setup complete
          if (path.pendingReturn === this.largestReceived && this.returnPath !== path.id) this.moveReturnAddress(path.id, path.pendingReturn);
          this.ctx.emit({ type: 'path-validated', session: this.id, pathId: path.id, rttMs: path.rtt.smoothed });
          // If it becomes the active path, choosePath() pings on it: that ping moves the peer's return address.
        }
        return;
      case 'close':
        this.close(`peer closed: ${f.reason}`, now, false);
        return;
    }
  }

  /** Commands are handled by the node (hello, stations, path setup); it registers this hook. */
  onCommand: (c: Command, path: PathState, now: number) => void = () => {};

  private onAck(ranges: Array<[number, number]>, ackDelayMs: number, now: number): void {
    if (ranges[0]![1] >= this.nextPn) throw new WireError('frame', `ack for unsent packet ${ranges[0]![1]}`);
    const { acked, lost, rttSample } = this.recovery.onAck(ranges, ackDelayMs, now);
    if (rttSample) this.paths.get(rttSample.packet.pathId)?.rtt.update(rttSample.sampleMs, rttSample.ackDelayMs);
    for (const s of acked) {
      for (const c of s.chunks) (c.stream === STREAM_COMMANDS ? this.cmdOut : this.msgOut).onAcked(c);
      const p = this.paths.get(s.pathId);
      if (p) {
        p.lastAckAt = now;
        if (p.suspected) this.recover(p);
      }
    }
    this.requeue(lost);
  }

  /** Lost packets' data goes out again, in new packets (never the same packet number twice). */
  private requeue(lost: SentPacket[]): number {
    for (const s of lost) {
      this.stats.lostPackets++;
      for (const c of s.chunks) {
        (c.stream === STREAM_COMMANDS ? this.cmdOut : this.msgOut).onLost(c);
        this.stats.retransmittedChunks++;
      }
    }
    return lost.length;
  }

  private requeueInFlight(which: (s: SentPacket) => boolean): number {
    return this.requeue(this.recovery.take(which));
  }

  private recover(p: PathState): void {
    p.suspected = false;
    this.ctx.emit({ type: 'path-recovered', session: this.id, pathId: p.id });
  }

  // ---------------------------------------------------------------- timers

  /** The earliest moment handleTimeout must run, or Infinity. */
  nextTimeout(): number {
    if (this.state === 'closed') return Infinity;
    let t = this.lastReceiveAt + this.idleTimeoutMs;
    if (this.state !== 'established') return t;
    // An ack waits for a path to carry it; with none, for the relay's pacing.
    if (this.activePath !== null) t = Math.min(t, this.acks.deadline);
    else if (this.relayPath() && (this.cmdOut.hasPending || this.acks.pending)) t = Math.min(t, Math.max(this.lastRelaySendAt + RELAY_INTERVAL_MS, this.relayGraceEnd()));
    t = Math.min(t, this.recovery.lossTime, this.recovery.ptoDeadline());
    const anyUsable = this.hasUsablePath();
    for (const p of this.paths.values()) {
      if (p.challenge)
        t = Math.min(t, p.challengeSentAt + VALIDATION_RESEND_MS, p.challengeStartedAt + VALIDATION_TIMEOUT_MS);
      if (p.suspected) {
        if (anyUsable) t = Math.min(t, p.suspectedAt + PATH_DEAD_MS);
      } else if (p.validated) {
        const oldest = this.oldestInFlight(p.id);
        if (oldest !== null) t = Math.min(t, oldest + p.livenessTimeout());
      }
      t = Math.min(t, this.keepaliveAt(p));
    }
    return t;
  }

  /** When path p needs a keepalive probe: idle validated paths, and suspected ones (to notice recovery). */
  private keepaliveAt(p: PathState): number {
    if (!p.validated || p.closed || p.relay) return Infinity;
    if (!p.suspected && this.oldestInFlight(p.id) !== null) return Infinity; // in-flight data tests it already
    return p.lastAckElicitingSentAt + KEEPALIVE_MS;
  }

  private oldestInFlight(pathId: PathId): number | null {
    return this.recovery.oldestInFlight(pathId);
  }

  handleTimeout(now: number): void {
    if (this.state === 'closed') return;
    if (now >= this.lastReceiveAt + this.idleTimeoutMs) {
      this.close(`idle for ${this.idleTimeoutMs} ms`, now, true);
      return;
    }
    if (this.state !== 'established') return;
    if (now >= this.recovery.lossTime) this.requeue(this.recovery.detectLoss(now));
    for (const p of [...this.paths.values()]) {
      if (p.challenge && now >= p.challengeStartedAt + VALIDATION_TIMEOUT_MS) {
        this.closePath(p.id, 'validation-failed', now, true);
        continue;
      }
      // A long-silent path is closed only while another carries the session: the last one is kept and probed,
      // so the session resumes on it if its station comes back before the idle timeout.
      if (p.suspected && now >= p.suspectedAt + PATH_DEAD_MS && this.hasUsablePath()) {
        this.closePath(p.id, 'dead', now, true);
        continue;
      }
      if (!p.suspected && p.validated) {
        const oldest = this.oldestInFlight(p.id);
        if (oldest !== null && now >= oldest + p.livenessTimeout()) this.suspect(p, now - oldest, now);
      }
    }
    if (now >= this.recovery.ptoDeadline()) {
      // Probe: resend the oldest unacknowledged packet's data in a new packet, and ask for an ack.
      const oldest = this.recovery.onPto(now);
      if (oldest) this.requeue([oldest]);
      const p = this.activePath !== null ? this.paths.get(this.activePath) : undefined;
      if (p) p.pingWanted = true;
    }
  }

  private suspect(p: PathState, silentMs: number, now: number): void {
    p.suspected = true;
    p.suspectedAt = now;
    this.ctx.emit({ type: 'path-suspected', session: this.id, pathId: p.id, silentMs });
    const resent = this.requeueInFlight((s) => s.pathId === p.id);
    const from = this.activePath;
    this.choosePath();
    if (from === p.id && this.activePath !== null && this.activePath !== p.id) {
      this.stats.failovers++;
      this.ctx.emit({ type: 'failover', session: this.id, from: p.id, to: this.activePath, resentPackets: resent });
    }
  }

  // ---------------------------------------------------------------- sending

  /** Builds the next packet to send, or null. Path-specific frames first, then bulk on the active path. */
  pollTransmit(now: number): { pathId: PathId; data: Uint8Array } | null {
    if (this.state !== 'established' || !this.keys) return null;
    for (const p of this.paths.values()) {
      if (p.relay) continue;
      const challengeDue = p.challenge !== null && (p.challengeResendNow || now >= p.challengeSentAt + VALIDATION_RESEND_MS);
      const keepaliveDue = now >= this.keepaliveAt(p);
      if (p.responses.length === 0 && !challengeDue && !p.pingWanted && !keepaliveDue) continue;
      if (p.id === this.activePath && !challengeDue && p.responses.length === 0) continue; // goes with bulk below
      const frames: Frame[] = [];
      for (const r of p.responses.splice(0)) frames.push({ type: 'path-response', data: r });
      if (challengeDue && p.challenge) {
        frames.push({ type: 'path-challenge', data: p.challenge });
        p.challengeSentAt = now;
        p.challengeResendNow = false;
      }
      // The hop's ping must move the peer's return address; keepalives must not.
      if (p.pingWanted) frames.push({ type: 'ping' });
      else if (keepaliveDue || frames.length === 0) frames.push({ type: 'probe' });
      p.pingWanted = false;
      if (this.acks.pending) frames.push(this.ackFrame(now)!);
      const pkt = this.seal(frames, [], p, now);
      if (pkt) return pkt;
    }
    const active = this.activePath !== null ? this.paths.get(this.activePath) : undefined;
    if (!active) return this.pollRelay(now);
    const frames: Frame[] = [];
    let used = 0;
    if (this.acks.deadline <= now) {
      const a = this.ackFrame(now)!;
      frames.push(a);
      used += frameSize(a);
    }
    const keepaliveDue = now >= this.keepaliveAt(active);
    if (active.pingWanted || keepaliveDue) {
      frames.push({ type: 'ping' });
      used += 1;
      active.pingWanted = false;
    }
    const chunks: Chunk[] = [];
    const windowOpen = this.recovery.bytesInFlight < MAX_IN_FLIGHT_BYTES;
    if (windowOpen) {
      for (const out of [this.cmdOut, this.msgOut]) {
        while (out.hasPending) {
          const room = MAX_BODY_SIZE - used - STREAM_FRAME_OVERHEAD;
          const c = out.nextChunk(room);
          if (!c) break;
          chunks.push(c);
          used += STREAM_FRAME_OVERHEAD + c.data.length;
        }
      }
    }
    if (frames.length === 0 && chunks.length === 0) return null;
    return this.seal(frames, chunks, active, now);
  }

  /**
   * Recovery with no path left: the command stream (stations, path setup) and acks go through the signaling
   * server's relay, paced to its rate limit. Application messages wait in the send buffer for a real path.
   */
  private pollRelay(now: number): { pathId: PathId; data: Uint8Array } | null {
    const relay = this.relayPath();
    if (!relay || now < this.lastRelaySendAt + RELAY_INTERVAL_MS || !this.relayWanted(now)) return null;
    if (!this.cmdOut.hasPending && !this.acks.pending) return null;
    const frames: Frame[] = [];
    let used = 0;
    if (this.acks.pending) {
      const a = this.ackFrame(now)!;
      frames.push(a);
      used += frameSize(a);
    }
    const chunks: Chunk[] = [];
    while (this.cmdOut.hasPending) {
      const c = this.cmdOut.nextChunk(RELAY_MAX_BODY - used - STREAM_FRAME_OVERHEAD);
      if (!c) break;
      chunks.push(c);
      used += STREAM_FRAME_OVERHEAD + c.data.length;
    }
    if (frames.length === 0 && chunks.length === 0) return null;
    this.lastRelaySendAt = now;
    return this.seal(frames, chunks, relay, now);
  }

  /**
   * Recovery is for when no path is left: every path closed, or every one silent (suspected) for
   * RELAY_GRACE_MS. A path that is merely slow for a moment, as during a hop on a busy machine, is not "none".
   */
  relayWanted(now: number): boolean {
    if (this.state !== 'established' || this.activePath !== null) return false;
    let since = -Infinity;
    for (const p of this.paths.values()) {
      if (p.relay || p.closed) continue;
      // A path being validated will work (or fail) within VALIDATION_TIMEOUT_MS: wait for it.
      if (!p.validated) {
        if (p.challenge) return false;
        continue;
      }
      if (!p.suspected) return false;
      since = Math.max(since, p.suspectedAt);
    }
    return now >= since + RELAY_GRACE_MS;
  }

  private relayPath(): PathState | undefined {
    for (const p of this.paths.values()) if (p.relay && !p.closed) return p;
    return undefined;
  }

  private lastRelaySendAt = -Infinity;

  /** When relayWanted() turns true if nothing changes (a working path: never by itself). */
  private relayGraceEnd(): number {
    let since = -Infinity;
    for (const p of this.paths.values()) {
      if (p.relay || p.closed) continue;
      if (!p.validated) {
        if (p.challenge) return Infinity; // validation ends by success or its own timeout
        continue;
      }
      if (!p.suspected) return Infinity;
      since = Math.max(since, p.suspectedAt);
    }
    return since + RELAY_GRACE_MS;
  }

  private ackFrame(now: number): Frame | null {
    const a = this.acks.take(now);
    return a ? { type: 'ack', ranges: a.ranges, delayMs: a.delayMs } : null;
  }

  private seal(frames: Frame[], chunks: Chunk[], p: PathState, now: number): { pathId: PathId; data: Uint8Array } | null {
    const w = new Writer(1024);
    for (const f of frames) encodeFrame(w, f);
    for (const c of chunks) encodeFrame(w, { type: 'stream', ...c });
    const e = sizeExponentFor(w.len);
    if (e < 0) throw new Error(`packet body of ${w.len} bytes`); // our own packer's bug, not the peer's
    const size = packetSize(e);
    if (size > p.amplificationBudget()) {
      // Unvalidated path: keep what we could not send (responses are cheap to recreate; chunks go back).
      for (const c of chunks) (c.stream === STREAM_COMMANDS ? this.cmdOut : this.msgOut).onLost(c);
      return null;
    }
    const body = new Uint8Array(64 << e);
    body.set(w.finish());
    const pn = this.nextPn++;
    const out = new Uint8Array(size);
    const ad = writeHeader(out, { qos: 0, sizeExponent: e, tags: 0, connectionTag: this.peerTag, packetNumber: pn });
    const sealed = this.ctx.crypto.seal(this.keys!.send, nonceFor(pn, this.nonce), body, ad);
    out.set(sealed, size - body.length - MAC_SIZE);
    const ackEliciting = chunks.length > 0 || frames.some((f) => f.type !== 'ack');
    if (ackEliciting) {
      this.recovery.onSent({ pn, time: now, pathId: p.id, size, ackEliciting, chunks });
      p.lastAckElicitingSentAt = now;
    }
    p.bytesSent += size;
    p.packetsSent++;
    this.stats.packetsSent++;
    this.stats.bytesSent += size;
    if (this.wasBlocked && this.msgOut.buffered < MAX_SEND_BUFFER_BYTES / 2) {
      this.wasBlocked = false;
      this.ctx.emit({ type: 'writable', session: this.id });
    }
    return { pathId: p.id, data: out };
  }

  // ---------------------------------------------------------------- closing

  close(reason: string, now: number, tellPeer: boolean): void {
    if (this.state === 'closed') return;
    if (tellPeer && this.keys && this.state === 'established' && this.activePath !== null) {
      const p = this.paths.get(this.activePath);
      const pkt = p ? this.seal([{ type: 'close', reason }], [], p, now) : null;
      if (pkt) this.finalPacket = pkt;
    }
    this.state = 'closed';
    this.closeReason = reason;
    for (const id of [...this.paths.keys()]) {
      const p = this.paths.get(id)!;
      p.closed = true;
      this.paths.delete(id);
      if (this.finalPacket?.pathId !== id) this.ctx.onPathClosed(this.id, id, 'session-closed');
      else this.closeAfterFinal = id;
    }
    this.ctx.emit({ type: 'session-closed', session: this.id, reason });
  }
  /** A CLOSE packet still to be flushed after the session closed. */
  finalPacket: { pathId: PathId; data: Uint8Array } | null = null;
  closeAfterFinal: PathId | null = null;

  // ---------------------------------------------------------------- moving to another host

  /**
   * Hands the session over: everything in flight is requeued (the new owner resends it under new packet
   * numbers), and this copy never sends again. Packet numbers continue from `nextPn` at the new owner, so no
   * nonce is ever used twice.
   */
  exportForMove(): SessionSnapshot {
    if (this.state !== 'established' || !this.keys) throw new LocalProtocolError('ERR_NOT_ESTABLISHED', `session ${this.id} is ${this.state}`);
    this.requeueInFlight(() => true);
    const snap: SessionSnapshot = {
      id: this.id,
      initiator: this.initiator,
      peerTag: this.peerTag,
      peerName: this.peerName,
      peerIdentity: this.peerIdentity.slice(),
      keys: { send: this.keys.send.slice(), receive: this.keys.receive.slice() },
      nextPn: this.nextPn,
      largestReceived: this.largestReceived,
      replay: this.replay.exportState(),
      acks: this.acks.exportState(),
      rtt: this.rtt.exportState(),
      cmdOut: this.cmdOut.exportState(),
      cmdIn: this.cmdIn.exportState(),
      msgOut: this.msgOut.exportState(),
      msgIn: this.msgIn.exportState(),
      peerStations: [...this.peerStations],
      stats: { ...this.stats },
    };
    return snap;
  }

  /** Retires this copy after a move: it sends nothing more, not even a CLOSE (the session lives on elsewhere). */
  retire(): void {
    this.keys = null;
    this.state = 'closed';
    this.closeReason = 'moved';
    this.recovery.clear();
    this.paths.clear();
  }

  importSnapshot(snap: SessionSnapshot, now: number): void {
    this.state = 'established';
    this.peerTag = snap.peerTag;
    this.peerName = snap.peerName;
    this.peerIdentity = snap.peerIdentity.slice();
    this.keys = { send: snap.keys.send.slice(), receive: snap.keys.receive.slice() };
    this.nextPn = snap.nextPn;
    this.largestReceived = snap.largestReceived;
    this.replay.importState(snap.replay);
    this.acks.importState(snap.acks, now);
    this.rtt.importState(snap.rtt);
    this.cmdOut.importState(snap.cmdOut);
    this.cmdIn.importState(snap.cmdIn);
    this.msgOut.importState(snap.msgOut);
    this.msgIn.importState(snap.msgIn);
    this.peerStations.clear();
    for (const [k, v] of snap.peerStations) this.peerStations.set(k, v);
    Object.assign(this.stats, snap.stats);
    this.lastReceiveAt = now;
  }

  // ---------------------------------------------------------------- introspection

  debugTimers(): string {
    const paths = [...this.paths.values()].map(
      (p) => `${p.id}:${p.phase}:ch=${p.challengeSentAt}:ka=${p.lastAckElicitingSentAt}:old=${this.oldestInFlight(p.id)}`,
    );
    return `s${this.id}[${this.state} ack=${this.acks.deadline} loss=${this.recovery.lossTime} pto=${this.recovery.ptoDeadline()} active=${this.activePath} ${paths.join(',')}]`;
  }

  pathStates(): PathState[] {
    return [...this.paths.values()];
  }
  get inFlight(): number {
    return this.recovery.bytesInFlight;
  }
  get largestReceivedPacket(): number {
    return this.largestReceived;
  }
  get nextPacketNumber(): number {
    return this.nextPn;
  }
}

/** A relay packet may be as large as any (16 KiB body: 22 KiB in base64, under the signaling server's 64 KiB
 * frame limit), so a command chunk cut for a real path always fits. */
const RELAY_MAX_BODY = MAX_BODY_SIZE;
/** At most one relay packet per this interval: the signaling server allows 50 messages a second. */
const RELAY_INTERVAL_MS = 25;
/** Paths silent this long (all suspected) count as gone: recovery through the relay may begin. */
const RELAY_GRACE_MS = 1_000;

/** type ‖ stream ‖ seq ‖ offset ‖ fin ‖ length: at most 1 + 8 + 8 + 8 + 1 + 4 bytes. */
const STREAM_FRAME_OVERHEAD = 30;

function equal8(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < PATH_CHALLENGE_SIZE; i++) if (a[i] !== b[i]) return false;
  return true;
}
