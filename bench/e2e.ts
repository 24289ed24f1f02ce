// The comparative benchmark: net2o's handover against the alternatives, in real headless Chromium pages,
// relay-only through loopback stations (all traffic on 127.0.0.1).
//
//   npm run bench               (full: 20 hops each way, 3 throughput rounds, 5 hops per room size, core bench)
//   npm run bench -- --quick    (fewer hops and rounds; reads the last bench/results/core.json; ~3 min)
//   npm run bench -- --only=hop,both,dead,tput,room,resume    (a subset, for development)
//
// Strategies: (a) ours — net2o session, make-before-break hop negotiated in-band; (b) ICE restart on the same
// RTCPeerConnection, offer/answer over its own data channel, perfect negotiation for glare; (c) destroy the
// peer and reconnect through the signaling server (simple-peer, no queueing). The pages are bench/page/.
//
// Writes bench/results/latest.json, latest.md (tables) and latest.svg (chart).
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchBrowser, startTestStack, type TestBrowser, type TestStack } from '../tests/e2e/harness.ts';
import type { BenchApi, BulkResult, StreamLog } from './page/main.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'results');
const QUICK = process.argv.includes('--quick');
const ONLY = (process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',') ?? []).filter(Boolean);
const CMD = QUICK ? 'npm run bench -- --quick' : 'npm run bench';
const want = (k: string) => ONLY.length === 0 || ONLY.includes(k);
const cmdFor = (k: string) => (QUICK ? `npm run bench -- --quick --only=${k}` : `npm run bench -- --only=${k}`);

const RATE = 200; // msg/s each way
const HOPS = QUICK ? 6 : 20; // per page (task 1)
const HOP_SPACING_MS = 800; // between one page's hop and the other's: each page hops every 1.6 s
const BOTH_ROUNDS = QUICK ? 4 : 10; // task 2
const BOTH_SPACING_MS = 1_600;
const RESUME_WITHIN_MS = 5_000;
const TPUT_MS = QUICK ? 3_000 : 5_000;
const TPUT_ROUNDS = QUICK ? 1 : 3;
const ROOM_SIZES = [2, 4, 8];
const ROOM_HOPS = QUICK ? 2 : 5;
const OUTAGE_MS = 1_000; // task 6: no station at all for this long
const DEAD_WAIT_MS = QUICK ? 9_000 : 18_000; // how long we watch Chromium's ICE state after the relay died

const STRATEGIES = ['ours', 'ice', 'reconnect'] as const;
type Strategy = (typeof STRATEGIES)[number];
const LABEL: Record<Strategy, string> = {
  ours: 'net2o (make-before-break, in-band)',
  ice: 'ICE restart, in-band, perfect negotiation',
  reconnect: 'destroy + reconnect via signaling (simple-peer)',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);
const round = (x: number | null | undefined, d = 1): number | null => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
function quantile(xs: number[], q: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}
const median = (xs: number[]) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ------------------------------------------------------------------------------------------------ pages

let stack: TestStack;
let browser: TestBrowser;
const openPages = new Set<Page>();
const pageWarnings: string[] = [];

async function openBench(mode: Strategy, name: string, station: string, opts: { room?: string; hash?: string } = {}): Promise<Page> {
  const page = await browser.newPage();
  openPages.add(page);
  page.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && pageWarnings.length < 200) pageWarnings.push(`${mode}/${name}: ${m.text().slice(0, 200)}`);
  });
  page.on('pageerror', (e) => pageWarnings.length < 200 && pageWarnings.push(`${mode}/${name} uncaught: ${e.message}`));
  const q = new URLSearchParams({ mode, name, station, ...(opts.room ? { room: opts.room } : {}) });
  const url = `${stack.webUrl.replace(/\/$/, '')}/bench/page/index.html?${q}${opts.hash ?? ''}`;
  // Vite's dev server may re-optimise dependencies on a first load (504 "Outdated Optimize Dep"): retry once.
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(url);
      await page.evaluate(() => Promise.race([window.benchReady, new Promise((_, f) => setTimeout(() => f(new Error('not ready in 20 s')), 20_000))]));
      return page;
    } catch (e) {
      if (attempt >= 2) throw e;
      log(`page ${mode}/${name} did not start (${(e as Error).message.slice(0, 120)}); reloading`);
      await sleep(1_000);
    }
  }
}

async function closePage(p: Page): Promise<void> {
  openPages.delete(p);
  await bench(p, (b) => b.close()).catch(() => {});
  await p.close().catch(() => {});
}

/** Runs `fn` against the page's `window.bench` (the function's source is sent, so it must be self-contained). */
function bench<T>(page: Page, fn: (b: BenchApi, arg: any) => T | Promise<T>, arg?: unknown): Promise<T> {
  return page.evaluate(
    ([src, a]) => {
      const f = new Function(`return (${src})`)() as (b: unknown, arg: unknown) => unknown;
      return f(window.bench, a);
    },
    [fn.toString(), arg] as const,
  ) as Promise<T>;
}

async function waitFor<T>(read: () => Promise<T>, cond: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await read();
  for (let i = 0; !cond(v) && Date.now() < end && i < 100_000; i++) {
    await sleep(50);
    v = await read();
  }
  if (!cond(v)) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last ${JSON.stringify(v).slice(0, 300)}`);
  return v;
}

let roomCounter = 0;
/** Two connected pages of one strategy: a on `sa`, b on `sb`. */
async function pair(mode: Strategy, sa: string, sb: string): Promise<[Page, Page]> {
  const room = `bench${process.pid}r${roomCounter++}`;
  const a = await openBench(mode, 'a', sa, { room });
  let hash = '';
  if (mode === 'ours') {
    const link = await a.evaluate(() => (window as unknown as { net2oDemo: { inviteLink(): string } }).net2oDemo.inviteLink());
    hash = link.slice(link.indexOf('#'));
  }
  const b = await openBench(mode, 'b', sb, { room, hash });
  for (const p of [a, b]) await waitFor(() => bench(p, (x) => x.connected()), (c) => c, 15_000, `${mode} pair connected`);
  return [a, b];
}

async function ourPeers(p: Page) {
  return p.evaluate(() =>
    (window as unknown as { net2oDemo: { peers(): Array<{ state: string; paths: Array<{ phase: string; isActive: boolean; localStation: string | null }> }> } }).net2oDemo.peers(),
  );
}

// ------------------------------------------------------------------------------------------------ analysis

interface Direction {
  tx: Map<number, number>; // seq → sentAt
  rx: Array<[number, number, number]>; // seq, sentAt, arrivedAt (arrival order)
  droppedAtSender: number;
}

function direction(sender: StreamLog, receiver: StreamLog): Direction {
  const tx = new Map<number, number>();
  for (let i = 0; i + 1 < sender.tx.length; i += 2) tx.set(sender.tx[i]!, sender.tx[i + 1]!);
  const rx: Array<[number, number, number]> = [];
  for (let i = 0; i + 2 < receiver.rx.length; i += 3) rx.push([receiver.rx[i]!, receiver.rx[i + 1]!, receiver.rx[i + 2]!]);
  return { tx, rx, droppedAtSender: sender.droppedAtSender };
}

function accounting(d: Direction, sentFrom = -Infinity, sentTo = Infinity) {
  const seen = new Set<number>();
  let duplicated = 0;
  let reordered = 0;
  let maxSeq = -1;
  for (const [seq, sentAt] of d.rx) {
    if (sentAt < sentFrom || sentAt >= sentTo) continue;
    if (seen.has(seq)) duplicated++;
    else {
      seen.add(seq);
      if (seq < maxSeq) reordered++;
    }
    maxSeq = Math.max(maxSeq, seq);
  }
  let sent = 0;
  let lost = 0;
  for (const [seq, at] of d.tx) {
    if (at < sentFrom || at >= sentTo) continue;
    sent++;
    if (!seen.has(seq)) lost++;
  }
  return { sent, delivered: seen.size, lost, duplicated, reordered };
}

/** Inter-arrival gaps that overlap [from, to): [gapMs, endsAt]. */
function gapsIn(d: Direction, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < d.rx.length; i++) {
    const prev = d.rx[i - 1]![2];
    const at = d.rx[i]![2];
    if (at >= from && prev < to) out.push(at - prev);
  }
  return out;
}

/** Gaps outside every window: the ordinary jitter of the stream. */
function quietGaps(d: Direction, windows: Array<[number, number]>, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < d.rx.length; i++) {
    const prev = d.rx[i - 1]![2];
    const at = d.rx[i]![2];
    if (prev < from || at > to) continue;
    if (windows.some(([w0, w1]) => at >= w0 && prev < w1)) continue;
    out.push(at - prev);
  }
  return out;
}

const dist = (xs: number[]) => ({ n: xs.length, median: round(median(xs)), p95: round(quantile(xs, 0.95)), max: round(xs.length ? Math.max(...xs) : null) });

// ------------------------------------------------------------------------------------------------ 1 + 2: hops

interface HopResult {
  strategy: Strategy;
  label: string;
  hops: number;
  /** Hops after which our end's path in use was on the new station ~800 ms later. */
  movedWithinWindow: number;
  notMoved: string[];
  perHopMaxGap: ReturnType<typeof dist>;
  allGapsInWindows: ReturnType<typeof dist> & { p99: number | null };
  quietGaps: ReturnType<typeof dist> & { p99: number | null };
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  droppedAtSender: number;
  hopFinishedMs?: ReturnType<typeof dist>;
  command: string;
}

interface BothResult {
  strategy: Strategy;
  label: string;
  rounds: number;
  movedWithinWindow: number;
  notMoved: string[];
  succeeded: number;
  successRate: number;
  perRoundMaxGap: ReturnType<typeof dist>;
  lost: number;
  duplicated: number;
  startSkewMs: ReturnType<typeof dist>;
  failures: string[];
  command: string;
}

async function hopExperiment(mode: Strategy): Promise<{ single: HopResult | null; both: BothResult | null }> {
  const [a, b] = await pair(mode, 'cell-a', 'cell-b');
  try {
    for (const p of [a, b]) await bench(p, (x, r) => x.startStream(r), RATE);
    await sleep(800);
    const s1 = ['wifi', 'cell-b', 'cell-a'];
    const s2 = ['cell-a', 'wifi', 'cell-b'];
    const singleHops: number[] = [];
    let moved = 0;
    const notMoved: string[] = [];
    let single: HopResult | null = null;
    let both: BothResult | null = null;
    const t0 = Date.now();
    if (want('hop')) {
      // Task 1: one end at a time; the other end hops 800 ms later.
      for (let i = 0; i < HOPS; i++) {
        for (const [p, st] of [
          [a, s1[i % 3]!],
          [b, s2[i % 3]!],
        ] as const) {
          singleHops.push(await bench(p, (x, s) => x.hop(s), st));
          await sleep(HOP_SPACING_MS - 30);
          // Did the path really move? (ICE restart: the selected pair's local candidate is on the new relay.)
          if ((await bench(p, (x) => x.pathStation())) === st) moved++;
          else notMoved.push(`${p === a ? 'a' : 'b'}→${st}: ${await bench(p, (x) => x.pathStation())}`);
        }
      }
    }
    const bothStart = Date.now();
    const rounds: Array<{ h: number; skew: number }> = [];
    let bothMoved = 0;
    const bothNotMoved: string[] = [];
    if (want('both')) {
      // Task 2: both ends at the same moment (two concurrent evaluate calls).
      const st1 = await bench(a, (x) => x.station());
      const st2 = await bench(b, (x) => x.station());
      const order = ['cell-a', 'cell-b', 'wifi'];
      let cur1 = order.indexOf(st1);
      let cur2 = order.indexOf(st2);
      for (let i = 0; i < BOTH_ROUNDS; i++) {
        cur1 = (cur1 + 1) % 3;
        cur2 = (cur2 + 1) % 3;
        const [h1, h2] = await Promise.all([bench(a, (x, s) => x.hop(s), order[cur1]), bench(b, (x, s) => x.hop(s), order[cur2])]);
        rounds.push({ h: Math.min(h1, h2), skew: Math.abs(h1 - h2) });
        await sleep(BOTH_SPACING_MS - 60);
        const [m1, m2] = await Promise.all([bench(a, (x) => x.pathStation()), bench(b, (x) => x.pathStation())]);
        if (m1 === order[cur1] && m2 === order[cur2]) bothMoved++;
        else bothNotMoved.push(`round ${i + 1}: a on ${m1} (want ${order[cur1]}), b on ${m2} (want ${order[cur2]})`);
      }
      await sleep(RESUME_WITHIN_MS - BOTH_SPACING_MS + 200); // the last round gets its full 5 s
    }
    await sleep(600);
    for (const p of [a, b]) await bench(p, (x) => x.stopStream());
    await sleep(2_000); // drain
    const la = await bench(a, (x) => x.takeLog());
    const lb = await bench(b, (x) => x.takeLog());
    const dirs = [direction(la, lb), direction(lb, la)];
    const extras: Partial<HopResult> = {};
    if (mode === 'ours') {
      const durations: number[] = [];
      for (const p of [a, b]) {
        const ds = await p.evaluate(() =>
          (window as unknown as { net2oDemo: { events(): Array<{ kind: string; text: string }> } }).net2oDemo
            .events()
            .filter((e) => e.kind === 'hop-finished')
            .map((e) => Number(/in (\d+) ms/.exec(e.text)?.[1])),
        );
        durations.push(...ds.filter((x) => Number.isFinite(x)));
      }
      extras.hopFinishedMs = dist(durations);
    }
    if (singleHops.length) {
      const windows: Array<[number, number]> = singleHops.map((h) => [h, h + HOP_SPACING_MS]);
      const perHop: number[] = [];
      const all: number[] = [];
      for (const [w0, w1] of windows) {
        const g = dirs.flatMap((d) => gapsIn(d, w0, w1));
        all.push(...g);
        perHop.push(g.length ? Math.max(...g) : w1 - w0);
      }
      const first = singleHops[0]!;
      const last = singleHops[singleHops.length - 1]! + HOP_SPACING_MS;
      const quiet = dirs.flatMap((d) => quietGaps(d, windows, first - 700, last));
      const acc = dirs.map((d) => accounting(d, -Infinity, last));
      single = {
        strategy: mode,
        label: LABEL[mode],
        hops: singleHops.length,
        movedWithinWindow: moved,
        notMoved: notMoved.slice(0, 10),
        perHopMaxGap: dist(perHop),
        allGapsInWindows: { ...dist(all), p99: round(quantile(all, 0.99)) },
        quietGaps: { ...dist(quiet), p99: round(quantile(quiet, 0.99)) },
        sent: acc.reduce((s, x) => s + x.sent, 0),
        delivered: acc.reduce((s, x) => s + x.delivered, 0),
        lost: acc.reduce((s, x) => s + x.lost, 0),
        duplicated: acc.reduce((s, x) => s + x.duplicated, 0),
        reordered: acc.reduce((s, x) => s + x.reordered, 0),
        droppedAtSender: dirs.reduce((s, d) => s + d.droppedAtSender, 0),
        ...extras,
        command: cmdFor('hop'),
      };
      log(`${mode} single hops: per-hop max gap ${JSON.stringify(single.perHopMaxGap)} lost ${single.lost} (+${single.droppedAtSender} never sent) dup ${single.duplicated} (${Math.round((Date.now() - t0) / 1000)} s)`);
    }
    if (rounds.length) {
      let succeeded = 0;
      const perRound: number[] = [];
      const failures: string[] = [];
      let lost = 0;
      let duplicated = 0;
      for (let i = 0; i < rounds.length; i++) {
        const h = rounds[i]!.h;
        const next = rounds[i + 1]?.h ?? h + BOTH_SPACING_MS;
        const g = dirs.flatMap((d) => gapsIn(d, h, next));
        perRound.push(g.length ? Math.max(...g) : next - h);
        // Everything sent from just before this round's hop until the next round's must arrive (exactly once),
        // and each direction must carry a message sent ≥ 500 ms after the hop within 5 s of the hop.
        const acc = dirs.map((d) => accounting(d, h - 100, next));
        const roundLost = acc.reduce((s, x) => s + x.lost, 0);
        const roundDup = acc.reduce((s, x) => s + x.duplicated, 0);
        lost += roundLost;
        duplicated += roundDup;
        const resumed = dirs.every((d) => d.rx.some(([, sentAt, at]) => sentAt >= h + 500 && sentAt < Math.max(next, h + 600) && at <= h + RESUME_WITHIN_MS));
        if (resumed && roundLost === 0 && roundDup === 0) succeeded++;
        else failures.push(`round ${i + 1}: ${resumed ? 'resumed' : 'NOT resumed within 5 s'}, lost ${roundLost}, duplicated ${roundDup}`);
      }
      both = {
        strategy: mode,
        label: LABEL[mode],
        rounds: rounds.length,
        movedWithinWindow: bothMoved,
        notMoved: bothNotMoved.slice(0, 10),
        succeeded,
        successRate: round(succeeded / rounds.length, 2)!,
        perRoundMaxGap: dist(perRound),
        lost,
        duplicated,
        startSkewMs: dist(rounds.map((r) => r.skew)),
        failures,
        command: cmdFor('both'),
      };
      log(`${mode} both at once: ${succeeded}/${rounds.length} ok, per-round max gap ${JSON.stringify(both.perRoundMaxGap)} lost ${lost} (${Math.round((Date.now() - bothStart) / 1000)} s)`);
    }
    return { single, both };
  } finally {
    await closePage(a);
    await closePage(b);
  }
}

// ------------------------------------------------------------------------------------------------ 3: dead relay

async function deadRelay() {
  const [a, b] = await pair('ours', 'cell-a', 'cell-b');
  let c: Page | undefined;
  let d: Page | undefined;
  let killed = '';
  try {
    await bench(a, () => (window as unknown as { net2oDemo: { attach(s: string): Promise<void> } }).net2oDemo.attach('wifi'));
    await waitFor(() => ourPeers(a), (ps) => (ps[0]?.paths.filter((x) => x.phase === 'validated').length ?? 0) >= 2, 8_000, 'two validated paths');
    await sleep(300);
    killed = (await ourPeers(a))[0]!.paths.find((x) => x.isActive)!.localStation!;
    // The plain RTCPeerConnection, through the station that will die (same run, same moment).
    [c, d] = await pair('ice', killed, 'cell-b');
    for (const p of [a, b, c, d]) await bench(p, (x, r) => x.startStream(r), RATE);
    await sleep(1_000);
    for (const p of [a, b, c, d]) await bench(p, (x) => x.takeLog());
    await sleep(500);
    // From Node (the page's own admin fetch fails cross-origin here); Node's clock and the pages' wall clock are
    // both the system clock.
    const t0 = Date.now();
    await stack.stationAdmin(killed, 'down');
    log(`dead relay: ${killed} down; watching for ${DEAD_WAIT_MS} ms`);
    const end = Date.now() + DEAD_WAIT_MS;
    for (let i = 0; Date.now() < end && i < 1000; i++) {
      const st = await bench(c, (x) => x.iceStates());
      if (st.some(([s, at]) => (QUICK ? /disconnected$/ : /failed$/).test(s) && at > t0)) break;
      await sleep(200);
    }
    for (const p of [a, b, c, d]) await bench(p, (x) => x.stopStream());
    await sleep(1_500);
    const [la, lb, lc, ld] = await Promise.all([a, b, c, d].map((p) => bench(p, (x) => x.takeLog())));
    const ours = [direction(la!, lb!), direction(lb!, la!)];
    // Flowing again: the end of the longest inter-arrival gap that starts at or after the outage.
    const flowAgain = ours.map((dd) => {
      let best = 0;
      let endAt = NaN;
      for (let i = 1; i < dd.rx.length; i++) {
        const prev = dd.rx[i - 1]![2];
        const at = dd.rx[i]![2];
        if (at < t0 || prev > t0 + 10_000) continue;
        if (at - prev > best) {
          best = at - prev;
          endAt = at;
        }
      }
      return { gapMs: best, flowingAgainMs: endAt - t0 };
    });
    // Count from the first tick the receiver logged: the logs were reset one page after the other.
    const acc = ours.map((dd) => accounting(dd, dd.rx[0]?.[1] ?? -Infinity));
    const states = await bench(c, (x) => x.iceStates());
    const after = (s: string) => {
      const x = states.find(([st, at]) => st === s && at > t0);
      return x ? round(x[1] - t0, 0) : null;
    };
    const plain = [direction(lc!, ld!), direction(ld!, lc!)];
    const lastArrival = Math.max(...plain.map((dd) => dd.rx.filter(([, , at]) => at > 0).reduce((m, r) => Math.max(m, r[2]), 0)));
    const plainAcc = plain.map((dd) => accounting(dd, t0 - 50));
    const counters = await a.evaluate(() => (window as unknown as { net2oDemo: { stats(): { failovers: number } } }).net2oDemo.stats().failovers);
    const r = {
      station: killed,
      ours: {
        flowingAgainMs: round(Math.max(...flowAgain.map((x) => x.flowingAgainMs)), 0),
        perDirection: flowAgain.map((x) => ({ flowingAgainMs: round(x.flowingAgainMs, 0), gapMs: round(x.gapMs, 0) })),
        lost: acc.reduce((s, x) => s + x.lost, 0),
        duplicated: acc.reduce((s, x) => s + x.duplicated, 0),
        failovers: counters,
      },
      chromium: {
        disconnectedMs: after('disconnected') ?? after('pc:disconnected'),
        failedMs: after('failed') ?? after('pc:failed'),
        watchedMs: DEAD_WAIT_MS,
        lastDeliveryAfterDownMs: round(lastArrival - t0, 0),
        lostAfterDown: plainAcc.reduce((s, x) => s + x.lost, 0),
        states: states.filter(([, at]) => at > t0).map(([s, at]) => `${s}@${Math.round(at - t0)}ms`),
      },
      command: cmdFor('dead'),
    };
    log(`dead relay: ours flowing again after ${r.ours.flowingAgainMs} ms (lost ${r.ours.lost}); Chromium disconnected at ${r.chromium.disconnectedMs} ms, failed at ${r.chromium.failedMs}`);
    return r;
  } finally {
    for (const p of [a, b, c, d]) if (p) await closePage(p);
    if (killed) await stack.stationAdmin(killed, 'up').catch(() => {});
    await sleep(300);
  }
}

// ------------------------------------------------------------------------------------------------ 4: throughput

async function throughputRun(mode: 'ours' | 'reconnect', pollMs?: number) {
  const [a, b] = await pair(mode, mode === 'ours' ? 'wifi' : 'cell-a', 'cell-b');
  try {
    if (mode === 'ours') {
      // Measure on a path built in-band (as after any hop): hop a to cell-a and let the overlap end. (Before
      // commit cf3f250 the introduction's path never left transport backpressure and bulk traffic stalled on it.)
      for (const p of [a, b]) await p.evaluate(() => (window as unknown as { net2oDemo: { setOverlapMs(ms: number): void } }).net2oDemo.setOverlapMs(200));
      await bench(a, (x) => x.hop('cell-a'));
      await waitFor(() => ourPeers(a), (ps) => ps[0]?.paths.length === 1 && ps[0].paths[0]!.localStation === 'cell-a' && ps[0].paths[0]!.phase === 'validated', 10_000, 'one path on cell-a');
    }
    await sleep(300);
    await bench(b, (x) => x.bulkReset());
    const sent: BulkResult = await bench(a, (x, o) => x.bulk(o.ms, 16_384, o.pollMs ? { pollMs: o.pollMs } : undefined), { ms: TPUT_MS, pollMs });
    // Let the queues drain (bounded), then read the receiver.
    await waitFor(() => bench(b, (x) => x.bulkRx().bytes), (n) => n >= sent.sentBytes, 15_000, 'bulk drained').catch(() => {});
    const rx = await bench(b, (x) => x.bulkRx());
    // Steady state: from 0.5 s after the first arrival to the end of the send window.
    const from = 5;
    const to = Math.max(from + 1, Math.floor(TPUT_MS / 100) - 1);
    const bytes = rx.arrivals.slice(from, to).reduce((s, x) => s + x, 0);
    const steady = bytes / ((to - from) / 10) / 1e6;
    const overall = rx.bytes / ((rx.last - rx.first) / 1000) / 1e6;
    return { MBps: round(steady, 2)!, overallMBps: round(overall, 2)!, sentMB: round(sent.sentBytes / 1e6, 1), receivedMB: round(rx.bytes / 1e6, 1), complete: rx.bytes >= sent.sentBytes };
  } finally {
    await closePage(a);
    await closePage(b);
  }
}

async function throughput() {
  const ours: number[] = [];
  const raw: number[] = [];
  const rawPoll: number[] = [];
  const runs: unknown[] = [];
  for (let i = 0; i < TPUT_ROUNDS; i++) {
    const o = await throughputRun('ours');
    ours.push(o.MBps);
    const r = await throughputRun('reconnect');
    raw.push(r.MBps);
    const rp = await throughputRun('reconnect', 5);
    rawPoll.push(rp.MBps);
    runs.push({ ours: o, raw: r, rawPoll5ms: rp });
    log(`throughput round ${i + 1}: ours ${o.MBps} MB/s, raw ${r.MBps} MB/s, raw (5 ms drain poll) ${rp.MBps} MB/s`);
  }
  const mo = median(ours)!;
  const mr = median(raw)!;
  const mp = median(rawPoll)!;
  return {
    messageBytes: 16_384,
    seconds: TPUT_MS / 1000,
    rounds: TPUT_ROUNDS,
    oursMBps: round(mo, 2),
    rawMBps: round(mr, 2),
    rawPoll5msMBps: round(mp, 2),
    ratio: round(mo / mr, 2),
    ratioVsPoll5ms: round(mo / mp, 2),
    runs,
    command: cmdFor('tput'),
  };
}

// ------------------------------------------------------------------------------------------------ 5: room size

async function roomSize() {
  const out: Array<{ nodes: number; sessionsOfHopper: number; hops: number; medianMs: number | null; maxMs: number | null; allMoved: number; hopFinishedMs: ReturnType<typeof dist>; lost: number; setupSeconds: number }> = [];
  const stations = ['cell-a', 'cell-b', 'wifi'];
  for (const n of ROOM_SIZES) {
    const t0 = Date.now();
    const pages: Page[] = [];
    try {
      const room = `bench${process.pid}room${n}`;
      const first = await openBench('ours', 'n0', 'cell-a', { room });
      pages.push(first);
      const link = await first.evaluate(() => (window as unknown as { net2oDemo: { inviteLink(): string } }).net2oDemo.inviteLink());
      const hash = link.slice(link.indexOf('#'));
      for (let i = 1; i < n; i++) pages.push(await openBench('ours', `n${i}`, stations[i % 3]!, { room, hash }));
      for (const p of pages)
        await waitFor(() => ourPeers(p), (ps) => ps.filter((x) => x.state === 'established').length >= n - 1, 30_000 + 5_000 * n, `${n}-node room established`);
      const setupSeconds = round((Date.now() - t0) / 1000, 1)!;
      for (const p of pages) await bench(p, (x) => x.startStream(20));
      await sleep(800);
      const times: number[] = [];
      let allMoved = 0;
      let cur = 0;
      for (let h = 0; h < ROOM_HOPS; h++) {
        cur = (cur + 1) % 3;
        const r = await bench(first, (x, s) => x.hopAndWait(s, 10_000), stations[cur]);
        if (r.ms !== null) {
          times.push(r.ms);
          allMoved++;
        } else log(`room ${n}: hop ${h + 1} did not finish within 10 s (${r.moved}/${r.sessions} moved)`);
        await sleep(2_000);
      }
      for (const p of pages) await bench(p, (x) => x.stopStream());
      await sleep(1_500);
      let lost = 0;
      for (const p of pages)
        lost += await p.evaluate(() => (window as unknown as { net2oDemo: { stats(): { lost: number } } }).net2oDemo.stats().lost);
      const durations = await first.evaluate(() =>
        (window as unknown as { net2oDemo: { events(): Array<{ kind: string; text: string }> } }).net2oDemo
          .events()
          .filter((e) => e.kind === 'hop-finished')
          .map((e) => Number(/in (\d+) ms/.exec(e.text)?.[1])),
      );
      const row = {
        nodes: n,
        sessionsOfHopper: n - 1,
        hops: ROOM_HOPS,
        medianMs: round(median(times), 0),
        maxMs: round(times.length ? Math.max(...times) : null, 0),
        allMoved,
        hopFinishedMs: dist(durations.filter((x) => Number.isFinite(x))),
        lost,
        setupSeconds,
      };
      out.push(row);
      log(`room of ${n}: every session moved in median ${row.medianMs} ms, max ${row.maxMs} ms (${allMoved}/${ROOM_HOPS}), lost ${lost}, setup ${setupSeconds} s`);
    } catch (e) {
      log(`room of ${n}: FAILED ${(e as Error).message}`);
      out.push({ nodes: n, sessionsOfHopper: n - 1, hops: 0, medianMs: null, maxMs: null, allMoved: 0, hopFinishedMs: dist([]), lost: -1, setupSeconds: round((Date.now() - t0) / 1000, 1)! });
    } finally {
      for (const p of pages) await closePage(p);
    }
  }
  return { rows: out, command: cmdFor('room') };
}

// ------------------------------------------------------------------------------------------------ 6: resumption

async function resumption() {
  const rows = [];
  for (const mode of ['ours', 'reconnect'] as const) {
    const [a, b] = await pair(mode, 'cell-a', 'cell-b');
    try {
      for (const p of [a, b]) await bench(p, (x, r) => x.startStream(r), RATE);
      await sleep(800);
      const tLost = await bench(a, (x) => x.lose());
      await sleep(OUTAGE_MS);
      const t1 = await bench(a, (x) => x.attachNew('wifi'));
      await sleep(5_000);
      for (const p of [a, b]) await bench(p, (x) => x.stopStream());
      await sleep(2_000);
      const la = await bench(a, (x) => x.takeLog());
      const lb = await bench(b, (x) => x.takeLog());
      const dirs = [direction(la, lb), direction(lb, la)];
      const flowing = dirs.map((d) => {
        const first = d.rx.find(([, , at]) => at > t1);
        return first ? first[2] - t1 : null;
      });
      const acc = dirs.map((d) => accounting(d));
      const row = {
        strategy: mode,
        label: mode === 'ours' ? 'net2o: detach(abrupt), attach(new) — same session' : 'reconnect: new peer through the signaling server (no queue)',
        outageMs: round(t1 - tLost, 0),
        flowingAgainMs: flowing.every((x) => x !== null) ? round(Math.max(...(flowing as number[])), 0) : null,
        perDirectionMs: flowing.map((x) => round(x, 0)),
        lost: acc.reduce((s, x) => s + x.lost, 0),
        droppedAtSender: dirs.reduce((s, d) => s + d.droppedAtSender, 0),
        duplicated: acc.reduce((s, x) => s + x.duplicated, 0),
        command: cmdFor('resume'),
      };
      rows.push(row);
      log(`resume ${mode}: flowing again ${row.flowingAgainMs} ms after attach, lost ${row.lost}`);
    } finally {
      await closePage(a);
      await closePage(b);
    }
  }
  return rows;
}

// ------------------------------------------------------------------------------------------------ 7: core

function coreFigures() {
  const file = join(RESULTS, 'core.json');
  const before = existsSync(file) ? readFileSync(file, 'utf8') : null;
  let ran = false;
  if (!QUICK && want('core')) {
    // A fresh quick core run in this run; the committed core.json (possibly a full run) is put back afterwards.
    log('core bench: npm run bench:core -- --quick');
    const r = spawnSync('npm', ['run', '--silent', 'bench:core', '--', '--quick'], { cwd: join(HERE, '..'), encoding: 'utf8', timeout: 180_000 });
    ran = r.status === 0;
    if (!ran) log(`core bench failed: ${r.stderr?.slice(-500)}`);
  }
  if (!existsSync(file)) return null;
  const core = JSON.parse(readFileSync(file, 'utf8')) as {
    env: { command: string; date: string; commit: string };
    throughput: Array<{ size: number; ratio: number; oursMBps: number; bareMBps: number }>;
    memory: { bytesPerConnection: number; connections: number };
    hop: Array<{ sessions: number; hopSimMs: number | null; wallMs: number }>;
  };
  if (ran && before !== null) writeFileSync(file, before);
  return {
    source: ran ? 'run now (npm run bench:core -- --quick)' : `read from bench/results/core.json (${core.env.command}, ${core.env.date}, commit ${core.env.commit})`,
    command: core.env.command,
    date: core.env.date,
    throughput: core.throughput.map((t) => ({ size: t.size, ratio: t.ratio, oursMBps: t.oursMBps, bareMBps: t.bareMBps })),
    bytesPerConnection: core.memory.bytesPerConnection,
    hop: core.hop.map((h) => ({ sessions: h.sessions, hopSimMs: h.hopSimMs, wallMs: h.wallMs })),
  };
}

// ------------------------------------------------------------------------------------------------ report

type Results = Awaited<ReturnType<typeof main>>;

function fmt(x: number | null | undefined, unit = ''): string {
  return x == null ? '—' : `${x}${unit}`;
}

function markdown(r: Results): string {
  const o: string[] = [];
  o.push(`# Benchmarks: net2o handover against the alternatives${QUICK ? ' (quick)' : ''}`, '');
  o.push(
    `\`${CMD}\` — ${r.env.date}, commit ${r.env.commit}, Node ${r.env.node}, ${r.env.cpu} (${r.env.cpus} CPUs), Chromium ${r.env.chromium}; load average ${r.env.loadBefore.join('/')} before, ${r.env.loadAfter.join('/')} after; ${r.env.totalSeconds} s. Real headless Chromium pages, relay-only through loopback TURN stations (embedded), stream ${RATE} msg/s each way. Reproduce one section with the command in its row.`,
    '',
  );
  o.push('## Ratios first', '');
  o.push('Ratio = net2o ÷ alternative. For times and gaps below 1 favours net2o; for throughput above 1 does.', '');
  o.push('| figure | net2o | alternative | ratio | command |', '|---|---|---|---|---|');
  const hop = Object.fromEntries(r.hops.map((h) => [h.strategy, h]));
  const both = Object.fromEntries(r.both.map((h) => [h.strategy, h]));
  /** net2o's figure divided by the alternative's (for times: below 1 is better for net2o). */
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? '—' : `${round(a / b, 2)}`);
  for (const alt of ['ice', 'reconnect'] as const) {
    const h = hop[alt];
    if (!hop.ours || !h) continue;
    const name = alt === 'ice' ? 'ICE restart' : 'reconnect';
    o.push(`| one end hops: worst gap per hop, median | ${fmt(hop.ours.perHopMaxGap.median, ' ms')} | ${fmt(h.perHopMaxGap.median, ' ms')} (${name}) | ${ratio(hop.ours.perHopMaxGap.median, h.perHopMaxGap.median)} | \`${hop.ours.command}\` |`);
    o.push(`| one end hops: worst gap per hop, p95 | ${fmt(hop.ours.perHopMaxGap.p95, ' ms')} | ${fmt(h.perHopMaxGap.p95, ' ms')} (${name}) | ${ratio(hop.ours.perHopMaxGap.p95, h.perHopMaxGap.p95)} | \`${hop.ours.command}\` |`);
    o.push(`| one end hops: messages lost / duplicated over ${hop.ours.hops} hops | ${hop.ours.lost} / ${hop.ours.duplicated} | ${h.lost} / ${h.duplicated} (${name}) | — | \`${hop.ours.command}\` |`);
  }
  for (const alt of ['ice', 'reconnect'] as const) {
    const h = both[alt];
    if (!both.ours || !h) continue;
    const name = alt === 'ice' ? 'ICE restart' : 'reconnect';
    o.push(`| both ends hop at once: success (resumed ≤ 5 s, nothing lost) | ${both.ours.succeeded}/${both.ours.rounds} | ${h.succeeded}/${h.rounds} (${name}) | — | \`${both.ours.command}\` |`);
    o.push(`| both ends hop at once: worst gap per round, median | ${fmt(both.ours.perRoundMaxGap.median, ' ms')} | ${fmt(h.perRoundMaxGap.median, ' ms')} (${name}) | ${ratio(both.ours.perRoundMaxGap.median, h.perRoundMaxGap.median)} | \`${both.ours.command}\` |`);
  }
  if (r.dead)
    o.push(`| dead relay: net2o stream flowing again vs Chromium reporting 'disconnected' | ${fmt(r.dead.ours.flowingAgainMs, ' ms')} | ${fmt(r.dead.chromium.disconnectedMs, ' ms')} (plain RTCPeerConnection; its stream never resumes) | ${ratio(r.dead.ours.flowingAgainMs, r.dead.chromium.disconnectedMs)} | \`${r.dead.command}\` |`);
  if (r.tput)
    o.push(`| throughput, 16 KiB messages, one relay path | ${r.tput.oursMBps} MB/s | ${r.tput.rawMBps} MB/s (raw reliable channel) | **${r.tput.ratio}** | \`${r.tput.command}\` |`);
  const ro = r.resume.find((x) => x.strategy === 'ours');
  const rr = r.resume.find((x) => x.strategy === 'reconnect');
  if (ro && rr) {
    o.push(`| resumption (${OUTAGE_MS} ms without a station): flowing again after attach | ${fmt(ro.flowingAgainMs, ' ms')} | ${fmt(rr.flowingAgainMs, ' ms')} (reconnect) | ${ratio(ro.flowingAgainMs, rr.flowingAgainMs)} | \`${ro.command}\` |`);
    o.push(`| resumption: messages lost | ${ro.lost} | ${rr.lost} (reconnect) | — | \`${ro.command}\` |`);
  }
  if (r.room) {
    const two = r.room.rows.find((x) => x.nodes === 2);
    const big = [...r.room.rows].reverse().find((x) => x.medianMs !== null);
    if (two && big && big !== two)
      o.push(`| hop cost: ${big.nodes} nodes vs 2 (median time until every session moved) | ${fmt(big.medianMs, ' ms')} | ${fmt(two.medianMs, ' ms')} (2 nodes) | ${ratio(big.medianMs, two.medianMs)} | \`${r.room.command}\` |`);
  }
  if (r.core) for (const t of r.core.throughput) o.push(`| core throughput ${t.size / 1024} KiB (no WebRTC) | ${t.oursMBps} MB/s | ${t.bareMBps} MB/s (bare AEAD) | **${t.ratio}** | \`${r.core.command}\` |`);
  o.push('');

  if (r.hops.length) {
    o.push(`## 1. Hop gap: ${r.hops[0]!.hops} hops (each page ${r.hops[0]!.hops / 2}), one end at a time, ${HOP_SPACING_MS} ms apart`, '');
    o.push('Worst inter-arrival gap (both directions) in the window [hop, hop + 800 ms]: median / p95 / max over hops; "quiet" is the same stream away from hops (its jitter floor).', '');
    o.push('| strategy | path on new station by +770 ms | worst gap per hop: median | p95 | max | all gaps in windows p99 | quiet p99 / max | lost | duplicated | reordered | command |', '|---|---|---|---|---|---|---|---|---|---|---|');
    for (const h of r.hops)
      o.push(
        `| ${h.label} | ${h.movedWithinWindow}/${h.hops} | ${fmt(h.perHopMaxGap.median, ' ms')} | ${fmt(h.perHopMaxGap.p95, ' ms')} | ${fmt(h.perHopMaxGap.max, ' ms')} | ${fmt(h.allGapsInWindows.p99, ' ms')} | ${fmt(h.quietGaps.p99)} / ${fmt(h.quietGaps.max, ' ms')} | ${h.lost}${h.droppedAtSender ? ` (${h.droppedAtSender} of all ticks this run found no open channel)` : ''} | ${h.duplicated} | ${h.reordered} | \`${h.command}\` |`,
      );
    if (hop.ours?.hopFinishedMs) o.push('', `net2o's own hop duration (hop-finished: all traffic on the new station): median ${hop.ours.hopFinishedMs.median} ms, max ${hop.ours.hopFinishedMs.max} ms.`);
    o.push('', 'Baseline (c) is measured as-is: a message sent while no channel is open is gone (simple-peer/PeerJS have no queue); an app would have to add its own queue, acks and resends.', '');
  }
  if (r.both.length) {
    o.push(`## 2. Both ends hop at the same moment: ${r.both[0]!.rounds} rounds, ${BOTH_SPACING_MS} ms apart`, '');
    o.push('Success: each direction carries a message sent ≥ 500 ms after the hop within 5 s of it, and nothing sent in the round is lost or duplicated.', '');
    o.push('| strategy | success | both paths on the new stations by +1.5 s | worst gap per round: median | p95 | max | lost | duplicated | start skew median/max | command |', '|---|---|---|---|---|---|---|---|---|---|');
    for (const h of r.both)
      o.push(
        `| ${h.label} | ${h.succeeded}/${h.rounds} | ${h.movedWithinWindow}/${h.rounds} | ${fmt(h.perRoundMaxGap.median, ' ms')} | ${fmt(h.perRoundMaxGap.p95, ' ms')} | ${fmt(h.perRoundMaxGap.max, ' ms')} | ${h.lost} | ${h.duplicated} | ${fmt(h.startSkewMs.median)} / ${fmt(h.startSkewMs.max, ' ms')} | \`${h.command}\` |`,
      );
    o.push('');
  }
  if (r.dead) {
    const d = r.dead;
    o.push(`## 3. Dead relay (station ${d.station} taken down; net2o node attached to a second station)`, '');
    o.push('| | time after the relay died | lost | command |', '|---|---|---|---|');
    o.push(`| net2o: stream flowing again (end of the longest gap, worst direction) | ${fmt(d.ours.flowingAgainMs, ' ms')} | ${d.ours.lost} (duplicated ${d.ours.duplicated}) | \`${d.command}\` |`);
    o.push(`| Chromium RTCPeerConnection through that relay: iceConnectionState 'disconnected' | ${fmt(d.chromium.disconnectedMs, ' ms')} | ${d.chromium.lostAfterDown} (everything after the outage) | \`${d.command}\` |`);
    o.push(`| … 'failed' (iceConnectionState or connectionState) | ${d.chromium.failedMs == null ? `not within ${d.chromium.watchedMs} ms` : `${d.chromium.failedMs} ms`} | | |`);
    o.push('', `Chromium's states after the outage: ${d.chromium.states.join(', ') || 'none'}.`, '');
  }
  if (r.tput) {
    const t = r.tput;
    o.push(`## 4. Throughput over one relay path (16 KiB messages, ${t.seconds} s, ${t.rounds} round(s), median, steady state)`, '');
    o.push('| | MB/s | ratio | command |', '|---|---|---|---|');
    o.push(`| net2o session (encrypted, reliable, ordered; unreliable channel below, 64/16 KiB backpressure, 5 ms drain poll) | ${t.oursMBps} | **${t.ratio}** | \`${t.command}\` |`);
    o.push(`| raw simple-peer reliable data channel, 64/16 KiB backpressure on bufferedamountlow | ${t.rawMBps} | 1 | \`${t.command}\` |`);
    o.push(`| raw, same backpressure polled every 5 ms (as the runtime's transport does) | ${t.rawPoll5msMBps} | ${t.ratioVsPoll5ms} (ours / this) | \`${t.command}\` |`);
    const runs = t.runs as Array<{ ours: { MBps: number }; raw: { MBps: number }; rawPoll5ms: { MBps: number } }>;
    const range = (f: (x: (typeof runs)[number]) => number) => `${Math.min(...runs.map(f))}–${Math.max(...runs.map(f))}`;
    if (runs.length > 1) o.push('', `Per-round range (MB/s): net2o ${range((x) => x.ours.MBps)}, raw ${range((x) => x.raw.MBps)}, raw polled ${range((x) => x.rawPoll5ms.MBps)} — the machine was shared; treat the ratio as rough.`);
    o.push('');
  }
  if (r.room) {
    o.push('## 5. Hop cost against room size (one node hops; time until every one of its sessions uses the new station)', '');
    o.push('| nodes (pages) | sessions moved | hops finished | median | max | hop-finished median | lost | room setup | command |', '|---|---|---|---|---|---|---|---|---|');
    for (const x of r.room.rows)
      o.push(`| ${x.nodes} | ${x.sessionsOfHopper} | ${x.allMoved}/${x.hops} | ${fmt(x.medianMs, ' ms')} | ${fmt(x.maxMs, ' ms')} | ${fmt(x.hopFinishedMs.median, ' ms')} | ${x.lost < 0 ? 'failed' : x.lost} | ${x.setupSeconds} s | \`${r.room.command}\` |`);
    o.push('', `All pages run in one Chromium on ${r.env.cpus} cores, with the stations and Vite in the bench process.`, '');
  }
  if (r.resume.length) {
    o.push(`## 6. Resumption: the only station lost, another attached ${OUTAGE_MS} ms later`, '');
    o.push('| strategy | stream flowing again after attach (worst direction) | lost | duplicated | command |', '|---|---|---|---|---|');
    for (const x of r.resume) o.push(`| ${x.label} | ${fmt(x.flowingAgainMs, ' ms')} | ${x.lost} | ${x.duplicated} | \`${x.command}\` |`);
    o.push('');
  }
  if (r.core) {
    o.push(`## 7. Core (sans-IO, no WebRTC): ${r.core.source}`, '');
    o.push('| figure | value | command |', '|---|---|---|');
    for (const t of r.core.throughput) o.push(`| throughput ${t.size / 1024} KiB: ours / bare AEAD | **${t.ratio}** (${t.oursMBps} / ${t.bareMBps} MB/s) | \`${r.core.command}\` |`);
    o.push(`| memory per open connection (both ends) | ${round(r.core.bytesPerConnection / 1024, 1)} KiB | \`${r.core.command}\` |`);
    for (const h of r.core.hop) o.push(`| hop with ${h.sessions} sessions (simulated 10 ms links) | ${fmt(h.hopSimMs, ' ms')} sim, ${h.wallMs} ms wall | \`${r.core.command}\` |`);
    o.push('');
  }
  o.push('![gaps per strategy](latest.svg)', '');
  if (r.notes.length) o.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return o.join('\n');
}

function svg(r: Results): string {
  // Bars: p95 and max of the worst gap per hop (task 1) and per both-ends round (task 2), log scale.
  const groups: Array<{ title: string; rows: Array<{ label: string; p95: number | null; max: number | null; note: string }> }> = [];
  groups.push({
    title: 'One end hops',
    rows: r.hops.map((h) => ({ label: h.strategy === 'ours' ? 'net2o' : h.strategy === 'ice' ? 'ICE restart' : 'reconnect', p95: h.perHopMaxGap.p95, max: h.perHopMaxGap.max, note: `lost ${h.lost}` })),
  });
  groups.push({
    title: 'Both ends hop at once',
    rows: r.both.map((h) => ({ label: h.strategy === 'ours' ? 'net2o' : h.strategy === 'ice' ? 'ICE restart' : 'reconnect', p95: h.perRoundMaxGap.p95, max: h.perRoundMaxGap.max, note: `${h.succeeded}/${h.rounds} ok, lost ${h.lost}` })),
  });
  if (r.dead)
    groups.push({
      title: 'Dead relay',
      rows: [
        { label: 'net2o flows', p95: null, max: r.dead.ours.flowingAgainMs, note: `lost ${r.dead.ours.lost}` },
        { label: 'Chromium sees', p95: null, max: r.dead.chromium.disconnectedMs, note: 'disconnected' },
      ],
    });
  const W = 760;
  const left = 130;
  const barW = W - left - 150;
  const maxV = 20_000;
  const minV = 1;
  const x = (v: number) => (Math.log10(Math.max(minV, v)) / Math.log10(maxV)) * barW;
  const lines: string[] = [];
  let y = 40;
  const colors = { p95: '#3b82f6', max: '#f59e0b' };
  for (const g of groups) {
    lines.push(`<text x="10" y="${y}" font-weight="bold">${g.title}</text>`);
    y += 10;
    for (const row of g.rows) {
      lines.push(`<text x="10" y="${y + 14}">${row.label}</text>`);
      if (row.max != null) lines.push(`<rect x="${left}" y="${y + 2}" width="${x(row.max).toFixed(1)}" height="8" fill="${colors.max}"><title>max ${row.max} ms</title></rect>`);
      if (row.p95 != null) lines.push(`<rect x="${left}" y="${y + 11}" width="${x(row.p95).toFixed(1)}" height="8" fill="${colors.p95}"><title>p95 ${row.p95} ms</title></rect>`);
      const v = [row.p95 != null ? `p95 ${row.p95}` : '', row.max != null ? `${row.p95 != null ? 'max ' : ''}${row.max} ms` : ''].filter(Boolean).join(', ');
      lines.push(`<text x="${left + Math.max(x(row.max ?? 1), x(row.p95 ?? 1)) + 6}" y="${y + 14}" font-size="11">${v} · ${row.note}</text>`);
      y += 24;
    }
    y += 14;
  }
  const axisY = y;
  for (const t of [1, 10, 100, 1000, 10000]) {
    lines.push(`<line x1="${left + x(t)}" y1="30" x2="${left + x(t)}" y2="${axisY}" stroke="#888" stroke-opacity="0.3"/>`);
    lines.push(`<text x="${left + x(t)}" y="${axisY + 14}" font-size="11" text-anchor="middle">${t >= 1000 ? `${t / 1000} s` : `${t} ms`}</text>`);
  }
  const H = axisY + 50;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" font-size="14" font-weight="bold">Delivery gap around hops (worst gap per hop, log scale) — ${CMD}</text>
${lines.join('\n')}
<rect x="${left}" y="${axisY + 24}" width="10" height="10" fill="${colors.p95}"/><text x="${left + 14}" y="${axisY + 33}">p95 over hops</text>
<rect x="${left + 120}" y="${axisY + 24}" width="10" height="10" fill="${colors.max}"/><text x="${left + 134}" y="${axisY + 33}">max (dead relay: time)</text>
</svg>
`;
}

// ------------------------------------------------------------------------------------------------ main

async function main() {
  const started = performance.now();
  const loadBefore = os.loadavg().map((x) => round(x, 2)!);
  const notes: string[] = [];
  const core = want('core') || ONLY.length === 0 ? coreFigures() : null;
  stack = await startTestStack({ web: 'dev' });
  browser = await launchBrowser();
  const chromium = browser.context.browser()?.version() ?? (await (async () => {
    const p = await browser.newPage();
    const v = await p.evaluate(() => navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? '?');
    await p.close();
    return v;
  })());
  {
    // Warm-up: let Vite optimise the bench page's dependencies once before anything is measured.
    const w = await browser.newPage();
    await w.goto(`${stack.webUrl.replace(/\/$/, '')}/bench/page/index.html?mode=warmup`).catch(() => {});
    await sleep(3_000);
    await w.close();
  }
  const hops: HopResult[] = [];
  const both: BothResult[] = [];
  let dead: Awaited<ReturnType<typeof deadRelay>> | null = null;
  let tput: Awaited<ReturnType<typeof throughput>> | null = null;
  let room: Awaited<ReturnType<typeof roomSize>> | null = null;
  let resume: Awaited<ReturnType<typeof resumption>> = [];
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T | null> => {
    try {
      return await f();
    } catch (e) {
      log(`${what} FAILED: ${(e as Error).stack ?? e}`);
      notes.push(`${what} failed in this run: ${(e as Error).message.slice(0, 300)}`);
      return null;
    }
  };
  try {
    if (want('hop') || want('both'))
      for (const s of STRATEGIES) {
        const r = await guard(`hops (${s})`, () => hopExperiment(s));
        if (r?.single) hops.push(r.single);
        if (r?.both) both.push(r.both);
      }
    if (want('dead')) dead = await guard('dead relay', deadRelay);
    if (want('tput')) tput = await guard('throughput', throughput);
    if (want('room')) room = await guard('room size', roomSize);
    if (want('resume')) resume = (await guard('resumption', resumption)) ?? [];
  } finally {
    for (const p of [...openPages]) await closePage(p);
    await browser.close();
    await stack.stop();
  }
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: HERE, encoding: 'utf8' }).trim();
    if (execSync('git status --porcelain -- ../src ../bench/page', { cwd: HERE, encoding: 'utf8' }).trim()) commit += '+dirty';
  } catch {
    /* not a git checkout */
  }
  if (pageWarnings.length) notes.push(`${pageWarnings.length} console warnings/errors in the pages (first: ${pageWarnings.slice(0, 3).join(' | ')})`);
  notes.push('The ours bulk sender calls the runtime\'s private driver step (afterInput) after queueing: the automation surface has no bulk-send helper.');
  const env = {
    date: new Date().toISOString(),
    commit,
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    chromium,
    quick: QUICK,
    only: ONLY,
    command: CMD,
    loadBefore,
    loadAfter: os.loadavg().map((x) => round(x, 2)!),
    totalSeconds: round((performance.now() - started) / 1000, 0)!,
  };
  return { env, hops, both, dead, tput, room, resume, core, notes, pageWarnings };
}

// `--from-json`: re-render latest.md/svg from latest.json (no measurement).
const results: Results = process.argv.includes('--from-json')
  ? (JSON.parse(readFileSync(join(RESULTS, 'latest.json'), 'utf8')) as Results)
  : await main();
if (process.argv.includes('--from-json') && results.dead) {
  // Derived from the states recorded in that run (older files took only iceConnectionState into account).
  const at = (re: RegExp) => results.dead!.chromium.states.map((x) => /^(.*)@(\d+)ms$/.exec(x)).find((m) => m && re.test(m[1]!))?.[2];
  results.dead.chromium.failedMs ??= at(/failed$/) ? Number(at(/failed$/)) : null;
}
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
const md = markdown(results);
writeFileSync(join(RESULTS, 'latest.md'), md + '\n');
writeFileSync(join(RESULTS, 'latest.svg'), svg(results));
console.log(md);
log(`wrote bench/results/latest.{json,md,svg} in ${results.env.totalSeconds} s`);
process.exit(0);
