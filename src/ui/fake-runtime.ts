// A deterministic stand-in for the real runtime: two peers, three stations, paths that change on a hop, counters
// that grow, attacks that are rejected. Time moves only through advance(ms), so unit tests control it exactly; the
// preview page drives it from a real interval (startFakeClock). No WebRTC, no crypto, no randomness beyond a
// seeded generator.

import type { MoveProgress } from '../runtime/move.ts';
import type {
  AttackKind,
  AttackResult,
  LogEntry,
  PathView,
  PeerView,
  RuntimeApi,
  RuntimeSnapshot,
  StationView,
  WireSighting,
} from '../runtime/api.ts';

/** How long a new path takes to validate (measured first data-channel open: ~70–230 ms, DESIGN §5). */
export const FAKE_VALIDATION_MS = 130;
/** How long the session takes to notice a dead path and fail over ("well under a second"). */
export const FAKE_FAILOVER_MS = 300;
/** One simulation step: messages, deliveries and scheduled events are resolved at this granularity. */
export const FAKE_STEP_MS = 10;
export const FAKE_LOG_LIMIT = 500;
export const FAKE_WIRE_LIMIT = 200;
export const FAKE_CHAT_LIMIT = 200;
/** One-way delay through each station (ms); a path costs both ends' stations. */
const STATION_DELAY_MS: Record<string, number> = { 'cell-a': 21, 'cell-b': 27, wifi: 6 };

export interface FakeRuntimeOptions {
  /** Messages per second at start (0 = no stream). */
  streaming?: number;
  overlapMs?: number;
  seed?: number;
  room?: string;
}

interface FakePeer {
  view: PeerView;
  remoteStation: string;
  /** Messages the peer has sent that are not delivered yet (no usable path): delivered on failover. */
  queued: number[];
  lastDeliveryAt: number | null;
  streamCredit: number;
}

interface Task {
  at: number;
  seq: number;
  run: () => void;
}

type ChatLine = { at: number; from: string; text: string; mine: boolean };

export class FakeRuntime implements RuntimeApi {
  private t = 0;
  private seq = 0;
  private nextPathId = 1;
  private rng: number;
  private overlap: number;
  private streamRate: number;
  private ownCredit = 0;
  private signaling: RuntimeSnapshot['signaling'] = 'connected';
  private readonly room: string;
  private readonly stations: StationView[];
  private readonly peers: FakePeer[];
  private readonly tasks: Task[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly logEntries: LogEntry[] = [];
  private readonly sightings: WireSighting[] = [];
  private readonly chatLines: ChatLine[] = [];
  private ownPacketNumber = 1;
  private dirty = false;
  private inAdvance = false;

  constructor(opts: FakeRuntimeOptions = {}) {
    this.rng = opts.seed ?? 1;
    this.overlap = opts.overlapMs ?? 500;
    this.streamRate = opts.streaming ?? 0;
    this.room = opts.room ?? 'demo-room';
    const ice = (port: number) => ({ urls: `turn:127.0.0.1:${port}?transport=udp`, username: 'u', credential: 'p' });
    this.stations = [
      { id: 'cell-a', label: 'Cell A', iceServer: ice(3478), up: true, kind: 'embedded', attachment: 'active' },
      { id: 'cell-b', label: 'Cell B', iceServer: ice(3479), up: true, kind: 'embedded', attachment: 'detached' },
      { id: 'wifi', label: 'Wi-Fi', iceServer: ice(3480), up: true, kind: 'embedded', attachment: 'detached' },
    ];
    this.peers = [
      this.makePeer('peer-bob', 'Bob', 'b0b5:1e7f:9a02:c4d1', 0x3a7f01, 0x51c2e4, 'wifi'),
      this.makePeer('peer-carol', 'Carol', 'ca20:77d3:0be8:4f16', 0x3a7f02, 0x7e0913, 'cell-b'),
    ];
    for (const p of this.peers) {
      const path = this.addPath(p, 'cell-a', 'validated');
      path.isActive = true;
      path.isReturn = true;
    }
    this.logAt('runtime', 'node started, attached to Cell A');
    this.logAt('signaling', `joined room ${this.room}`);
    for (const p of this.peers) {
      this.logAt('handshake-done', `session with ${p.view.name} established (tag ${p.view.connectionTag})`, p.view.peerId);
    }
  }

  // ---- clock -----------------------------------------------------------------------------------------------

  /** The fake's clock (ms); log and wire timestamps use it. */
  now(): number {
    return this.t;
  }

  /** Runs the simulation forward by `ms`, then notifies subscribers once if anything changed. */
  advance(ms: number): void {
    const end = this.t + Math.max(0, ms);
    this.inAdvance = true;
    try {
      while (this.t < end) {
        const step = Math.min(FAKE_STEP_MS, end - this.t);
        this.t += step;
        this.runDueTasks();
        this.streamStep(step);
      }
      this.runDueTasks();
    } finally {
      this.inAdvance = false;
    }
    this.flushNotify();
  }

  // ---- RuntimeApi: reads -------------------------------------------------------------------------------------

  snapshot(): RuntimeSnapshot {
    return {
      nodeId: 'node-alice',
      name: 'Alice',
      fingerprint: 'a11c:e5f0:83d2:9c4b',
      room: this.room,
      signaling: this.signaling,
      mode: 'node',
      move: { ...this.move },
      stations: this.stations.map((s) => ({ ...s, iceServer: { ...s.iceServer } })),
      peers: this.peers.map((p) => ({
        ...p.view,
        recovering: !p.view.paths.some((path) => path.phase === 'validated'),
        paths: p.view.paths.map((path) => ({ ...path })),
        stats: { ...p.view.stats },
      })),
      streaming: this.streamRate,
    };
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  log(): readonly LogEntry[] {
    return this.logEntries.slice();
  }

  wire(): readonly WireSighting[] {
    return this.sightings.slice();
  }

  chat(): readonly ChatLine[] {
    return this.chatLines.slice();
  }

  inviteLink(): string {
    return `http://127.0.0.1:5173/#room=${this.room}&invite=Vq3xN0p7cS2yXo8LrWm4dA`;
  }

  overlapMs(): number {
    return this.overlap;
  }

  // ---- RuntimeApi: actions -----------------------------------------------------------------------------------

  async attach(stationId: string): Promise<void> {
    const st = this.station(stationId);
    if (!st.up) throw new Error(`${st.label} is down`);
    if (st.attachment === 'active') return;
    st.attachment = 'active';
    this.logAt('runtime', `attached to ${st.label}`);
    await this.buildPaths(stationId, false);
  }

  async detach(stationId: string, opts: { abrupt?: boolean } = {}): Promise<void> {
    const st = this.station(stationId);
    if (st.attachment === 'detached') return;
    if (opts.abrupt) {
      this.loseStation(st, `lost coverage of ${st.label}`);
      return;
    }
    st.attachment = 'detached';
    for (const p of this.peers) {
      const leaving = p.view.paths.filter((path) => path.localStation === stationId);
      const wasActive = leaving.some((path) => path.isActive);
      for (const path of leaving) this.closePath(p, path, 'overlap-ended');
      if (wasActive) this.promoteBest(p, 'path-promoted');
    }
    this.logAt('runtime', `detached from ${st.label}`);
    this.changed();
  }

  hop(stationId: string): Promise<void> {
    const st = this.station(stationId);
    if (!st.up) return Promise.reject(new Error(`${st.label} is down`));
    const leaving = this.stations.filter((s) => s.attachment === 'active' && s.id !== stationId);
    if (st.attachment === 'active' && leaving.length === 0) return Promise.resolve();
    const started = this.t;
    const alreadyAttached = st.attachment === 'active';
    this.logAt('hop-started', `hop to ${st.label}, leaving ${leaving.map((s) => s.label).join(', ') || 'nothing'}`);
    st.attachment = 'active';
    for (const s of leaving) s.attachment = 'leaving';
    this.logAt('ping-all', `ping all ${this.peers.length} sessions from ${st.label}`);
    if (alreadyAttached) {
      for (const p of this.peers) {
        const here = p.view.paths.find((x) => x.localStation === stationId && x.phase === 'validated');
        if (here) this.promote(p, here);
      }
    } else {
      void this.buildPaths(stationId, true);
    }
    this.changed();
    return new Promise((done) => {
      // Make-before-break: the old stations stay usable for the overlap, and at least until the new path works.
      this.at(Math.max(this.overlap, FAKE_VALIDATION_MS + FAKE_STEP_MS), () => {
        for (const s of leaving) {
          if (s.attachment !== 'leaving') continue;
          s.attachment = 'detached';
          for (const p of this.peers) {
            for (const path of p.view.paths.filter((x) => x.localStation === s.id)) this.closePath(p, path, 'overlap-ended');
          }
        }
        for (const p of this.peers) p.view.hopsSurvived++;
        this.logAt('hop-finished', `hop to ${st.label} finished in ${Math.round(this.t - started)} ms`);
        this.changed();
        done();
      });
    });
  }

  setOverlapMs(ms: number): void {
    this.overlap = Math.max(0, Math.round(ms));
    this.changed();
  }

  async stationAdmin(stationId: string, action: 'down' | 'up'): Promise<void> {
    const st = this.station(stationId);
    if (action === 'down') {
      if (!st.up) return;
      st.up = false;
      this.logAt('runtime', `${st.label} taken down (simulated outage)`);
      if (st.attachment !== 'detached') this.loseStation(st, `${st.label} went silent`);
    } else {
      if (st.up) return;
      st.up = true;
      this.logAt('runtime', `${st.label} is back up`);
    }
    this.changed();
  }

  startStream(perSecond: number): void {
    this.streamRate = Math.max(0, perSecond);
    this.logAt('runtime', `stream on: ${this.streamRate} messages/s to every peer`);
    this.changed();
  }

  stopStream(): void {
    this.streamRate = 0;
    this.logAt('runtime', 'stream off');
    this.changed();
  }

  send(text: string): void {
    this.chatLines.push({ at: this.t, from: 'Alice', text, mine: true });
    this.peers.forEach((p, i) => {
      this.at(40 + 30 * i, () => {
        this.pushBounded(this.chatLines, { at: this.t, from: p.view.name, text: `got "${text}"`, mine: false }, FAKE_CHAT_LIMIT);
        this.changed();
      });
    });
    this.trimTo(this.chatLines, FAKE_CHAT_LIMIT);
    this.changed();
  }

  attack(kind: AttackKind, peerId?: string): Promise<AttackResult> {
    const p = this.peers.find((x) => x.view.peerId === peerId) ?? this.peers[0]!;
    const reason = kind === 'replay' || kind === 'relay-replay' ? 'replay' : 'tag';
    const ret = p.view.paths.find((x) => x.isReturn)?.pathId ?? 0;
    const what: Record<AttackKind, string> = {
      forge: 'forged packet with a random tag',
      replay: 'replayed an old packet',
      hijack: 'spoofed packet from a new path claiming the connection',
      'relay-replay': 'the signaling server replayed an earlier resumption',
      'relay-forge': 'the signaling server delivered a resumption under the wrong keys',
    };
    this.logAt('attack', `${what[kind]} → ${p.view.name}`, p.view.peerId);
    return new Promise((done) => {
      this.at(20, () => {
        p.view.rejected++;
        this.wireSighting('in', p, ret, parseInt(p.view.connectionTag, 16), kind.endsWith('replay') ? 1 : 0xffffff);
        this.logAt('packet-rejected', `packet rejected (${reason}) on path ${ret}; return address unchanged`, p.view.peerId);
        this.changed();
        done({ kind, rejected: true, reason, returnAddressUnchanged: true });
      });
    });
  }

  disconnectSignaling(): void {
    if (this.signaling === 'closed') return;
    this.signaling = 'closed';
    this.logAt('signaling', 'signaling disconnected by the user; sessions continue');
    this.changed();
  }

  private move: MoveProgress = { phase: 'idle', forwardedIn: 0, forwardedOut: 0, url: null, detail: '' };

  /** Pretends to hand over: waiting, then forwarding for a second of fake time, then done. */
  async startMove(): Promise<string> {
    const url = 'http://fake.invalid/?move=preview';
    this.move = { phase: 'waiting', forwardedIn: 0, forwardedOut: 0, url, detail: 'open the new tab' };
    this.logAt('runtime', 'move started: open the new tab');
    this.changed();
    return url;
  }

  moveProgress(): MoveProgress {
    return { ...this.move };
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  private makePeer(peerId: string, name: string, fp: string, tag: number, peerTag: number, remote: string): FakePeer {
    const hex = (n: number) => n.toString(16).padStart(6, '0');
    return {
      view: {
        peerId,
        name,
        fingerprint: fp,
        sessionId: tag,
        state: 'established',
        connectionTag: hex(tag),
        peerTag: hex(peerTag),
        paths: [],
        recovering: false,
        rttMs: null,
        stats: { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, maxGapMs: 0, lastLatencyMs: null },
        hopsSurvived: 0,
        failovers: 0,
        returnAddressMoves: 0,
        rejected: 0,
      },
      remoteStation: remote,
      queued: [],
      lastDeliveryAt: null,
      streamCredit: 0,
    };
  }

  private station(id: string): StationView {
    const st = this.stations.find((s) => s.id === id);
    if (!st) throw new Error(`unknown station ${id}`);
    return st;
  }

  private random(): number {
    // xorshift32: deterministic jitter
    let x = this.rng | 0 || 1;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return (x >>> 0) / 2 ** 32;
  }

  private baseRtt(local: string, remote: string): number {
    return 2 * ((STATION_DELAY_MS[local] ?? 20) + (STATION_DELAY_MS[remote] ?? 20));
  }

  private addPath(p: FakePeer, local: string, phase: PathView['phase']): PathView {
    const rtt = this.baseRtt(local, p.remoteStation);
    const path: PathView = {
      pathId: this.nextPathId++,
      localStation: local,
      remoteStation: p.remoteStation,
      phase,
      rttMs: phase === 'validated' ? rtt : null,
      isReturn: false,
      isActive: false,
      bytesSent: 0,
      bytesReceived: 0,
    };
    p.view.paths.push(path);
    if (phase === 'validated') p.view.rttMs = p.view.rttMs ?? rtt;
    return path;
  }

  /** New paths from `local` to every peer; they validate after FAKE_VALIDATION_MS. `promote` moves traffic there. */
  private buildPaths(local: string, promote: boolean): Promise<void> {
    const added = this.peers.map((p) => {
      const path = this.addPath(p, local, 'validating');
      this.logAt('path-added', `path ${path.pathId}: ${this.label(local)} ⇄ ${this.label(p.remoteStation)}`, p.view.peerId);
      return { p, path };
    });
    this.changed();
    return new Promise((done) => {
      this.at(FAKE_VALIDATION_MS, () => {
        for (const { p, path } of added) {
          if (path.phase !== 'validating') continue;
          path.phase = 'validated';
          path.rttMs = this.baseRtt(local, p.remoteStation) + Math.round(this.random() * 4);
          this.logAt('path-validated', `path ${path.pathId} validated, RTT ${path.rttMs} ms`, p.view.peerId);
          const current = p.view.paths.find((x) => x.isActive && x.phase !== 'closed');
          if (promote || !current) this.promote(p, path);
        }
        this.changed();
        done();
      });
    });
  }

  private promote(p: FakePeer, path: PathView): void {
    const from = p.view.paths.find((x) => x.isActive) ?? null;
    for (const x of p.view.paths) {
      x.isActive = x === path;
    }
    this.logAt('path-promoted', `path ${path.pathId} carries the traffic now`, p.view.peerId);
    this.moveReturn(p, path);
    p.view.rttMs = path.rttMs;
    if (from && from !== path) this.deliverQueued(p, path);
  }

  private moveReturn(p: FakePeer, path: PathView): void {
    const from = p.view.paths.find((x) => x.isReturn) ?? null;
    if (from === path) return;
    for (const x of p.view.paths) x.isReturn = x === path;
    p.view.returnAddressMoves++;
    this.logAt(
      'return-address-moved',
      `return address moved: path ${from?.pathId ?? '–'} → ${path.pathId} (${this.label(path.localStation)} ⇄ ${this.label(path.remoteStation)})`,
      p.view.peerId,
    );
  }

  /** Best surviving validated path becomes active. Returns false if there is none. */
  private promoteBest(p: FakePeer, _why: string): boolean {
    const next = p.view.paths
      .filter((x) => x.phase === 'validated')
      .sort((a, b) => (a.rttMs ?? 1e9) - (b.rttMs ?? 1e9))[0];
    if (!next) return false;
    this.promote(p, next);
    return true;
  }

  private closePath(p: FakePeer, path: PathView, reason: string): void {
    path.phase = 'closed';
    p.view.paths = p.view.paths.filter((x) => x !== path);
    this.logAt('path-closed', `path ${path.pathId} closed (${reason})`, p.view.peerId);
  }

  /** The station vanished (lost coverage or outage): its paths go silent, then the session fails over. */
  private loseStation(st: StationView, why: string): void {
    st.attachment = 'detached';
    this.logAt('runtime', why);
    for (const p of this.peers) {
      for (const path of p.view.paths.filter((x) => x.localStation === st.id)) {
        path.phase = 'suspected';
        path.isActive = false;
      }
    }
    this.changed();
    this.at(FAKE_FAILOVER_MS, () => {
      for (const p of this.peers) {
        const dead = p.view.paths.filter((x) => x.localStation === st.id);
        if (dead.length === 0) continue;
        const deadReturn = dead.find((x) => x.isReturn);
        this.logAt('path-suspected', `path ${dead[0]!.pathId} silent for ${FAKE_FAILOVER_MS} ms`, p.view.peerId);
        for (const path of dead) this.closePath(p, path, 'station-lost');
        const next = p.view.paths.filter((x) => x.phase === 'validated').sort((a, b) => (a.rttMs ?? 1e9) - (b.rttMs ?? 1e9))[0];
        if (next) {
          p.view.failovers++;
          this.logAt(
            'failover',
            `failover: path ${deadReturn?.pathId ?? dead[0]!.pathId} → ${next.pathId}, resent ${p.queued.length} packets`,
            p.view.peerId,
          );
          this.promote(p, next);
        }
      }
      this.changed();
    });
  }

  private label(stationId: string | null): string {
    if (!stationId) return '?';
    return this.stations.find((s) => s.id === stationId)?.label ?? stationId;
  }

  private usablePath(p: FakePeer): PathView | undefined {
    return p.view.paths.find((x) => x.isActive && x.phase === 'validated');
  }

  private streamStep(stepMs: number): void {
    if (this.streamRate <= 0) return;
    // Credit in thousandths of a message: integer arithmetic, so 10/s is exactly 10 per second.
    const n = (c: number) => c + Math.round(this.streamRate * stepMs);
    this.ownCredit = n(this.ownCredit);
    for (const p of this.peers) p.streamCredit = n(p.streamCredit);
    while (this.ownCredit >= 1000) {
      this.ownCredit -= 1000;
      const pn = this.ownPacketNumber++;
      for (const p of this.peers) {
        p.view.stats.sent++;
        const path = this.usablePath(p);
        if (path) {
          path.bytesSent += 154;
          this.wireSighting('out', p, path.pathId, parseInt(p.view.peerTag, 16), pn);
        }
      }
      this.dirty = true;
    }
    for (const p of this.peers) {
      while (p.streamCredit >= 1000) {
        p.streamCredit -= 1000;
        p.queued.push(this.t);
        this.dirty = true;
      }
      const path = this.usablePath(p);
      if (path) this.deliverQueued(p, path);
    }
  }

  private deliverQueued(p: FakePeer, path: PathView): void {
    for (const sentAt of p.queued) {
      const latency = Math.round((path.rttMs ?? 40) / 2 + this.random() * 6 + (this.t - sentAt));
      const s = p.view.stats;
      s.delivered++;
      s.lastLatencyMs = latency;
      if (p.lastDeliveryAt !== null) s.maxGapMs = Math.max(s.maxGapMs, this.t - p.lastDeliveryAt);
      p.lastDeliveryAt = this.t;
      path.bytesReceived += 154;
      this.wireSighting('in', p, path.pathId, parseInt(p.view.connectionTag, 16), s.delivered);
    }
    p.queued = [];
  }

  private wireSighting(direction: 'in' | 'out', p: FakePeer, pathId: number, tag: number, pn: number): void {
    const address = ((BigInt(tag) << 40n) | BigInt(pn)).toString(16).padStart(16, '0');
    this.pushBounded(
      this.sightings,
      {
        at: this.t,
        direction,
        peerId: p.view.peerId,
        pathId,
        size: 26 + 128 + 16,
        flags: 0x01,
        tags: 0x00,
        address,
        connectionTag: tag.toString(16).padStart(6, '0'),
        packetNumber: pn,
      },
      FAKE_WIRE_LIMIT,
    );
  }

  private logAt(kind: LogEntry['kind'], text: string, peerId?: string): void {
    this.pushBounded(this.logEntries, peerId === undefined ? { at: this.t, kind, text } : { at: this.t, kind, text, peerId }, FAKE_LOG_LIMIT);
    this.dirty = true;
  }

  private pushBounded<T>(list: T[], item: T, limit: number): void {
    list.push(item);
    this.trimTo(list, limit);
  }

  private trimTo<T>(list: T[], limit: number): void {
    if (list.length > limit) list.splice(0, list.length - limit);
  }

  private at(delayMs: number, run: () => void): void {
    this.tasks.push({ at: this.t + delayMs, seq: this.seq++, run });
  }

  private runDueTasks(): void {
    for (;;) {
      this.tasks.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.tasks[0];
      if (!next || next.at > this.t) return;
      this.tasks.shift();
      next.run();
    }
  }

  /** Marks state changed; notification happens at the end of the current advance() (or now, if outside it). */
  private changed(): void {
    this.dirty = true;
    if (!this.inAdvance) this.flushNotify();
  }

  private flushNotify(): void {
    if (!this.dirty) return;
    this.dirty = false;
    for (const l of [...this.listeners]) l();
  }
}

/** Drives a FakeRuntime from the real clock (for the preview page). Returns a stop function. */
export function startFakeClock(runtime: FakeRuntime, now: () => number = () => performance.now()): () => void {
  runtime.advance(Math.max(0, now() - runtime.now()));
  const timer = setInterval(() => runtime.advance(Math.max(0, now() - runtime.now())), 50);
  return () => clearInterval(timer);
}
