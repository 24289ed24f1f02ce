// No leaks across hundreds of hops: two NodeRuntimes in Node (@roamhq/wrtc) through the embedded stations, a
// short overlap, 200 hops alternating sides. Afterwards the runtimes hold only the transports of their open
// paths, sessions hold ≤ 4 paths, the relays' allocations and relay sockets are back to a small bound, and
// once stopped the process's active resources are back at the baseline. The stream loses nothing.
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocketConstructorLike } from '../../signaling-server/client.ts';
import { CountingFactory, debugCounts } from '../helpers/debug-counts.ts';
import { NodeRuntime } from '../../src/runtime/node-runtime.ts';
import { createSodiumCrypto } from '../../src/runtime/sodium-crypto.ts';
import { WebRtcFactory } from '../../src/runtime/webrtc-transport.ts';
import { startTestStack, type TestStack } from './harness.ts';
import { sleep, waitFor } from './pages.ts';

const HOPS = 200;
const OVERLAP_MS = 50;
const GAP_MS = 100; // between one side's hop and the other side's
const RATE = 50; // ticks a second, each way
const STATIONS = ['cell-a', 'cell-b', 'wifi'];

function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

describe('no leaks across hundreds of hops (Node, wrtc, embedded stations)', () => {
  let stack: TestStack;
  const runtimes: NodeRuntime[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ web: 'none' });
  });
  afterAll(async () => {
    for (const r of runtimes) await r.stop().catch(() => {});
    await stack?.stop();
  });

  it(`${HOPS} hops, overlap ${OVERLAP_MS} ms: transports = paths, ≤ 4 paths a session, relays back to a small bound, resources back to baseline, nothing lost`, async () => {
    await sleep(200);
    const baseline = resources();
    const crypto = await createSodiumCrypto();
    const secret = crypto.randomBytes(32);
    const factories: CountingFactory[] = [];
    const mk = (id: string, station: string) => {
      const f = new CountingFactory(new WebRtcFactory({ wrtc }));
      factories.push(f);
      const rt = new NodeRuntime({
        crypto,
        transports: f,
        signalingUrl: stack.config.signalingUrl,
        WebSocket: WebSocket as unknown as WebSocketConstructorLike,
        stations: async () => stack.stations.list(),
        room: 'leaks',
        secret,
        nodeId: id,
        name: id,
        station,
        overlapMs: OVERLAP_MS,
      });
      runtimes.push(rt);
      return rt;
    };
    const a = mk('alice', 'cell-a');
    await a.start();
    const b = mk('bob', 'cell-b');
    await b.start();
    const est = (r: NodeRuntime) => r.snapshot().peers.filter((p) => p.state === 'established').length;
    await waitFor(async () => [est(a), est(b)], ([x, y]) => x === 1 && y === 1, 10_000);
    for (const r of [a, b]) r.setOverlapMs(OVERLAP_MS);
    a.startStream(RATE);
    b.startStream(RATE);
    await sleep(300);

    // The hop loop: one side at a time, ~GAP_MS apart; a side hops again only after its last hop finished
    // (bounded: at most 2 s), each time to a station it is not on.
    const where = new Map<NodeRuntime, string>([
      [a, 'cell-a'],
      [b, 'cell-b'],
    ]);
    const hopsOf = (r: NodeRuntime) => r.snapshot().peers[0]?.hopsSurvived ?? 0;
    let maxPaths = 0;
    let maxTransports = 0;
    let maxLive = 0;
    let maxAlloc = 0;
    let slowHops = 0;
    const t0 = Date.now();
    for (let i = 0; i < HOPS; i++) {
      const r = i % 2 === 0 ? a : b;
      const other = r === a ? b : a;
      const cur = where.get(r)!;
      const next = STATIONS[(STATIONS.indexOf(cur) + 1 + (Math.floor(i / 2) % 2)) % 3]!;
      const before = hopsOf(r);
      await r.hop(next);
      where.set(r, next);
      await sleep(GAP_MS);
      const end = Date.now() + 2_000;
      while (hopsOf(r) <= before && Date.now() < end) await sleep(10);
      if (hopsOf(r) <= before) slowHops++;
      for (const x of [r, other]) {
        const c = debugCounts(x);
        maxPaths = Math.max(maxPaths, ...c.perSession.map((s) => s.paths));
        maxTransports = Math.max(maxTransports, c.transports);
      }
      maxLive = Math.max(maxLive, ...factories.map((f) => f.live.size));
      maxAlloc = Math.max(maxAlloc, ...STATIONS.map((s) => stack.stations.stats(s)?.allocations ?? 0));
    }
    const loopMs = Date.now() - t0;
    a.stopStream();
    b.stopStream();
    // Settle: overlaps end, closed paths' transports are released, allocations refreshed to zero.
    await sleep(1_500);

    // The stream: every tick exactly once, in order.
    for (const [me, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      const sent = peer.snapshot().peers[0]!.stats.sent;
      const got = await waitFor(async () => me.snapshot().peers[0]!.stats, (s) => s.delivered >= sent, 5_000);
      expect({ delivered: got.delivered, lost: got.lost, duplicated: got.duplicated, reordered: got.reordered }).toEqual({ delivered: sent, lost: 0, duplicated: 0, reordered: 0 });
    }

    // The runtimes: no more transports than open paths, no setups or introductions left over.
    const counts = [debugCounts(a), debugCounts(b)];
    const turn = Object.fromEntries(STATIONS.map((s) => [s, stack.stations.stats(s)!]));
    const hopMs = a
      .log()
      .concat(b.log())
      .filter((e) => e.kind === 'hop-finished')
      .map((e) => Number(/in (\d+) ms/.exec(e.text)?.[1]))
      .sort((x, y) => x - y);
    const pct = (q: number) => hopMs[Math.min(hopMs.length - 1, Math.floor(q * hopMs.length))];
    console.info(
      `[figures] leaks: ${HOPS} hops in ${loopMs} ms (${slowHops} not finished within 2 s); hops survived a ${hopsOf(a)} b ${hopsOf(b)}; ` +
        `hop ms p50 ${pct(0.5)} p95 ${pct(0.95)} max ${hopMs.at(-1)} (last ${hopMs.length}); during the loop max paths/session ${maxPaths}, ` +
        `max runtime transports ${maxTransports}, max live transports ${maxLive}, max allocations/station ${maxAlloc}; ` +
        `after: transports created ${factories.map((f) => f.created).join('/')}, live ${factories.map((f) => f.live.size).join('/')}, ` +
        `runtime ${JSON.stringify(counts.map((c) => ({ t: c.transports, open: c.openTransports, setups: c.setups, pending: c.pendingSetups, intro: c.intro, s: c.perSession })))}; ` +
        `TURN ${JSON.stringify(Object.fromEntries(Object.entries(turn).map(([k, v]) => [k, [v.allocations, v.relaySocketsOpen, v.allocationsTotal]])))}`,
    );
    expect(hopsOf(a) + hopsOf(b)).toBeGreaterThanOrEqual(HOPS * 0.9);
    for (const [k, c] of counts.entries()) {
      const f = factories[k]!;
      expect(c.sessions).toBe(1);
      expect(c.intro).toBe(0);
      expect(c.pendingSetups).toBe(0);
      expect(c.setups).toBeLessThanOrEqual(c.transports); // a setup record lives as long as its path
      expect(c.orphanTransports).toEqual([]);
      expect(c.transports).toBeLessThanOrEqual(c.perSession.reduce((n, s) => n + s.paths, 0));
      for (const s of c.perSession) expect(s.paths).toBeLessThanOrEqual(4);
      // Every transport the factory handed out is a path or closed.
      expect(f.live.size).toBe(c.transports);
    }
    expect(maxPaths).toBeLessThanOrEqual(4);
    // The relays: ≤ 2 allocations per station per node, relay sockets with them.
    for (const s of STATIONS) {
      expect(turn[s]!.allocations).toBeLessThanOrEqual(4);
      expect(turn[s]!.relaySocketsOpen).toBeLessThanOrEqual(4);
    }

    // Stop: every transport closes, the relays release every allocation, the process is back at its baseline.
    await a.stop();
    await b.stop();
    await waitFor(async () => factories.map((f) => f.live.size), (l) => l.every((n) => n === 0), 5_000);
    const released = await waitFor(
      async () => STATIONS.map((s) => stack.stations.stats(s)!.allocations + stack.stations.stats(s)!.relaySocketsOpen),
      (l) => l.every((n) => n === 0),
      5_000,
    ).catch((e: Error) => e.message);
    const stopped = Date.now();
    const right = resources();
    // simple-peer 9.11 never clears its 5 s iceComplete timer on destroy (one per peer connection that gathered
    // a candidate): those hold the destroyed peers for up to 5 s after their creation, then go. Bounded wait.
    const after = await waitFor(async () => resources(), (r) => total(r) <= total(baseline), 8_000).catch(() => resources());
    const backMs = Date.now() - stopped;
    console.info(
      `[figures] leaks: resources baseline ${JSON.stringify(baseline)}; right after stop ${JSON.stringify(right)}; ${backMs} ms later ${JSON.stringify(after)}; relays after stop ${JSON.stringify(released)}`,
    );
    expect(released).toEqual([0, 0, 0]);
    expect(total(after)).toBeLessThanOrEqual(total(baseline) + 2);
  }, 120_000);
});
