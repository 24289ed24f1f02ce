// Scenarios over the simulated network: N nodes in a full mesh, each session streaming numbered messages both
// ways, while nodes hop between S stations. Checks the delivery invariants and reports the figures.
import { Node } from '../net2o/node.ts';
import type { Crypto } from '../net2o/crypto.ts';
import type { Net2oEvent, SessionId } from '../net2o/events.ts';
import type { RejectReason } from '../net2o/errors.ts';
import { createSodiumCrypto } from '../runtime/sodium-crypto.ts';
import { Network, SimNode, type StationParams } from './network.ts';

export interface ScenarioOptions {
  nodes: number;
  stations: number;
  hops: number;
  loss: number;
  seed: number;
  simultaneous: boolean; // nodes 0 and 1 hop at the same instant
  abrupt: boolean; // each hop: lose one of two stations abruptly, then attach another
  ratePerSec: number; // messages per second per direction per session
  hopIntervalMs: number;
  overlapMs?: number;
  idleTimeoutMs?: number;
  station?: Partial<StationParams>;
  /** Receives every event, with sim time and node (debugging). */
  trace?: (line: string) => void;
}

export const DEFAULT_SCENARIO: ScenarioOptions = {
  nodes: 2,
  stations: 3,
  hops: 10,
  loss: 0,
  seed: 1,
  simultaneous: false,
  abrupt: false,
  ratePerSec: 50,
  hopIntervalMs: 2_000,
};

export interface StreamCheck {
  sent: number;
  delivered: number;
  duplicated: number;
  reordered: number;
  maxGapMs: number;
  lastAt: number;
  expect: number;
}

export interface ScenarioResult {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  maxGapMs: number;
  hops: number;
  hopsFinished: number;
  failovers: number;
  rejected: Record<RejectReason, number>;
  returnAddressMoves: number;
  elapsedSimMs: number;
  sessionsClosed: number;
  openTransports: number;
  packets: number;
  ok: boolean;
  violations: string[];
}

export class Harness {
  readonly net: Network;
  readonly sims: SimNode[] = [];
  /** Per directed session (receiver node name → session → check). */
  readonly streams = new Map<string, StreamCheck>();
  readonly events: Array<{ at: number; node: string; e: Net2oEvent }> = [];
  sessionsClosed = 0;
  hopsFinished = 0;
  logEvents = false;

  constructor(
    readonly crypto: Crypto,
    seed: number,
  ) {
    this.net = new Network(seed);
  }

  static async create(seed: number): Promise<Harness> {
    const rng = new (await import('./rng.ts')).Rng(seed ^ 0x5eed);
    const crypto = await createSodiumCrypto({ random: (n) => rng.bytes(n) });
    return new Harness(crypto, seed);
  }

  addNode(name: string, secret: Uint8Array, opts: { overlapMs?: number; idleTimeoutMs?: number } = {}): SimNode {
    const node = new Node({ crypto: this.crypto, inviteSecret: secret, name, ...opts });
    const sim = new SimNode(name, node);
    sim.onEvent = (e) => this.onEvent(sim, e);
    this.net.addNode(sim);
    this.sims.push(sim);
    return sim;
  }

  private onEvent(n: SimNode, e: Net2oEvent): void {
    if (this.logEvents) this.events.push({ at: this.net.now, node: n.name, e });
    if (e.type === 'message') this.onMessage(n, e.session, e.data);
    if (e.type === 'session-closed') this.sessionsClosed++;
    if (e.type === 'hop-finished') this.hopsFinished++;
  }

  /** Introduce a and b over their stations and run the handshake; returns both session ids. */
  connect(a: SimNode, aStation: string, b: SimNode, bStation: string): { a: SessionId; b: SessionId } {
    const { aPath } = this.net.introduce(a, aStation, b, bStation);
    const sa = a.node.connect(aPath, this.net.now);
    this.net.peerMap.set(`${a.name}:${sa}`, b);
    const before = new Set(b.node.sessions.keys());
    const newSession = () => [...b.node.sessions.keys()].find((k) => !before.has(k));
    // Bounded: the handshake resends every 250 ms; with loss it may take a few rounds.
    for (let i = 0; i < 50; i++) {
      this.net.runUntil(this.net.now + 200);
      const sb = newSession();
      if (sb !== undefined && a.node.session(sa)?.state === 'established' && b.node.session(sb)?.state === 'established') break;
    }
    const sb = newSession();
    if (sb === undefined || a.node.session(sa)?.state !== 'established' || b.node.session(sb)?.state !== 'established')
      throw new Error(`handshake ${a.name}→${b.name} did not complete`);
    this.net.peerMap.set(`${b.name}:${sb}`, a);
    this.net.relay(a, sa, b, sb!);
    return { a: sa, b: sb! };
  }

  // ---- streaming numbered messages
  private key(n: SimNode, s: SessionId): string {
    return `${n.name}:${s}`;
  }

  sendNumbered(from: SimNode, s: SessionId): boolean {
    const peer = this.net.peerMap.get(this.key(from, s))!;
    const peerSession = [...peer.node.sessions.values()].find((x) => this.net.peerMap.get(this.key(peer, x.id)) === from);
    if (!peerSession) return false;
    const k = this.key(peer, peerSession.id);
    let c = this.streams.get(k);
    if (!c) {
      c = { sent: 0, delivered: 0, duplicated: 0, reordered: 0, maxGapMs: 0, lastAt: -1, expect: 0 };
      this.streams.set(k, c);
    }
    const msg = new Uint8Array(64);
    new DataView(msg.buffer).setUint32(0, c.sent);
    new DataView(msg.buffer).setFloat64(8, this.net.now);
    try {
      from.node.send(s, msg);
    } catch {
      return false; // backpressure: the generator waits (not an invariant violation)
    }
    c.sent++;
    return true;
  }

  private onMessage(n: SimNode, s: SessionId, data: Uint8Array): void {
    const c = this.streams.get(this.key(n, s));
    if (!c) return;
    const seq = new DataView(data.buffer, data.byteOffset).getUint32(0);
    if (seq < c.expect) c.duplicated++;
    else {
      if (seq > c.expect) c.reordered++;
      c.expect = seq + 1;
      c.delivered++;
    }
    if (c.lastAt >= 0) c.maxGapMs = Math.max(c.maxGapMs, this.net.now - c.lastAt);
    c.lastAt = this.net.now;
  }

  /** Streams on every session of every node at `rate`/s from `from` to `to` (sim time). */
  streamBetween(fromMs: number, toMs: number, rate: number): void {
    const interval = 1000 / rate;
    for (let t = fromMs; t < toMs; t += interval) {
      this.net.schedule(t, () => {
        for (const n of this.sims) for (const s of n.node.sessions.values()) if (s.state === 'established') this.sendNumbered(n, s.id);
      });
    }
  }

  totals(): Omit<ScenarioResult, 'hops' | 'elapsedSimMs' | 'ok' | 'violations' | 'rejected' | 'failovers' | 'returnAddressMoves' | 'openTransports' | 'packets' | 'hopsFinished'> {
    let sent = 0;
    let delivered = 0;
    let duplicated = 0;
    let reordered = 0;
    let maxGapMs = 0;
    for (const c of this.streams.values()) {
      sent += c.sent;
      delivered += c.delivered;
      duplicated += c.duplicated;
      reordered += c.reordered;
      maxGapMs = Math.max(maxGapMs, c.maxGapMs);
    }
    return { sent, delivered, lost: sent - delivered, duplicated, reordered, maxGapMs: Math.round(maxGapMs), sessionsClosed: this.sessionsClosed };
  }
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const h = await Harness.create(o.seed);
  h.logEvents = o.trace !== undefined;
  const net = h.net;
  const stationIds = Array.from({ length: o.stations }, (_, i) => `st${i}`);
  for (const id of stationIds) net.addStation(id, { ...o.station, loss: o.loss });
  const secret = net.rng.bytes(32);
  const sims = Array.from({ length: o.nodes }, (_, i) =>
    h.addNode(`n${i}`, secret, { overlapMs: o.overlapMs, idleTimeoutMs: o.idleTimeoutMs }),
  );
  // Everyone starts on one station (two with --abrupt, so that losing one leaves another).
  const home = new Map<SimNode, string[]>();
  sims.forEach((n, i) => {
    const first = stationIds[i % stationIds.length]!;
    const list = [first];
    if (o.abrupt) list.push(stationIds[(i + 1) % stationIds.length]!);
    home.set(n, list);
  });
  // Loss during setup would only slow the handshake; the invariants are about the live session.
  for (const n of sims) n.node.attach(home.get(n)![0]!, net.now);
  for (let i = 0; i < sims.length; i++)
    for (let j = i + 1; j < sims.length; j++) h.connect(sims[i]!, home.get(sims[i]!)![0]!, sims[j]!, home.get(sims[j]!)![0]!);
  if (o.abrupt) {
    for (const n of sims) n.node.attach(home.get(n)![1]!, net.now);
    net.runUntil(net.now + 1_000);
  }
  const start = net.now;
  const streamEnd = start + (o.hops + 1) * o.hopIntervalMs;
  h.streamBetween(start, streamEnd, o.ratePerSec);
  const attached = (n: SimNode): string[] => n.node.stationList().filter((s) => s.state === 'active').map((s) => s.id);
  for (let k = 0; k < o.hops; k++) {
    const at = start + (k + 0.5) * o.hopIntervalMs + net.rng.next() * o.hopIntervalMs * 0.4;
    const movers = o.simultaneous ? [sims[0]!, sims[1] ?? sims[0]!] : [net.rng.pick(sims)];
    net.schedule(at, () => {
      for (const n of new Set(movers)) {
        const cur = attached(n);
        const free = stationIds.filter((s) => !cur.includes(s));
        if (free.length === 0) continue;
        const to = net.rng.pick(free);
        if (o.abrupt) {
          const lose = net.rng.pick(cur);
          n.node.detach(lose, { abrupt: true }, net.now);
          n.node.attach(to, net.now);
        } else n.node.hopTo(to, net.now);
      }
    });
  }
  // Run the stream, then let everything drain (retransmissions, acks).
  net.runUntil(streamEnd);
  for (let i = 0; i < 20; i++) {
    const t = h.totals();
    if (t.lost === 0) break;
    net.runUntil(net.now + 500);
  }
  const t = h.totals();
  if (o.trace) {
    for (const x of h.events)
      if (x.e.type !== 'message') o.trace(`${x.at.toFixed(1)} ${x.node} ${JSON.stringify(x.e, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length}>` : v))}`);
  }
  const rejected: Record<RejectReason, number> = { malformed: 0, 'unknown-address': 0, replay: 0, tag: 0, handshake: 0 };
  let failovers = 0;
  let returnAddressMoves = 0;
  let hops = 0;
  for (const n of sims) {
    for (const [r, c] of Object.entries(n.node.counters.rejected)) rejected[r as RejectReason] += c;
    failovers += n.node.counters.failovers;
    returnAddressMoves += n.node.counters.returnAddressMoves;
    hops += n.node.counters.hops;
  }
  if (o.abrupt) hops = o.hops * (o.simultaneous ? 2 : 1);
  const violations: string[] = [];
  if (t.lost !== 0) violations.push(`${t.lost} messages lost`);
  if (t.duplicated !== 0) violations.push(`${t.duplicated} messages duplicated`);
  if (t.reordered !== 0) violations.push(`${t.reordered} messages reordered`);
  if (t.sessionsClosed !== 0) violations.push(`${t.sessionsClosed} sessions closed`);
  if (t.sent === 0) violations.push('nothing was sent');
  return {
    ...t,
    hops,
    hopsFinished: h.hopsFinished,
    failovers,
    rejected,
    returnAddressMoves,
    elapsedSimMs: Math.round(net.now),
    openTransports: net.openTransports,
    packets: net.packetsSent,
    ok: violations.length === 0,
    violations,
  };
}
