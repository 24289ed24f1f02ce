// The deterministic network: stations (relays) with latency, jitter, loss, duplication, reordering and
// outages; links (paths) between two nodes' stations; an on-path attacker who sees every packet; and a
// fake clock that jumps straight to the next event. Nothing sleeps.
import type { Net2oEvent, PathId } from '../net2o/events.ts';
import type { Node } from '../net2o/node.ts';
import { Rng } from './rng.ts';

export interface StationParams {
  latencyMs: number; // one way, node ↔ relay
  jitterMs: number;
  loss: number; // 0–1, per packet per station crossed
  duplicate: number;
  reorder: number; // probability of an extra delay of up to 3× latency
}

/** The pseudo-station of the signaling relay (recovery only). */
export const RELAY_STATION = 'signaling';

export const DEFAULT_STATION: StationParams = { latencyMs: 10, jitterMs: 2, loss: 0, duplicate: 0, reorder: 0 };

interface End {
  node: SimNode;
  pathId: PathId;
  station: string;
  open: boolean; // registered with the node (its transport is "open")
  /** An end of the signaling relay: not a transport the node owns (not counted in openTransports). */
  relay?: boolean;
}

interface Link {
  key: string;
  a: End; // offerer
  b: End; // answerer
  alive: boolean;
  /** The answering end's registration, until the answer reaches the offerer. */
  pendingB?: { remoteStation: string; key: string; session: number } | null;
}

interface Delivery {
  at: number;
  seq: number;
  to: SimNode;
  pathId: PathId;
  data: Uint8Array;
}

export interface CapturedPacket {
  at: number;
  from: string;
  to: string;
  toPathId: PathId;
  data: Uint8Array;
}

export class SimNode {
  constructor(
    readonly name: string,
    readonly node: Node,
  ) {}
  onEvent: (e: Net2oEvent) => void = () => {};
}

/** A tiny binary heap on (at, seq): deterministic ordering for equal times. */
class Queue {
  private h: Delivery[] = [];
  get size(): number {
    return this.h.length;
  }
  peek(): Delivery | undefined {
    return this.h[0];
  }
  push(d: Delivery): void {
    const h = this.h;
    h.push(d);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }
  pop(): Delivery | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
function less(a: Delivery, b: Delivery): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class Network {
  now = 0;
  readonly rng: Rng;
  readonly stations = new Map<string, StationParams & { up: boolean }>();
  readonly nodes: SimNode[] = [];
  private readonly links = new Map<PathId, { link: Link; self: End; other: End }>();
  private readonly setups = new Map<string, Link>(); // by `${session-pair}:${key}` on the offerer side
  private readonly queue = new Queue();
  private seq = 0;
  private nextPathId = 1;
  /** Every packet in flight, as an on-path observer sees it (bounded ring). */
  readonly captured: CapturedPacket[] = [];
  captureLimit = 2_000;
  /** Transports a node registered and has not yet been told are gone (leak check). */
  openTransports = 0;
  packetsSent = 0;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  addStation(id: string, p: Partial<StationParams> = {}): void {
    this.stations.set(id, { ...DEFAULT_STATION, ...p, up: true });
  }

  setStationUp(id: string, up: boolean): void {
    this.stations.get(id)!.up = up;
  }

  addNode(n: SimNode): void {
    this.nodes.push(n);
  }

  /** The introduction (what the signaling server does once): a first transport between a and b. */
  introduce(a: SimNode, aStation: string, b: SimNode, bStation: string): { aPath: PathId; bPath: PathId } {
    const link = this.makeLink(`intro:${a.name}:${b.name}`, a, aStation, b, bStation);
    this.openEnd(link.a, bStation);
    this.openEnd(link.b, aStation);
    return { aPath: link.a.pathId, bPath: link.b.pathId };
  }

  private makeLink(key: string, a: SimNode, aStation: string, b: SimNode, bStation: string): Link {
    const link: Link = {
      key,
      a: { node: a, pathId: this.nextPathId++, station: aStation, open: false },
      b: { node: b, pathId: this.nextPathId++, station: bStation, open: false },
      alive: true,
    };
    this.links.set(link.a.pathId, { link, self: link.a, other: link.b });
    this.links.set(link.b.pathId, { link, self: link.b, other: link.a });
    return link;
  }

  private openEnd(e: End, remoteStation: string, key: string | null = null, session: number | null = null, relay = false): void {
    if (e.open) return;
    e.open = true;
    if (!e.relay) this.openTransports++;
    e.node.node.addPath(e.pathId, { localStation: e.station, remoteStation, key, session, relay }, this.now);
  }

  /** The signaling server as a recovery relay between two sessions (a "station" that only relays). */
  relay(a: SimNode, sa: number, b: SimNode, sb: number): void {
    if (!this.stations.has(RELAY_STATION)) this.addStation(RELAY_STATION, { latencyMs: 5, jitterMs: 1 });
    const link = this.makeLink(`relay:${a.name}:${b.name}`, a, RELAY_STATION, b, RELAY_STATION);
    link.a.relay = link.b.relay = true;
    this.openEnd(link.a, RELAY_STATION, null, sa, true);
    this.openEnd(link.b, RELAY_STATION, null, sb, true);
    this.relayPaths.add(link.a.pathId).add(link.b.pathId);
  }
  readonly relayPaths = new Set<PathId>();
  relayPackets = 0;

  /** The runtime's half of in-band path setup, with trivial "offer"/"answer" payloads. */
  handleEvent(n: SimNode, e: Net2oEvent): void {
    switch (e.type) {
      case 'path-wanted': {
        const peer = this.peerOf(n, e.session);
        if (!peer) return;
        const link = this.makeLink(e.key, n, e.localStation, peer, e.remoteStation);
        this.setups.set(`${n.name}:${e.session}:${e.key}`, link);
        n.node.sendPathSignal(e.session, e.key, utf8(`offer:${link.a.pathId}`));
        return;
      }
      case 'path-signal': {
        const text = new TextDecoder().decode(e.data);
        if (text.startsWith('offer:')) {
          const entry = this.links.get(Number(text.slice(6)));
          if (!entry || !entry.link.alive) return;
          const link = entry.link;
          if (link.b.node !== n) return;
          // Like WebRTC: the answering end opens only once the answer reached the offerer (ICE/DTLS done).
          link.pendingB = { remoteStation: link.a.station, key: e.key, session: e.session };
          n.node.sendPathSignal(e.session, e.key, utf8(`answer:${link.b.pathId}`));
        } else if (text.startsWith('answer:')) {
          const link = this.setups.get(`${n.name}:${e.session}:${e.key}`);
          if (!link || !link.alive) return;
          this.setups.delete(`${n.name}:${e.session}:${e.key}`);
          this.openEnd(link.a, link.b.station, e.key, e.session);
          const pb = link.pendingB;
          if (pb) {
            link.pendingB = null;
            this.schedule(this.now + this.stationDelay(link.a.station, link.b.station), () => {
              if (link.alive) this.openEnd(link.b, pb.remoteStation, pb.key, pb.session);
            });
          }
        }
        return;
      }
      case 'path-abandoned': {
        const id = `${n.name}:${e.session}:${e.key}`;
        const link = this.setups.get(id);
        if (link) {
          this.setups.delete(id);
          this.killLink(link);
        }
        return;
      }
      case 'path-closed': {
        const entry = this.links.get(e.pathId);
        if (!entry) return;
        this.closeEnd(entry.self);
        // A graceful close reaches the other end after one latency (like a DTLS close); if the link is
        // already dead, it never does (like Chromium's silent relay death).
        if (entry.link.alive && this.linkUp(entry.link)) {
          const other = entry.other;
          this.schedule(this.now + this.stationDelay(entry.self.station, entry.other.station), () => this.closeEnd(other, true));
        }
        entry.link.alive = false;
        return;
      }
      default:
        return;
    }
  }

  private closeEnd(e: End, notify = false): void {
    if (!e.open) return;
    e.open = false;
    if (!e.relay) this.openTransports--;
    if (notify) e.node.node.removePath(e.pathId, this.now);
  }

  private killLink(l: Link): void {
    l.alive = false;
  }

  private peerOf(n: SimNode, session: number): SimNode | undefined {
    return this.peerMap.get(`${n.name}:${session}`);
  }
  /** Which node is at the other end of (node, session): the driver fills it at handshake. */
  readonly peerMap = new Map<string, SimNode>();

  private linkUp(l: Link): boolean {
    return this.stations.get(l.a.station)?.up === true && this.stations.get(l.b.station)?.up === true;
  }

  private stationDelay(s1: string, s2: string): number {
    const a = this.stations.get(s1)!;
    const b = this.stations.get(s2)!;
    return a.latencyMs + b.latencyMs + this.rng.next() * (a.jitterMs + b.jitterMs);
  }

  /** A node sends a datagram on its transport `pathId`. */
  transmit(from: SimNode, pathId: PathId, data: Uint8Array): void {
    const entry = this.links.get(pathId);
    this.packetsSent++;
    if (this.relayPaths.has(pathId)) this.relayPackets++;
    if (!entry || !entry.link.alive || !entry.self.open || !entry.other.open) return;
    const { self, other } = entry;
    if (!this.linkUp(entry.link)) return;
    const a = this.stations.get(self.station)!;
    const b = this.stations.get(other.station)!;
    if (this.rng.next() < a.loss || this.rng.next() < b.loss) return;
    let delay = this.stationDelay(self.station, other.station);
    if (this.rng.next() < Math.max(a.reorder, b.reorder)) delay += this.rng.next() * 3 * (a.latencyMs + b.latencyMs);
    const copies = this.rng.next() < Math.max(a.duplicate, b.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) this.deliverAt(this.now + delay + i, other, data);
    if (this.captured.length >= this.captureLimit) this.captured.shift();
    this.captured.push({ at: this.now, from: from.name, to: other.node.name, toPathId: other.pathId, data });
  }

  private deliverAt(at: number, to: End, data: Uint8Array): void {
    this.queue.push({ at, seq: this.seq++, to: to.node, pathId: to.pathId, data });
  }

  /** Inject raw bytes at node `to` as if they arrived on transport `pathId` (the attacker's tool). */
  inject(to: SimNode, pathId: PathId, data: Uint8Array, at = this.now): void {
    this.queue.push({ at, seq: this.seq++, to, pathId, data });
  }

  private readonly actions: Array<{ at: number; seq: number; run: () => void }> = [];
  schedule(at: number, run: () => void): void {
    this.actions.push({ at, seq: this.seq++, run });
    this.actions.sort((x, y) => x.at - y.at || x.seq - y.seq);
  }

  /** Flush every node's output and events. */
  pump(): void {
    for (let guard = 0; guard < 100_000; guard++) {
      let busy = false;
      for (const n of this.nodes) {
        let ev;
        while ((ev = n.node.pollEvent())) {
          busy = true;
          this.handleEvent(n, ev);
          n.onEvent(ev);
        }
        let t;
        while ((t = n.node.pollTransmit(this.now))) {
          busy = true;
          this.transmit(n, t.pathId, t.data);
        }
      }
      if (!busy) return;
    }
    throw new Error('pump did not settle');
  }

  /** Advance the fake clock to `until`, processing every delivery, timer and action on the way. */
  runUntil(until: number): void {
    this.pump();
    for (let guard = 0; guard < 5_000_000; guard++) {
      let next = until;
      const d = this.queue.peek();
      if (d) next = Math.min(next, d.at);
      const act = this.actions[0];
      if (act) next = Math.min(next, act.at);
      for (const n of this.nodes) next = Math.min(next, n.node.pollTimeout());
      if (next > until) next = until;
      this.now = Math.max(this.now, next);
      let did = false;
      while (this.queue.peek() && this.queue.peek()!.at <= this.now) {
        const x = this.queue.pop()!;
        const entry = this.links.get(x.pathId);
        // A transport that is closed, or whose station is down, delivers nothing.
        if (entry && (!entry.self.open || !this.linkUpEnd(entry.self))) continue;
        x.to.node.handleDatagram(x.pathId, x.data, this.now);
        did = true;
      }
      while (this.actions[0] && this.actions[0].at <= this.now) {
        this.actions.shift()!.run();
        did = true;
      }
      for (const n of this.nodes) {
        if (n.node.pollTimeout() <= this.now) {
          n.node.handleTimeout(this.now);
          did = true;
        }
      }
      this.pump();
      if (!did && this.now >= until) return;
    }
    const stuck = this.nodes.map((n) => `${n.name}: timeout ${n.node.pollTimeout()} ${n.node.debugTimers?.() ?? ''}`);
    throw new Error(`runUntil did not finish at ${this.now}: ${stuck.join('; ')}`);
  }

  private linkUpEnd(e: End): boolean {
    return this.stations.get(e.station)?.up === true;
  }

  /**
   * A node moves to another host (tab): every transport `from` had now ends at `to`, as if the old host
   * forwarded whatever reached it. `from` leaves the network and sends nothing more.
   */
  moveNode(from: SimNode, to: SimNode, sessionOf: (pathId: PathId) => number | undefined): void {
    for (const [id, e] of this.links) {
      if (e.self.node !== from || !e.self.open) continue;
      e.self.node = to;
      const remote = e.other.station;
      const relay = this.relayPaths.has(id);
      to.node.addPath(id, { localStation: e.self.station, remoteStation: remote, session: sessionOf(id) ?? null, relay }, this.now);
    }
    for (const [k, v] of this.peerMap) if (v === from) this.peerMap.set(k, to);
    for (const [k, v] of [...this.peerMap]) {
      if (k.startsWith(`${from.name}:`)) {
        this.peerMap.delete(k);
        this.peerMap.set(`${to.name}:${k.slice(from.name.length + 1)}`, v);
      }
    }
    const i = this.nodes.indexOf(from);
    if (i >= 0) this.nodes.splice(i, 1);
  }

  /** Paths registered at a node for a station, for scenario scripts. */
  pathsAt(n: SimNode, station: string): PathId[] {
    const out: PathId[] = [];
    for (const [id, e] of this.links) if (e.self.node === n && e.self.station === station && e.self.open) out.push(id);
    return out;
  }

  /** A fresh transport id at `to` that no node registered: "a new path" for the attacker. */
  attackerPath(to: SimNode, station: string): PathId {
    const id = this.nextPathId++;
    const link: Link = {
      key: 'attacker',
      a: { node: to, pathId: id, station, open: true },
      b: { node: to, pathId: -id, station, open: false },
      alive: true,
    };
    this.links.set(id, { link, self: link.a, other: link.b });
    return id;
  }
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
