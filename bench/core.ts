// Core benchmark: what the sans-IO net2o core costs, measured against bare libsodium in the same run.
//
//   npm run bench:core               (full: ~1–2 min)
//   npm run bench:core -- --quick    (smaller volumes, hop up to 100 sessions: < 30 s)
//
// 1. Throughput: application messages of 1 KiB and 16 KiB pushed through two real Nodes (framing, packing,
//    AEAD seal, header decode, replay window, AEAD open, reassembly, acks back) vs. bare
//    crypto_aead_chacha20poly1305_ietf_encrypt + decrypt of the same messages. Interleaved rounds, median.
// 2. Memory per open connection: N handshakes between two nodes, heapUsed delta after gc.
// 3. Hop cost vs open sessions: one hub with 1…1000 sessions hops (hopTo) to a new station; simulated time
//    until 'hop-finished' (every session's active path on the new station) and wall time spent.
//
// Writes bench/results/core.json and prints a Markdown table.
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import sodium from 'libsodium-wrappers';
import type { Net2oEvent, PathId, SessionId } from '../src/net2o/events.ts';
import type { Node } from '../src/net2o/node.ts';
import type { SimNode } from '../src/sim/network.ts';
import { Harness } from '../src/sim/scenario.ts';

const QUICK = process.argv.includes('--quick');
const COMMAND = QUICK ? 'npm run bench:core -- --quick' : 'npm run bench:core';
const HERE = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------- gc without changing the npm script

function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
const gc = getGc();
function settledHeap(): number {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------- 1. throughput

interface Pair {
  h: Harness;
  a: Node;
  b: Node;
  sa: SessionId;
  aPath: PathId;
  bPath: PathId;
  now: number;
}

/** Two nodes on zero-latency stations st0 / st1, nothing captured, never idle: the bench measures the core. */
async function zeroLatencyNodes(seed: number): Promise<{ h: Harness; a: SimNode; b: SimNode }> {
  const h = await Harness.create(seed);
  h.net.addStation('st0', { latencyMs: 0, jitterMs: 0 });
  h.net.addStation('st1', { latencyMs: 0, jitterMs: 0 });
  h.net.captureLimit = 0;
  const secret = h.net.rng.bytes(32);
  const a = h.addNode('a', secret, { idleTimeoutMs: 1e12 });
  const b = h.addNode('b', secret, { idleTimeoutMs: 1e12 });
  a.node.attach('st0', h.net.now);
  b.node.attach('st1', h.net.now);
  return { h, a, b };
}

async function makePair(seed: number): Promise<Pair> {
  const { h, a, b } = await zeroLatencyNodes(seed);
  const { a: sa } = h.connect(a, 'st0', b, 'st1');
  const [aPath] = h.net.pathsAt(a, 'st0');
  const [bPath] = h.net.pathsAt(b, 'st1');
  if (aPath === undefined || bPath === undefined) throw new Error('no intro path');
  return { h, a: a.node, b: b.node, sa, aPath, bPath, now: h.net.now };
}

/**
 * Pushes `count` messages of `size` bytes from a to b and waits until all are delivered at b and acknowledged
 * at a. The driver is a zero-latency wire: every datagram is handed straight to the other node; the fake
 * clock only advances when neither node has anything to send (then to the earliest timer).
 */
function transfer(p: Pair, size: number, count: number): { ms: number; packets: number; retransmitted: number } {
  const payload = sodium.randombytes_buf(size);
  const sa = p.a.session(p.sa)!;
  const p0 = sa.stats.packetsSent;
  const r0 = sa.stats.retransmittedChunks;
  let sent = 0;
  let got = 0;
  const drain = (n: Node): void => {
    let e: Net2oEvent | undefined;
    while ((e = n.pollEvent())) if (e.type === 'message') got++;
  };
  const t0 = performance.now();
  for (let guard = 0; guard < 10_000_000; guard++) {
    while (sent < count && sa.sendCapacity() >= size) {
      p.a.send(p.sa, payload);
      sent++;
    }
    let moved = false;
    let t;
    while ((t = p.a.pollTransmit(p.now))) {
      p.b.handleDatagram(p.bPath, t.data, p.now);
      moved = true;
    }
    drain(p.b);
    while ((t = p.b.pollTransmit(p.now))) {
      p.a.handleDatagram(p.aPath, t.data, p.now);
      moved = true;
    }
    drain(p.a);
    if (got >= count && sa.unacknowledgedMessages === 0) {
      const ms = performance.now() - t0;
      return { ms, packets: sa.stats.packetsSent - p0, retransmitted: sa.stats.retransmittedChunks - r0 };
    }
    if (!moved) {
      p.now = Math.max(p.now, Math.min(p.a.pollTimeout(), p.b.pollTimeout()));
      if (p.a.pollTimeout() <= p.now) p.a.handleTimeout(p.now);
      if (p.b.pollTimeout() <= p.now) p.b.handleTimeout(p.now);
    }
  }
  throw new Error(`transfer of ${count}×${size} B did not finish (${got} delivered)`);
}

/** The same messages through bare libsodium: seal then open, nonce from a counter, 10-byte AD. */
function bare(size: number, count: number): { ms: number } {
  const key = sodium.randombytes_buf(32);
  const payload = sodium.randombytes_buf(size);
  const ad = new Uint8Array(10);
  const nonce = new Uint8Array(12);
  const dv = new DataView(nonce.buffer);
  let check = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    dv.setUint32(0, i, true);
    const c = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(payload, ad, null, nonce, key);
    const m = sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, c, ad, nonce, key);
    check += m.length;
  }
  const ms = performance.now() - t0;
  if (check !== size * count) throw new Error('bare decrypt mismatch');
  return { ms };
}

interface ThroughputRow {
  size: number;
  messages: number;
  rounds: number;
  ratio: number;
  oursMBps: number;
  bareMBps: number;
  oursMsgPerSec: number;
  oursPacketsPerSec: number;
  barePacketsPerSec: number;
  oursPacketsPerMessage: number;
  retransmittedChunks: number;
  /** bare/ours time ratio of each round (spread). */
  ratioPerRound: number[];
}

async function throughput(): Promise<ThroughputRow[]> {
  const rounds = QUICK ? 5 : 7;
  const volume = QUICK ? 8 << 20 : 16 << 20; // application bytes per measurement
  const sizes = [1024, 16 * 1024];
  const pair = await makePair(7);
  // Warm-up (JIT, wasm tiers), not measured.
  for (const s of sizes) {
    transfer(pair, s, Math.min(2_000, (1 << 20) / s));
    bare(s, Math.min(2_000, (1 << 20) / s));
  }
  const rows: ThroughputRow[] = [];
  const samples = new Map<number, { ours: number[]; bare: number[]; pk: number[]; rt: number }>();
  for (const s of sizes) samples.set(s, { ours: [], bare: [], pk: [], rt: 0 });
  for (let r = 0; r < rounds; r++) {
    for (const s of sizes) {
      const n = volume / s;
      const x = samples.get(s)!;
      // Alternate the order each round so neither side always runs first.
      const doOurs = (): void => {
        const o = transfer(pair, s, n);
        x.ours.push(o.ms);
        x.pk.push(o.packets);
        x.rt += o.retransmitted;
      };
      const doBare = (): void => void x.bare.push(bare(s, n).ms);
      if (r % 2 === 0) {
        doOurs();
        doBare();
      } else {
        doBare();
        doOurs();
      }
    }
  }
  for (const s of sizes) {
    const x = samples.get(s)!;
    const n = volume / s;
    const oursMs = median(x.ours);
    const bareMs = median(x.bare);
    const packets = median(x.pk);
    rows.push({
      size: s,
      messages: n,
      rounds,
      ratio: round(bareMs / oursMs, 3),
      oursMBps: round(volume / 1e6 / (oursMs / 1000)),
      bareMBps: round(volume / 1e6 / (bareMs / 1000)),
      oursMsgPerSec: Math.round(n / (oursMs / 1000)),
      oursPacketsPerSec: Math.round(packets / (oursMs / 1000)),
      barePacketsPerSec: Math.round(n / (bareMs / 1000)),
      oursPacketsPerMessage: round(packets / n, 3),
      retransmittedChunks: x.rt,
      ratioPerRound: x.ours.map((o, i) => round(x.bare[i]! / o, 3)),
    });
  }
  return rows;
}

// ---------------------------------------------------------------- 2. memory per connection

interface MemoryRow {
  connections: number;
  heapDeltaBytes: number;
  bytesPerConnection: number;
  bytesPerSessionEnd: number;
  established: number;
  realMs: number;
}

/** Harness.connect, batched: introduce every pair, start every handshake, then run the network once. */
function connectMany(h: Harness, pairs: Array<[SimNode, string, SimNode, string]>): void {
  const before = new Map<SimNode, Set<SessionId>>();
  for (const [, , b] of pairs) if (!before.has(b)) before.set(b, new Set(b.node.sessions.keys()));
  const respPeer = new Map<SimNode, SimNode>();
  for (const [a, as, b, bs] of pairs) {
    const { aPath } = h.net.introduce(a, as, b, bs);
    const sa = a.node.connect(aPath, h.net.now);
    h.net.peerMap.set(`${a.name}:${sa}`, b);
    respPeer.set(b, a); // for the responder's peerMap (only used by path-wanted, which initiators emit)
  }
  h.net.runUntil(h.net.now + 100);
  for (const [b, old] of before) for (const k of b.node.sessions.keys()) if (!old.has(k)) h.net.peerMap.set(`${b.name}:${k}`, respPeer.get(b)!);
}

async function memory(): Promise<MemoryRow> {
  const n = QUICK ? 300 : 1_000;
  const { h, a, b } = await zeroLatencyNodes(11);
  connectMany(h, [[a, 'st0', b, 'st1']]); // one connection first: code paths warm, lazily built tables exist
  const h0 = settledHeap();
  const t0 = performance.now();
  connectMany(h, Array.from({ length: n }, () => [a, 'st0', b, 'st1'] as [SimNode, string, SimNode, string]));
  const realMs = performance.now() - t0;
  const h1 = settledHeap();
  const established = [...a.node.sessions.values()].filter((s) => s.state === 'established').length - 1;
  if (established !== n) throw new Error(`only ${established}/${n} connections established`);
  const delta = h1 - h0;
  return {
    connections: n,
    heapDeltaBytes: delta,
    bytesPerConnection: Math.round(delta / n),
    bytesPerSessionEnd: Math.round(delta / (2 * n)),
    established,
    realMs: Math.round(realMs),
  };
}

// ---------------------------------------------------------------- 3. hop cost vs open sessions

interface HopRow {
  sessions: number;
  peers: number;
  finished: boolean;
  hopSimMs: number | null;
  onNewStation: number;
  wallMs: number;
  hubCpuMs: number;
  idleWallMs: number;
  packets: number;
  setupMs: number;
}

/** Wraps the hub node's entry points to add up the real time spent inside them (the node's own cost). */
function meter(n: Node): { ms: number } {
  const acc = { ms: 0 };
  const methods = ['handleDatagram', 'pollTransmit', 'pollTimeout', 'handleTimeout', 'pollEvent', 'hopTo', 'addPath', 'removePath', 'sendPathSignal'] as const;
  const target = n as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const m of methods) {
    const orig = target[m]!.bind(n);
    target[m] = (...args: unknown[]) => {
      const t = performance.now();
      try {
        return orig(...args);
      } finally {
        acc.ms += performance.now() - t;
      }
    };
  }
  return acc;
}

async function hop(sessions: number, wallBudgetMs: number): Promise<HopRow> {
  const peers = Math.min(sessions, 100);
  const h = await Harness.create(3);
  for (const s of ['st0', 'st1', 'st2']) h.net.addStation(s); // 10 ms one way per station, 2 ms jitter
  h.net.captureLimit = 0;
  const secret = h.net.rng.bytes(32);
  const hub = h.addNode('hub', secret, { idleTimeoutMs: 1e12 });
  hub.node.attach('st0', 0);
  const ps: SimNode[] = [];
  for (let i = 0; i < peers; i++) {
    const p = h.addNode(`p${i}`, secret, { idleTimeoutMs: 1e12 });
    p.node.attach('st1', 0);
    ps.push(p);
  }
  const t0 = performance.now();
  // The hub initiates every session (so it offers every new path when it hops). Batches of 100 handshakes.
  for (let i = 0; i < sessions; i += 100) {
    const batch: Array<[SimNode, string, SimNode, string]> = [];
    for (let j = i; j < Math.min(sessions, i + 100); j++) batch.push([hub, 'st0', ps[j % peers]!, 'st1']);
    connectMany(h, batch);
  }
  h.net.runUntil(h.net.now + 300); // stations commands exchanged, everything quiet
  const setupMs = performance.now() - t0;
  const est = [...hub.node.sessions.values()].filter((s) => s.state === 'established').length;
  if (est !== sessions) throw new Error(`hop bench: ${est}/${sessions} sessions established`);

  // Control: the same simulated span with no hop (keepalives only), for the wall-time baseline.
  const c0 = performance.now();
  h.net.runUntil(h.net.now + 150);
  const idleWallMs = performance.now() - c0;

  let finished: number | null = null;
  const prev = hub.onEvent;
  hub.onEvent = (e) => {
    prev(e);
    if (e.type === 'hop-finished') finished = e.durationMs;
  };
  const cpu = meter(hub.node);
  const packets0 = h.net.packetsSent;
  const start = h.net.now;
  const w0 = performance.now();
  hub.node.hopTo('st2', start);
  while (finished === null && h.net.now - start < 10_000 && performance.now() - w0 < wallBudgetMs) h.net.runUntil(h.net.now + 5);
  const wallMs = performance.now() - w0;
  const onNew = [...hub.node.sessions.values()].filter((s) => {
    const a = s.activePath !== null ? s.paths.get(s.activePath) : undefined;
    return a?.localStation === 'st2';
  }).length;
  return {
    sessions,
    peers,
    finished: finished !== null,
    hopSimMs: finished === null ? null : round(finished),
    onNewStation: onNew,
    wallMs: Math.round(wallMs),
    hubCpuMs: Math.round(cpu.ms),
    idleWallMs: Math.round(idleWallMs),
    packets: h.net.packetsSent - packets0,
    setupMs: Math.round(setupMs),
  };
}

// ---------------------------------------------------------------- main

await sodium.ready;
const started = performance.now();
console.error(`net2o core bench${QUICK ? ' (quick)' : ''}: throughput…`);
const tp = await throughput();
console.error('memory…');
const mem = await memory();
const hopSizes = QUICK ? [1, 10, 100] : [1, 10, 100, 1_000];
const hops: HopRow[] = [];
for (const n of hopSizes) {
  console.error(`hop with ${n} sessions…`);
  hops.push(await hop(n, QUICK ? 10_000 : 60_000));
}
const totalMs = performance.now() - started;

let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { cwd: HERE, encoding: 'utf8' }).trim();
  if (execSync('git status --porcelain -- ../src', { cwd: HERE, encoding: 'utf8' }).trim()) commit += '+dirty-src';
} catch {
  /* not a git checkout */
}
const env = {
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpus: os.cpus().length,
  platform: `${os.platform()} ${os.release()}`,
  commit,
  date: new Date().toISOString(),
  quick: QUICK,
  command: COMMAND,
  totalSeconds: round(totalMs / 1000),
};

const out: string[] = [];
out.push(`## net2o core benchmark${QUICK ? ' (quick)' : ''}`, '');
out.push(`\`${COMMAND}\` — Node ${env.node}, ${env.cpu} (${env.cpus} CPUs), commit ${env.commit}, ${env.totalSeconds} s`, '');
out.push('### Throughput: core (framing + seal + open + reassembly + acks) vs bare ChaCha20-Poly1305-IETF seal+open', '');
out.push('| message | ratio ours/bare | ours MB/s | bare MB/s | ours msg/s | ours packets/s | packets/msg | bare packets/s | rounds (median) |');
out.push('|---|---|---|---|---|---|---|---|---|');
for (const r of tp)
  out.push(
    `| ${r.size / 1024} KiB | **${r.ratio.toFixed(2)}** | ${r.oursMBps} | ${r.bareMBps} | ${r.oursMsgPerSec} | ${r.oursPacketsPerSec} | ${r.oursPacketsPerMessage} | ${r.barePacketsPerSec} | ${r.rounds} × ${r.messages} msgs |`,
  );
out.push('', `Per-round ratios: ${tp.map((r) => `${r.size / 1024} KiB ${Math.min(...r.ratioPerRound).toFixed(2)}–${Math.max(...r.ratioPerRound).toFixed(2)}`).join(', ')}.`);
out.push('', 'MB/s = application bytes (10⁶) per second of wall time; ours counts data packets a→b (acks b→a not counted).', '');
out.push('### Memory per open connection', '');
out.push('| connections | heap delta | per connection (both ends) | per session end | handshake time |');
out.push('|---|---|---|---|---|');
out.push(
  `| ${mem.connections} | ${round(mem.heapDeltaBytes / 1024 / 1024, 2)} MiB | ${round(mem.bytesPerConnection / 1024, 1)} KiB | ${round(mem.bytesPerSessionEnd / 1024, 1)} KiB | ${mem.realMs} ms |`,
);
out.push('');
out.push('### Hop cost vs open sessions (hub hops st0 → st2; peers on st1; 10 ms ±2 one way per station)', '');
out.push('| sessions | peers | finished | hop (sim ms) | on new station | wall ms | hub CPU ms | idle wall ms / 150 sim ms | packets | setup ms |');
out.push('|---|---|---|---|---|---|---|---|---|---|');
for (const r of hops)
  out.push(
    `| ${r.sessions} | ${r.peers} | ${r.finished ? 'yes' : '**no**'} | ${r.hopSimMs ?? '—'} | ${r.onNewStation}/${r.sessions} | ${r.wallMs} | ${r.hubCpuMs} | ${r.idleWallMs} | ${r.packets} | ${r.setupMs} |`,
  );
out.push('', `Reproduce: \`${COMMAND}\``);
console.log(out.join('\n'));

const file = join(HERE, 'results', 'core.json');
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify({ env, throughput: tp, memory: mem, hop: hops }, null, 2) + '\n');
console.error(`wrote ${file}`);
