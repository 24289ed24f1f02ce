// The benchmark page (`/bench/page/index.html?mode=…`), served by the same Vite dev server as the demo. One tab is
// one node, in one of three modes, all relay-only through the same loopback stations and introduced through the
// same signaling server:
//
//   mode=ours       the net2o runtime (src/runtime), exposed as `window.net2oDemo` like the demo page, no UI.
//   mode=ice        baseline (b): one plain RTCPeerConnection, one reliable ordered data channel; a hop is
//                   setConfiguration({iceServers:[B], iceTransportPolicy:'relay'}) + restartIce(), the offer and
//                   answer travel over that data channel, glare is resolved by "perfect negotiation".
//   mode=reconnect  baseline (c): simple-peer with its default reliable channel; a hop destroys the peer and
//                   builds a new one through the signaling server (what simple-peer/PeerJS apps do). Nothing is
//                   queued: a message sent while no channel is open is lost.
//
// Every mode exposes `window.bench` (BenchApi): a 200 msg/s numbered stream with per-message send and arrival
// times on one wall clock (performance.timeOrigin + performance.now(), shared by the tabs), hop/detach/attach,
// a bulk sender for throughput, and ICE state changes. The orchestrator is bench/e2e.ts.
import SimplePeer from 'simple-peer';
import { SignalingClient } from '../../signaling-server/client.ts';
import type { ClientConfig, StationInfo } from '../../signaling-server/contracts.ts';
import { automation } from '../../src/runtime/automation.ts';
import { loadConfig, loadStations } from '../../src/runtime/config.ts';
import type { NodeRuntime } from '../../src/runtime/node-runtime.ts';
import { startPageRuntime } from '../../src/runtime/page.ts';

const wall = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Marks a bulk message (never a demo tick, whose first byte is 1, nor chat, 2). */
const BULK = 0xff;

export interface StreamLog {
  /** [seq, sentAt] of every tick the app sent (ours: accepted by the session; baselines: including those that
   * found no open channel and were dropped on the spot, which count as lost). */
  tx: number[];
  /** [seq, sentAt, arrivedAt] of every tick received. */
  rx: number[];
  /** Ticks the sender generated while no channel was open (baseline c): lost on the spot. */
  droppedAtSender: number;
}

export interface BulkResult {
  sentBytes: number;
  sentMessages: number;
  ms: number;
}

export interface BenchApi {
  mode: string;
  nodeId: string;
  station(): string;
  startStream(perSecond: number): void;
  stopStream(): void;
  /** Takes the log since the last take (bounded), and clears it. */
  takeLog(): StreamLog;
  /** Hops to `station`; resolves with the wall time at which the hop started. */
  hop(station: string): Promise<number>;
  /** Loses the station (no transport left). ours: detach abrupt; reconnect: destroy the peer. */
  lose(): Promise<number>;
  /** After lose(): attaches `station`. Resolves with the wall time of the attach. */
  attachNew(station: string): Promise<number>;
  /** Sends `size`-byte messages for `ms` as fast as backpressure allows. */
  bulk(ms: number, size: number, opts?: { pollMs?: number }): Promise<BulkResult>;
  /** Bulk bytes received: total and per 100 ms bucket since the first arrival. */
  bulkRx(): { bytes: number; first: number; last: number; arrivals: number[] };
  bulkReset(): void;
  /** ours: hops and resolves once every session's active path is on `station` (ms after the hop started), or null. */
  hopAndWait(station: string, timeoutMs: number): Promise<{ ms: number | null; sessions: number; moved: number }>;
  /** The station our end of the path in use goes through now (ice: from getStats' selected pair). */
  pathStation(): Promise<string | null>;
  /** ICE connection state changes (ice mode) as [state, wallTime]. */
  iceStates(): Array<[string, number]>;
  connected(): boolean;
  close(): Promise<void>;
}

declare global {
  interface Window {
    bench: BenchApi;
    benchReady: Promise<void>;
  }
}

const q = new URLSearchParams(location.search);
const MODE = q.get('mode') ?? 'ours';
const NAME = (q.get('name') ?? 'bench').slice(0, 40);
const START_STATION = q.get('station') ?? '';
const ROOM = q.get('room') ?? 'bench';
const LOG_LIMIT = 200_000; // entries per array (numbers), bounded

class Recorder {
  tx: number[] = [];
  rx: number[] = [];
  droppedAtSender = 0;
  bulkBytes = 0;
  bulkFirst = 0;
  bulkLast = 0;
  bulkArr: number[] = [];
  sent(seq: number, at: number): void {
    if (this.tx.length < LOG_LIMIT) this.tx.push(seq, at);
  }
  got(seq: number, sentAt: number): void {
    if (this.rx.length < LOG_LIMIT) this.rx.push(seq, sentAt, wall());
  }
  gotBulk(n: number): void {
    const now = wall();
    if (!this.bulkBytes) this.bulkFirst = now;
    this.bulkBytes += n;
    this.bulkLast = now;
    const b = Math.floor((now - this.bulkFirst) / 100);
    if (b < 10_000) {
      while (this.bulkArr.length <= b) this.bulkArr.push(0);
      this.bulkArr[b]! += n;
    }
  }
  take(): StreamLog {
    const l = { tx: this.tx, rx: this.rx, droppedAtSender: this.droppedAtSender };
    this.tx = [];
    this.rx = [];
    this.droppedAtSender = 0;
    return l;
  }
  bulkRx() {
    return { bytes: this.bulkBytes, first: this.bulkFirst, last: this.bulkLast, arrivals: this.bulkArr };
  }
  bulkReset(): void {
    this.bulkBytes = 0;
    this.bulkFirst = 0;
    this.bulkLast = 0;
    this.bulkArr = [];
  }
}

const rec = new Recorder();
const setStatus = (s: string) => {
  const el = document.getElementById('status');
  if (el) el.textContent = s;
};

function randomId(prefix: string): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return prefix + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// ------------------------------------------------------------------------------------------------ ours

async function startOurs(cfg: ClientConfig): Promise<BenchApi> {
  const rt: NodeRuntime = await startPageRuntime(cfg);
  const demo = automation(rt);
  (window as unknown as { net2oDemo: unknown }).net2oDemo = demo;
  const node = rt.node;
  // Observe (never alter) what the runtime hands to and takes from the core.
  const pollEvent = node.pollEvent.bind(node);
  node.pollEvent = () => {
    const e = pollEvent();
    if (e?.type === 'message') {
      const d = e.data;
      if (d[0] === 1 && d.length === 17) {
        const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
        rec.got(dv.getUint32(1), dv.getFloat64(5));
      } else if (d[0] === BULK) rec.gotBulk(d.length);
    }
    return e;
  };
  const send = node.send.bind(node);
  node.send = (s, d) => {
    send(s, d); // throws on backpressure: then it was not sent (the runtime skips that tick)
    if (d[0] === 1 && d.length === 17) {
      const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
      rec.sent(dv.getUint32(1), dv.getFloat64(5));
    }
  };
  // The runtime flushes after every input; a bulk loop outside it must ask for that flush. (The automation
  // surface has no bulk-send helper; this reaches the runtime's private driver step.)
  const afterInput = (): void => (rt as unknown as { afterInput(): void }).afterInput();
  let current = START_STATION || (rt.snapshot().stations.find((s) => s.attachment === 'active')?.id ?? '');
  return {
    mode: 'ours',
    nodeId: demo.nodeId,
    station: () => current,
    startStream: (n) => demo.startStream(n),
    stopStream: () => demo.stopStream(),
    takeLog: () => rec.take(),
    async hop(st) {
      const t = wall();
      await demo.hop(st);
      current = st;
      return t;
    },
    async lose() {
      const t = wall();
      await demo.detach(current, { abrupt: true });
      return t;
    },
    async attachNew(st) {
      const t = wall();
      await demo.attach(st);
      current = st;
      return t;
    },
    async bulk(ms, size) {
      const sid = rt.snapshot().peers.find((p) => p.state === 'established')?.sessionId;
      if (sid === undefined) throw new Error('no established session');
      const payload = new Uint8Array(size);
      crypto.getRandomValues(payload.subarray(0, Math.min(size, 65536)));
      payload[0] = BULK;
      const t0 = wall();
      const end = t0 + ms;
      let sentBytes = 0;
      let sentMessages = 0;
      // Keep at most 1 MiB queued in the session: the runtime's transport backpressure (64/16 KiB) does the rest.
      const QUEUE = 1 << 20;
      let scheduled = false;
      let done = false;
      let resolveDone!: () => void;
      const finished = new Promise<void>((r) => (resolveDone = r));
      const pump = (): void => {
        scheduled = false;
        if (done) return;
        if (wall() >= end) {
          done = true;
          unsub();
          clearInterval(fallback);
          resolveDone();
          return;
        }
        const s = node.session(sid);
        if (!s || s.state !== 'established') return;
        let n = 0;
        while (n < 64 && s.sendCapacity() >= size && s.sendCapacity() > (4 << 20) - QUEUE) {
          node.send(sid, payload);
          sentBytes += size;
          sentMessages++;
          n++;
        }
        if (n > 0) afterInput();
      };
      const kick = (): void => {
        if (scheduled || done) return;
        scheduled = true;
        queueMicrotask(pump);
      };
      const unsub = rt.subscribe(kick); // every ack, drain or timer: refill
      const fallback = setInterval(kick, 5);
      kick();
      await finished;
      return { sentBytes, sentMessages, ms: wall() - t0 };
    },
    bulkRx: () => rec.bulkRx(),
    bulkReset: () => rec.bulkReset(),
    async hopAndWait(st, timeoutMs) {
      const count = () => {
        const peers = rt.snapshot().peers.filter((p) => p.state === 'established');
        return { sessions: peers.length, moved: peers.filter((p) => p.paths.find((x) => x.isActive)?.localStation === st).length };
      };
      const t0 = wall();
      let last = count();
      const ms = await new Promise<number | null>((resolve) => {
        let settled = false;
        const check = (): void => {
          if (settled) return;
          last = count();
          if (last.sessions > 0 && last.moved === last.sessions) finish(wall() - t0);
        };
        const finish = (v: number | null): void => {
          settled = true;
          unsub();
          clearInterval(poll);
          clearTimeout(timer);
          resolve(v);
        };
        const unsub = rt.subscribe(check);
        const poll = setInterval(check, 5);
        const timer = setTimeout(() => finish(null), timeoutMs);
        void demo.hop(st).then(check);
      });
      current = st;
      return { ms, ...last };
    },
    pathStation: async () => rt.snapshot().peers[0]?.paths.find((x) => x.isActive)?.localStation ?? null,
    iceStates: () => [],
    connected: () => rt.snapshot().peers.some((p) => p.state === 'established'),
    close: () => rt.stop(),
  };
}

// ------------------------------------------------------------------------------------------------ stream helper

/** A numbered tick stream over whatever channel `trySend` uses; a tick that cannot be sent is lost. */
class TickStream {
  private timer: ReturnType<typeof setInterval> | null = null;
  private seq = 0;
  constructor(private readonly trySend: (s: string) => boolean) {}
  start(rate: number): void {
    this.stop();
    this.timer = setInterval(() => {
      const at = wall();
      const s = this.seq++;
      if (!this.trySend(JSON.stringify({ t: 'k', s, a: at }))) rec.droppedAtSender++;
      rec.sent(s, at); // a tick that could not be sent is counted as sent, and lost
    }, 1000 / Math.min(rate, 1000));
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function onAppData(d: unknown): boolean {
  if (typeof d === 'string') {
    if (d.startsWith('{"t":"k"')) {
      const m = JSON.parse(d) as { s: number; a: number };
      rec.got(m.s, m.a);
      return true;
    }
    return false;
  }
  const n = d instanceof ArrayBuffer ? d.byteLength : ArrayBuffer.isView(d) ? d.byteLength : (d as Blob).size;
  rec.gotBulk(n);
  return true;
}

/** A bulk sender on one data channel: pause above 64 KiB buffered, resume below 16 KiB (event, or a poll). */
async function bulkOnChannel(ch: RTCDataChannel, ms: number, size: number, pollMs?: number): Promise<BulkResult> {
  const payload = new Uint8Array(size);
  crypto.getRandomValues(payload.subarray(0, Math.min(size, 65536)));
  payload[0] = BULK;
  const HIGH = 64 * 1024;
  const LOW = 16 * 1024;
  ch.bufferedAmountLowThreshold = LOW;
  const t0 = wall();
  const end = t0 + ms;
  let sentBytes = 0;
  let sentMessages = 0;
  for (let guard = 0; guard < 10_000_000 && wall() < end && ch.readyState === 'open'; guard++) {
    while (ch.bufferedAmount <= HIGH && wall() < end) {
      ch.send(payload);
      sentBytes += size;
      sentMessages++;
    }
    if (pollMs) {
      while (ch.bufferedAmount > LOW && wall() < end) await sleep(pollMs);
    } else {
      await new Promise<void>((r) => {
        const t = setTimeout(done, Math.max(1, end - wall()));
        function done() {
          clearTimeout(t);
          ch.removeEventListener('bufferedamountlow', done);
          r();
        }
        ch.addEventListener('bufferedamountlow', done);
      });
    }
  }
  return { sentBytes, sentMessages, ms: wall() - t0 };
}

/** Joins the room; the first node in it waits for the second, which introduces itself. */
async function joinRoom(cfg: ClientConfig, nodeId: string): Promise<{ sig: SignalingClient; peer: Promise<string>; joiner: boolean }> {
  const sig = new SignalingClient(cfg.signalingUrl);
  const { peers } = await sig.join(ROOM, nodeId, NAME);
  if (peers[0]) return { sig, peer: Promise.resolve(peers[0].node), joiner: true };
  return { sig, peer: new Promise((r) => sig.onPeerJoined((p) => r(p.node))), joiner: false };
}

// ------------------------------------------------------------------------------------------------ baseline (b): ICE restart

async function startIce(cfg: ClientConfig, stations: StationInfo[]): Promise<BenchApi> {
  const nodeId = randomId('b');
  const stationOf = (id: string) => {
    const s = stations.find((x) => x.id === id);
    if (!s) throw new Error(`unknown station ${id}`);
    return s;
  };
  let current = START_STATION || stations[0]!.id;
  const pc = new RTCPeerConnection({ iceServers: [stationOf(current).iceServer], iceTransportPolicy: 'relay' });
  const states: Array<[string, number]> = [];
  pc.addEventListener('iceconnectionstatechange', () => states.push([pc.iceConnectionState, wall()]));
  pc.addEventListener('connectionstatechange', () => states.push([`pc:${pc.connectionState}`, wall()]));
  const { sig, peer, joiner } = await joinRoom(cfg, nodeId);
  const polite = !joiner;
  let peerId = '';
  let dc: RTCDataChannel | null = null;
  let makingOffer = false;
  let ignoreOffer = false;
  const sendSignal = (m: object): void => {
    if (dc && dc.readyState === 'open') dc.send(JSON.stringify({ t: 's', m }));
    else if (peerId && sig.joined) sig.signal(peerId, m);
  };
  const onSignal = async (m: { description?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit | null }): Promise<void> => {
    try {
      if (m.description) {
        const offerCollision = m.description.type === 'offer' && (makingOffer || pc.signalingState !== 'stable');
        ignoreOffer = !polite && offerCollision;
        if (ignoreOffer) return;
        await pc.setRemoteDescription(m.description); // implicit rollback on the polite side
        if (m.description.type === 'offer') {
          await pc.setLocalDescription();
          sendSignal({ description: pc.localDescription });
        }
      } else if (m.candidate) {
        try {
          await pc.addIceCandidate(m.candidate);
        } catch (e) {
          if (!ignoreOffer) console.warn('candidate', (e as Error).message);
        }
      }
    } catch (e) {
      console.warn('negotiation', (e as Error).message);
    }
  };
  pc.onnegotiationneeded = async () => {
    try {
      makingOffer = true;
      await pc.setLocalDescription();
      sendSignal({ description: pc.localDescription });
    } catch (e) {
      console.warn('offer', (e as Error).message);
    } finally {
      makingOffer = false;
    }
  };
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) sendSignal({ candidate: candidate.toJSON() });
  };
  const wire = (ch: RTCDataChannel): void => {
    dc = ch;
    ch.binaryType = 'arraybuffer';
    ch.onmessage = (ev) => {
      const d = ev.data as unknown;
      if (typeof d === 'string' && d.startsWith('{"t":"s"')) void onSignal((JSON.parse(d) as { m: Parameters<typeof onSignal>[0] }).m);
      else onAppData(d);
    };
  };
  sig.onSignal((s) => void onSignal(s.data as Parameters<typeof onSignal>[0]));
  pc.ondatachannel = (ev) => wire(ev.channel);
  // The first node in the room returns at once and waits for the second, which starts the negotiation.
  void peer.then((id) => {
    peerId = id;
    if (joiner) wire(pc.createDataChannel('bench')); // reliable, ordered: negotiationneeded → the first offer
  });
  const stream = new TickStream((s) => {
    if (!dc || dc.readyState !== 'open') return false;
    dc.send(s);
    return true;
  });
  return {
    mode: 'ice',
    nodeId,
    station: () => current,
    startStream: (n) => stream.start(n),
    stopStream: () => stream.stop(),
    takeLog: () => rec.take(),
    async hop(st) {
      const t = wall();
      pc.setConfiguration({ iceServers: [stationOf(st).iceServer], iceTransportPolicy: 'relay' });
      pc.restartIce();
      current = st;
      return t;
    },
    lose: () => Promise.reject(new Error('not measured for the ICE-restart baseline')),
    attachNew: () => Promise.reject(new Error('not measured for the ICE-restart baseline')),
    bulk: (ms, size, o) => bulkOnChannel(dc!, ms, size, o?.pollMs),
    bulkRx: () => rec.bulkRx(),
    bulkReset: () => rec.bulkReset(),
    hopAndWait: () => Promise.reject(new Error('ours only')),
    async pathStation() {
      const stats = await pc.getStats();
      let pairId: string | undefined;
      stats.forEach((r: { type: string; selectedCandidatePairId?: string }) => {
        if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
      });
      const pair = pairId ? (stats.get(pairId) as { localCandidateId?: string } | undefined) : undefined;
      const cand = pair?.localCandidateId ? (stats.get(pair.localCandidateId) as { url?: string; port?: number } | undefined) : undefined;
      if (!cand) return null;
      const st = stations.find((x) => cand.url && x.iceServer.urls.includes(cand.url.replace(/^turn:/, '')));
      return st?.id ?? `?${cand.url ?? ''}`;
    },
    iceStates: () => states,
    connected: () => dc?.readyState === 'open',
    async close() {
      stream.stop();
      pc.close();
      await sig.close();
    },
  };
}

// ------------------------------------------------------------------------------------------------ baseline (c): reconnect

async function startReconnect(cfg: ClientConfig, stations: StationInfo[]): Promise<BenchApi> {
  const nodeId = randomId('c');
  const stationOf = (id: string) => {
    const s = stations.find((x) => x.id === id);
    if (!s) throw new Error(`unknown station ${id}`);
    return s;
  };
  let current: string | null = START_STATION || stations[0]!.id;
  const { sig, peer: peerP, joiner } = await joinRoom(cfg, nodeId);
  let peerId = '';
  // A generation names one peer connection: (number, owner). The newest wins; a tie (both ends rebuilt at once)
  // goes to the larger owner id, so both ends converge on one connection.
  let gen = { n: 0, owner: '' };
  let sp: SimplePeer.Instance | null = null;
  const newer = (a: { n: number; owner: string }, b: { n: number; owner: string }) => a.n > b.n || (a.n === b.n && a.owner > b.owner);
  const build = (g: { n: number; owner: string }, initiator: boolean): void => {
    sp?.destroy();
    sp = null;
    gen = g;
    if (!current) return;
    const p = new SimplePeer({
      initiator,
      trickle: true,
      config: { iceServers: [stationOf(current).iceServer], iceTransportPolicy: 'relay' },
    });
    sp = p;
    p.on('signal', (data: unknown) => {
      if (sp === p && sig.joined) sig.signal(peerId, { g, data });
    });
    p.on('data', (d: unknown) => {
      if (sp !== p) return;
      if (d instanceof Uint8Array && d[0] !== BULK && d.length < 200) onAppData(new TextDecoder().decode(d));
      else onAppData(d);
    });
    p.on('error', () => {});
  };
  sig.onSignal((s) => {
    const m = s.data as { g: { n: number; owner: string }; data: SimplePeer.SignalData };
    if (newer(m.g, gen)) build(m.g, false);
    if (m.g.n === gen.n && m.g.owner === gen.owner) {
      try {
        sp?.signal(m.data);
      } catch {
        /* a stale signal */
      }
    }
  });
  void peerP.then((id) => {
    peerId = id;
    if (joiner) build({ n: 1, owner: nodeId }, true);
  });
  const rebuild = (): void => build({ n: gen.n + 1, owner: nodeId }, true);
  const isOpen = (): boolean => !!sp && (sp as unknown as { _channel?: RTCDataChannel })._channel?.readyState === 'open';
  const stream = new TickStream((s) => {
    if (!isOpen()) return false;
    try {
      sp!.send(s);
      return true;
    } catch {
      return false;
    }
  });
  return {
    mode: 'reconnect',
    nodeId,
    station: () => current ?? '',
    startStream: (n) => stream.start(n),
    stopStream: () => stream.stop(),
    takeLog: () => rec.take(),
    async hop(st) {
      const t = wall();
      current = st;
      rebuild();
      return t;
    },
    async lose() {
      const t = wall();
      current = null;
      sp?.destroy();
      sp = null;
      return t;
    },
    async attachNew(st) {
      const t = wall();
      current = st;
      rebuild();
      return t;
    },
    bulk: (ms, size, o) => bulkOnChannel((sp as unknown as { _channel: RTCDataChannel })._channel, ms, size, o?.pollMs),
    bulkRx: () => rec.bulkRx(),
    bulkReset: () => rec.bulkReset(),
    hopAndWait: () => Promise.reject(new Error('ours only')),
    pathStation: async () => (isOpen() ? current : null),
    iceStates: () => [],
    connected: isOpen,
    async close() {
      stream.stop();
      sp?.destroy();
      await sig.close();
    },
  };
}

// ------------------------------------------------------------------------------------------------ start

window.benchReady = (async () => {
  const cfg = await loadConfig();
  const api =
    MODE === 'ours'
      ? await startOurs(cfg)
      : MODE === 'ice'
        ? await startIce(cfg, await loadStations(cfg))
        : MODE === 'reconnect'
          ? await startReconnect(cfg, await loadStations(cfg))
          : null;
  if (!api) throw new Error(`unknown mode ${MODE}`);
  window.bench = api;
  setStatus(`bench page: ${MODE} ${api.nodeId} ready`);
})();
