// A headless net2o node in Node: the same NodeRuntime as a browser tab, on WebRTC from @roamhq/wrtc, the `ws`
// WebSocket and libsodium. Joins a room, streams, hops on command, prints one JSON line of stats a second.
//
//   npm run node -- --room R --secret S --station cell-b [--name N] [--signaling ws://127.0.0.1:8787/signal]
//        [--stations http://127.0.0.1:8787/stations] [--stream 200] [--hop cell-a,wifi --hop-every 1000]
//        [--overlap 300] [--invite 'http://127.0.0.1:5173/#room=R&secret=S']
//
// Commands on stdin, one a line: hop <station>, attach <s>, detach <s>, lose <s> (coverage lost), stream <n>,
// overlap <ms>, send <text>, stats, quit. stdout carries only JSON lines: {"type":"ready"}, {"type":"stats"}
// (every second and on `stats`), {"type":"ok"|"error", "cmd"} for commands, {"type":"exit"} last.
// SIGINT, SIGTERM, `quit` and the end of a piped or terminal stdin stop the runtime and exit 0 (a parent that dies
// takes its child with it); with stdin from /dev/null the node runs until a signal.
import wrtc from '@roamhq/wrtc';
import { fstatSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { StationInfo } from '../signaling-server/contracts.ts';
import type { WebSocketConstructorLike } from '../signaling-server/client.ts';
import { INVITE_SECRET_SIZE } from '../src/net2o/constants.ts';
import { fromBase64url } from '../src/runtime/base64.ts';
import { NodeRuntime } from '../src/runtime/node-runtime.ts';
import { createSodiumCrypto } from '../src/runtime/sodium-crypto.ts';
import { WebRtcFactory } from '../src/runtime/webrtc-transport.ts';

const USAGE = `usage: npm run node -- (--room R --secret S | --invite URL) [--station ID] [--name N]
  [--signaling ws://127.0.0.1:8787/signal] [--stations http://127.0.0.1:8787/stations]
  [--stream MSG_PER_S] [--hop ID,ID,... --hop-every MS] [--overlap MS] [--interval MS] [--id NODE_ID]`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

function out(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const { values: args } = (() => {
  try {
    return parseArgs({
      options: {
        room: { type: 'string' },
        secret: { type: 'string' },
        invite: { type: 'string' },
        station: { type: 'string' },
        name: { type: 'string' },
        id: { type: 'string' },
        signaling: { type: 'string', default: 'ws://127.0.0.1:8787/signal' },
        stations: { type: 'string' },
        stream: { type: 'string' },
        hop: { type: 'string' },
        'hop-every': { type: 'string', default: '1000' },
        overlap: { type: 'string' },
        interval: { type: 'string', default: '1000' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    fail((e as Error).message);
  }
})();
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

// Room and secret: explicit flags win over an invite link's fragment (#room=..&secret=.., base64url).
let room = args.room;
let secretText = args.secret;
if (args.invite) {
  const hash = args.invite.includes('#') ? args.invite.slice(args.invite.indexOf('#') + 1) : args.invite;
  const p = new URLSearchParams(hash);
  room ??= p.get('room') ?? undefined;
  secretText ??= p.get('secret') ?? undefined;
}
if (!room || !/^[A-Za-z0-9_-]{1,64}$/.test(room)) fail('--room (or --invite with #room=...) is required: 1–64 of A-Z a-z 0-9 _ -');
if (!secretText) fail('--secret (or --invite with &secret=...) is required');
let secret: Uint8Array;
try {
  secret = fromBase64url(secretText);
} catch {
  fail('--secret is not base64url');
}
if (secret.length !== INVITE_SECRET_SIZE) fail(`--secret must decode to ${INVITE_SECRET_SIZE} bytes (got ${secret.length})`);

const num = (v: string | undefined, what: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`${what} must be a non-negative number`);
  return n;
};
const streamRate = num(args.stream, '--stream') ?? 0;
const hopEvery = num(args['hop-every'], '--hop-every')!;
const overlap = num(args.overlap, '--overlap');
const interval = Math.max(50, num(args.interval, '--interval')!);
const hopPlan = args.hop ? args.hop.split(',').map((s) => s.trim()).filter(Boolean) : [];
const signalingUrl = args.signaling!;
const stationsUrl = args.stations ?? (() => {
  const u = new URL(signalingUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '/stations';
  return u.toString();
})();
const adminBase = new URL(stationsUrl).origin;

async function loadStations(): Promise<StationInfo[]> {
  const res = await fetch(stationsUrl);
  if (!res.ok) throw new Error(`GET ${stationsUrl}: HTTP ${res.status}`);
  const body = (await res.json()) as unknown;
  const list = Array.isArray(body) ? body : (body as { stations?: unknown } | null)?.stations;
  if (!Array.isArray(list)) throw new Error(`GET ${stationsUrl}: expected a list of stations`);
  return list as StationInfo[];
}

const crypto = await createSodiumCrypto();
const nodeId = args.id ?? `n${Array.from(crypto.randomBytes(6), (b) => b.toString(16).padStart(2, '0')).join('')}`;
const name = (args.name ?? 'node').slice(0, 40);
const t0 = performance.now();

const runtime = new NodeRuntime({
  crypto,
  transports: new WebRtcFactory({ wrtc }),
  signalingUrl,
  WebSocket: WebSocket as unknown as WebSocketConstructorLike,
  stations: loadStations,
  room,
  secret,
  nodeId,
  name,
  ...(args.station ? { station: args.station } : {}),
  ...(overlap !== undefined ? { overlapMs: overlap } : {}),
  stationAdmin: async (id, action) => {
    const res = await fetch(`${adminBase}/admin/stations/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
    if (!res.ok) throw new Error(`station ${id} ${action}: HTTP ${res.status}`);
  },
});

let hopsCommanded = 0;

function stats(): Record<string, unknown> {
  const snap = runtime.snapshot();
  const peers = snap.peers.map((p) => ({
    peerId: p.peerId,
    name: p.name,
    state: p.state,
    ...p.stats,
    hops: p.hopsSurvived,
    failovers: p.failovers,
    rttMs: p.rttMs,
    paths: p.paths.map((x) => `${x.localStation}>${x.remoteStation}:${x.phase}${x.isActive ? '*' : ''}`),
  }));
  const hopsFinished = runtime.log().filter((e) => e.kind === 'hop-finished');
  const sum = (k: 'sent' | 'delivered' | 'lost' | 'duplicated' | 'reordered') => peers.reduce((a, p) => a + p[k], 0);
  return {
    type: 'stats',
    t: Math.round(performance.now() - t0),
    nodeId,
    name,
    station: snap.stations.filter((s) => s.attachment === 'active').map((s) => s.id),
    signaling: snap.signaling,
    established: peers.filter((p) => p.state === 'established').length,
    sent: sum('sent'),
    delivered: sum('delivered'),
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    reordered: sum('reordered'),
    maxGapMs: Math.round(Math.max(0, ...peers.map((p) => p.maxGapMs)) * 10) / 10,
    hops: hopsFinished.length,
    /** How long the last hops took (ms, from the core's hop-finished events). */
    hopMs: hopsFinished.slice(-20).map((e) => Number(/in (\d+(?:\.\d+)?) ms/.exec(e.text)?.[1] ?? NaN)),
    hopsCommanded,
    peers,
  };
}

let stopping: Promise<void> | null = null;
function shutdown(why: string): Promise<void> {
  return (stopping ??= (async () => {
    clearInterval(statsTimer);
    if (hopTimer) clearInterval(hopTimer);
    const last = stats();
    try {
      await runtime.stop();
    } catch (e) {
      process.stderr.write(`stop: ${(e as Error).message}\n`);
    }
    out({ ...last, type: 'exit', why });
    // wrtc keeps native threads; the runtime is stopped and every transport closed: leave now.
    setTimeout(() => process.exit(0), 50);
  })());
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

const statsTimer = setInterval(() => out(stats()), interval);
let hopTimer: ReturnType<typeof setInterval> | null = null;

try {
  await runtime.start();
} catch (e) {
  process.stderr.write(`start failed: ${(e as Error).message}\n`);
  clearInterval(statsTimer);
  await runtime.stop().catch(() => {});
  process.exit(1);
}
out({ type: 'ready', nodeId, name, room, station: args.station ?? null, signaling: signalingUrl, t: Math.round(performance.now() - t0) });
if (streamRate > 0) runtime.startStream(streamRate);
if (hopPlan.length > 0) {
  let i = 0;
  hopTimer = setInterval(() => {
    const st = hopPlan[i++ % hopPlan.length]!;
    hopsCommanded++;
    runtime.hop(st).catch((e: Error) => out({ type: 'error', cmd: `hop ${st}`, error: e.message }));
  }, Math.max(50, hopEvery));
}

async function command(line: string): Promise<void> {
  const [cmd, ...rest] = line.trim().split(/\s+/);
  const arg = rest.join(' ');
  if (!cmd) return;
  try {
    switch (cmd) {
      case 'hop':
        hopsCommanded++;
        await runtime.hop(arg);
        break;
      case 'attach':
        await runtime.attach(arg);
        break;
      case 'detach':
        await runtime.detach(arg);
        break;
      case 'lose':
        await runtime.detach(arg, { abrupt: true });
        break;
      case 'stream':
        runtime.startStream(Number(arg) || 0);
        break;
      case 'overlap':
        runtime.setOverlapMs(Number(arg) || 0);
        break;
      case 'send':
        runtime.send(arg);
        break;
      case 'stats':
        out(stats());
        return;
      case 'quit':
      case 'exit':
        await shutdown('quit');
        return;
      default:
        throw new Error(`unknown command (hop|attach|detach|lose <station>, stream <n>, overlap <ms>, send <text>, stats, quit)`);
    }
    out({ type: 'ok', cmd: line.trim(), t: Math.round(performance.now() - t0) });
  } catch (e) {
    out({ type: 'error', cmd: line.trim(), error: (e as Error).message });
  }
}

const rl = createInterface({ input: process.stdin, terminal: false });
rl.on('line', (l) => void command(l));
const stdinIsPipe = (() => {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isSocket() || process.stdin.isTTY === true;
  } catch {
    return false;
  }
})();
rl.on('close', () => {
  if (stdinIsPipe) void shutdown('stdin closed');
});
