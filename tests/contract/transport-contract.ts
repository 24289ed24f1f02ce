// The one transport contract (DESIGN §3): the in-memory medium and the WebRTC transport both pass it, so what the
// simulator proves about the session layer carries over to real paths. Setup messages are carried as opaque
// bytes with random small delays (so they may be reordered); datagrams may be lost or reordered (unreliable,
// unordered) but on loopback at least 95 % must arrive and every one that arrives must be byte-identical.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StationInfo } from '../../signaling-server/contracts.ts';
import type { PathTransport, TransportEvents, TransportFactory } from '../../src/runtime/transport.ts';
import { Rng } from '../../src/sim/rng.ts';

export interface ContractEnv {
  factory: TransportFactory;
  stations: StationInfo[];
  stationDown?(id: string): Promise<void>;
  stationUp?(id: string): Promise<void>;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** How long a pair may take to open (both onOpen). Default 10 s. */
  openTimeoutMs?: number;
  /** How long the far side may take to notice a close. Default 10 s. */
  closeTimeoutMs?: number;
}

/** The largest net2o packet: 26-byte header + 64·2⁸ body + 16-byte MAC. */
export const MAX_PACKET = 26 + 64 * 2 ** 8 + 16;
const DATAGRAMS = 100;
const MIN_DELIVERY = 0.95;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Deterministic randomness (the simulator's seeded PRNG): signal delays and datagram contents repeat run to run. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** Datagram i of a direction: a unique size from 1 B to MAX_PACKET and contents derived from (dir, i). */
function datagram(dir: number, i: number): Uint8Array {
  const size = i === 0 ? 1 : i === DATAGRAMS - 1 ? MAX_PACKET : 1 + Math.round((i * (MAX_PACKET - 1)) / (DATAGRAMS - 1));
  const r = rng(dir * 1_000_003 + i * 7919 + 1);
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = (r() * 256) | 0;
  return b;
}

interface Side {
  t: PathTransport;
  opened: number;
  closes: string[];
  received: Uint8Array[];
  drains: number;
  errors: unknown[];
  /** Signals this side produced, waiting to be carried. */
  onSignal: (d: Uint8Array) => void;
}

interface Pair {
  a: Side;
  b: Side;
  /** Signals still in flight. */
  inFlight(): number;
  /** Stop carrying signals (e.g. before closing). */
  stopCarrying(): void;
}

/** Creates initiator (first station) and answerer (second), and carries their setup messages both ways. */
function makePair(env: ContractEnv, seed: number, opts: { carry?: boolean; beforeCarry?: (a: Side, b: Side) => void } = {}): Pair {
  const r = rng(seed);
  let carrying = opts.carry ?? true;
  let inFlight = 0;
  const sides: Side[] = [];
  const mk = (initiator: boolean, station: StationInfo): Side => {
    const side = { opened: 0, closes: [] as string[], received: [] as Uint8Array[], drains: 0, errors: [] as unknown[] } as Side;
    const events: TransportEvents = {
      onSignal: (d) => side.onSignal(d),
      onOpen: () => {
        side.opened++;
      },
      onData: (d) => {
        side.received.push(d.slice()); // the transport may reuse its buffer
      },
      onClose: (reason) => {
        side.closes.push(reason);
      },
      onDrain: () => {
        side.drains++;
      },
    };
    side.t = env.factory.create({ initiator, station }, events);
    return side;
  };
  const a = mk(true, env.stations[0]!);
  const b = mk(false, env.stations[1]!);
  sides.push(a, b);
  // Opaque bytes: a copy, delivered after 0–25 ms (so messages overtake each other now and then).
  const carry = (to: Side) => (d: Uint8Array) => {
    if (!carrying) return;
    const copy = d.slice();
    inFlight++;
    setTimeout(() => {
      inFlight--;
      if (!carrying) return;
      try {
        to.t.signal(copy);
      } catch (e) {
        to.errors.push(e);
      }
    }, Math.floor(r() * 25));
  };
  a.onSignal = carry(b);
  b.onSignal = carry(a);
  opts.beforeCarry?.(a, b);
  return {
    a,
    b,
    inFlight: () => inFlight,
    stopCarrying: () => {
      carrying = false;
    },
  };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - t0;
}

/**
 * The sender's pace: a pause of PACE_MS after every PACE_BYTES (≈ 3 MB/s each way). The runtime is a paced
 * sender too; unpaced bursts of 16 KiB datagrams both ways at once (~14 MB/s through one in-process relay)
 * lose 5–10 % of the large ones on an unreliable channel (measured: every loss was ≥ 11 KiB).
 */
const PACE_BYTES = 16 * 1024;
const PACE_MS = 5;

/** Sends every datagram of `dir` on `from`, paced, pausing while the transport reports backpressure. */
async function sendAll(from: Side, dir: number): Promise<void> {
  let budget = 0;
  for (let i = 0; i < DATAGRAMS; i++) {
    const ok = from.t.send(datagram(dir, i));
    expect(typeof ok).toBe('boolean');
    if (!ok) {
      // Above the high-water mark: it was still queued (the contract says "returns false when above"); wait.
      const drains = from.drains;
      await until(() => from.drains > drains || from.t.bufferedAmount() < 16 * 1024 || !from.t.isOpen, 5_000, 'drain');
    }
    budget += datagram(dir, i).length;
    if (budget >= PACE_BYTES) {
      budget = 0;
      await sleep(PACE_MS);
    }
  }
}

function checkReceived(side: Side, dir: number): { arrived: number; ratio: number } {
  const bySize = new Map<number, Uint8Array>();
  for (let i = 0; i < DATAGRAMS; i++) {
    const d = datagram(dir, i);
    bySize.set(d.length, d);
  }
  const seen = new Set<number>();
  for (const got of side.received) {
    const want = bySize.get(got.length);
    expect(want, `a datagram of ${got.length} B that was never sent`).toBeDefined();
    expect(Buffer.compare(Buffer.from(got), Buffer.from(want!)), `datagram of ${got.length} B differs`).toBe(0);
    seen.add(got.length);
  }
  return { arrived: seen.size, ratio: seen.size / DATAGRAMS };
}

function isNonNegativeNumber(x: unknown): boolean {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

export function runTransportContract(name: string, makeFactory: () => Promise<ContractEnv>, options: ContractOptions = {}): void {
  const openTimeout = options.openTimeoutMs ?? 10_000;
  const closeTimeout = options.closeTimeoutMs ?? 10_000;

  describe(`transport contract: ${name}`, () => {
    let env: ContractEnv;
    const pairs: Pair[] = [];
    const figures: string[] = [];

    beforeAll(async () => {
      env = await makeFactory();
      expect(env.stations.length).toBeGreaterThanOrEqual(2);
    });
    afterAll(async () => {
      for (const p of pairs) {
        p.stopCarrying();
        p.a.t.close();
        p.b.t.close();
      }
      await env?.cleanup();
      if (figures.length) console.info(`[figures] ${name}: ${figures.join('; ')}`);
    });

    async function openPair(seed: number, opts: Parameters<typeof makePair>[2] = {}): Promise<Pair> {
      const p = makePair(env, seed, opts);
      pairs.push(p);
      const ms = await until(() => p.a.opened > 0 && p.b.opened > 0, openTimeout, 'both onOpen');
      figures.push(`open ${ms.toFixed(0)} ms`);
      return p;
    }

    it('a fresh transport: identity, not open, bufferedAmount ≥ 0, send returns false', () => {
      const p = makePair(env, 1, { carry: false });
      pairs.push(p);
      expect(p.a.t.initiator).toBe(true);
      expect(p.b.t.initiator).toBe(false);
      expect(p.a.t.station.id).toBe(env.stations[0]!.id);
      expect(p.b.t.station.id).toBe(env.stations[1]!.id);
      expect(p.a.t.id).not.toBe(p.b.t.id);
      for (const s of [p.a, p.b]) {
        expect(s.t.isOpen).toBe(false);
        expect(isNonNegativeNumber(s.t.bufferedAmount())).toBe(true);
        expect(() => s.t.send(new Uint8Array([1, 2, 3]))).not.toThrow();
        expect(s.t.send(new Uint8Array([1, 2, 3]))).toBe(false);
      }
    });

    it('opens through two stations (setup carried as opaque, delayed, reordered bytes); onOpen once each; isOpen', async () => {
      const p = await openPair(2);
      await sleep(100);
      expect([p.a.opened, p.b.opened]).toEqual([1, 1]);
      expect([p.a.t.isOpen, p.b.t.isOpen]).toEqual([true, true]);
      expect([p.a.closes, p.b.closes]).toEqual([[], []]);
      expect([...p.a.errors, ...p.b.errors]).toEqual([]);
      for (const s of [p.a, p.b]) expect(isNonNegativeNumber(s.t.bufferedAmount())).toBe(true);
    });

    it(`datagrams both ways: ${DATAGRAMS} each, 1 B … ${MAX_PACKET} B, ≥ ${MIN_DELIVERY * 100} % arrive, each byte-identical`, async () => {
      const p = await openPair(3);
      // Both directions at once.
      await Promise.all([sendAll(p.a, 1), sendAll(p.b, 2)]);
      for (const s of [p.a, p.b]) expect(isNonNegativeNumber(s.t.bufferedAmount())).toBe(true);
      // Wait until everything is in, or nothing more comes for a while.
      let last = -1;
      const t0 = performance.now();
      while (performance.now() - t0 < 5_000) {
        const n = p.a.received.length + p.b.received.length;
        if (n >= 2 * DATAGRAMS || n === last) break;
        last = n;
        await sleep(300);
      }
      const ab = checkReceived(p.b, 1);
      const ba = checkReceived(p.a, 2);
      figures.push(`delivered a→b ${ab.arrived}/${DATAGRAMS}, b→a ${ba.arrived}/${DATAGRAMS}`);
      expect(ab.ratio).toBeGreaterThanOrEqual(MIN_DELIVERY);
      expect(ba.ratio).toBeGreaterThanOrEqual(MIN_DELIVERY);
      // A datagram is delivered at most once (no duplicates from an unreliable channel).
      expect(p.b.received.length).toBe(ab.arrived);
      expect(p.a.received.length).toBe(ba.arrived);
      expect([p.a.closes, p.b.closes]).toEqual([[], []]);
    });

    for (const closer of ['initiator', 'answerer'] as const) {
      it(`close() on the ${closer}: onClose there once, on the other side eventually; then send → false, no throw`, async () => {
        const p = await openPair(closer === 'initiator' ? 4 : 5);
        const [near, far] = closer === 'initiator' ? [p.a, p.b] : [p.b, p.a];
        near.t.close();
        // onClose fires for a local close (contract: "Fires onClose('closed') if it was not closed yet").
        await until(() => near.closes.length > 0, 1_000, 'local onClose');
        expect(near.t.isOpen).toBe(false);
        const ms = await until(() => far.closes.length > 0, closeTimeout, `the ${closer === 'initiator' ? 'answerer' : 'initiator'} to notice the close`);
        figures.push(`close seen remotely after ${ms.toFixed(0)} ms`);
        expect(far.t.isOpen).toBe(false);
        // Idempotent: more close() calls, on either side, fire nothing more.
        near.t.close();
        far.t.close();
        await sleep(200);
        expect(near.closes.length).toBe(1);
        expect(far.closes.length).toBe(1);
        for (const s of [near, far]) {
          let r: boolean | undefined;
          expect(() => (r = s.t.send(new Uint8Array(100)))).not.toThrow();
          expect(r).toBe(false);
          expect(isNonNegativeNumber(s.t.bufferedAmount())).toBe(true);
          expect(s.t.isOpen).toBe(false);
          expect(() => s.t.signal(new TextEncoder().encode('{"type":"offer","sdp":"v=0"}'))).not.toThrow();
        }
        await sleep(100);
        expect([near.opened, far.opened]).toEqual([1, 1]);
        expect(near.closes.length + far.closes.length).toBe(2);
      });
    }

    it('close() before open: onClose once, nothing opens, no throw', async () => {
      const p = makePair(env, 6);
      pairs.push(p);
      p.a.t.close();
      await until(() => p.a.closes.length > 0, 1_000, 'local onClose');
      await sleep(300);
      p.a.t.close();
      expect(p.a.closes.length).toBe(1);
      expect(p.a.opened).toBe(0);
      expect(p.a.t.isOpen).toBe(false);
      expect(p.a.t.send(new Uint8Array(1))).toBe(false);
      p.b.t.close();
      expect(p.b.closes.length).toBe(1);
    });

    it('signal() with garbage bytes does not throw; undecodable garbage does not stop the setup', async () => {
      const r = rng(99);
      const junk: Uint8Array[] = [new Uint8Array(0), new Uint8Array([0xff, 0xfe, 0x00]), Uint8Array.from({ length: 300 }, () => (r() * 256) | 0)];
      // Undecodable bytes before, during and after a normal setup.
      const p = await openPair(7, {
        beforeCarry: (a, b) => {
          for (const j of junk) for (const s of [a, b]) expect(() => s.t.signal(j)).not.toThrow();
        },
      });
      for (const j of junk) for (const s of [p.a, p.b]) expect(() => s.t.signal(j)).not.toThrow();
      await sleep(100);
      expect([p.a.t.isOpen, p.b.t.isOpen]).toEqual([true, true]);
      // Well-formed but meaningless setup messages: may end the transport, must not throw.
      const te = new TextEncoder();
      const odd = ['null', '1', '"x"', '{}', '[]', '{"type":"answer"}', '{"candidate":{"candidate":"nonsense"}}', '{"type":"offer","sdp":"v=0"}', '{"offer":"x"}', '{"answer":-1}'];
      const q = makePair(env, 8, { carry: false });
      pairs.push(q);
      for (const o of odd) for (const s of [q.a, q.b, p.a, p.b]) expect(() => s.t.signal(te.encode(o))).not.toThrow();
      await sleep(200);
      for (const s of [q.a, q.b, p.a, p.b]) {
        expect(s.closes.length).toBeLessThanOrEqual(1);
        expect(isNonNegativeNumber(s.t.bufferedAmount())).toBe(true);
        expect(() => s.t.send(new Uint8Array(1))).not.toThrow();
      }
      expect([q.a.opened, q.b.opened]).toEqual([0, 0]);
    });

    it('a station going down: sending never throws; after it is back, new paths through it open', async (ctx) => {
      if (!env.stationDown || !env.stationUp) return ctx.skip();
      const p = await openPair(9);
      const st = env.stations[0]!.id;
      await env.stationDown(st);
      try {
        for (let i = 0; i < 20; i++) {
          expect(() => p.a.t.send(new Uint8Array(64))).not.toThrow();
          expect(() => p.b.t.send(new Uint8Array(64))).not.toThrow();
          await sleep(10);
        }
        expect(p.a.closes.length).toBeLessThanOrEqual(1);
        expect(p.b.closes.length).toBeLessThanOrEqual(1);
      } finally {
        await env.stationUp(st);
      }
      const q = await openPair(10);
      q.a.t.send(new Uint8Array([42]));
      await until(() => q.b.received.length > 0, 3_000, 'a datagram on the new path');
    });
  });
}
