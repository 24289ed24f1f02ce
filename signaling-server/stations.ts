// Station manager: one TURN relay per station, embedded (./turn/server.ts) by default, coturn on request.
// down(id) simulates an outage for every node attached to the station (the relay closes, all allocations die
// at once); up(id) restarts it on the same port with the same credentials.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { StationInfo } from './contracts.ts';
import { startTurnServer, type TurnServer, type TurnStats } from './turn/server.ts';
import { StunAttr, StunClass, StunMethod, decodeStun, encodeStun } from './turn/stun.ts';

export type { TurnStats } from './turn/server.ts';

export interface StationSpec {
  id: string;
  label: string;
  port: number;
  username?: string;
  password?: string;
}

export const DEFAULT_STATIONS: StationSpec[] = [
  { id: 'cell-a', label: 'Cell A', port: 3478 },
  { id: 'cell-b', label: 'Cell B', port: 3479 },
  { id: 'wifi', label: 'Wi-Fi', port: 3480 },
];

export interface StationsOptions {
  specs?: StationSpec[];
  /** auto = embedded; coturn only when asked. */
  kind?: 'embedded' | 'coturn' | 'auto';
  listenHost?: string;
  /** The host put in StationInfo.iceServer.urls (e.g. the LAN IP with --host); default listenHost. */
  advertiseHost?: string;
  realm?: string;
  log?: (line: string) => void;
  tmpDir?: string;
}

export interface Stations {
  list(): StationInfo[];
  down(id: string): Promise<void>;
  up(id: string): Promise<void>;
  stats(id: string): TurnStats | null;
  stop(): Promise<void>;
}

/** `turnserver` (coturn) on PATH. */
export function coturnAvailable(): boolean {
  return findOnPath('turnserver') !== null;
}

function findOnPath(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

interface Station {
  spec: StationSpec;
  port: number; // fixed after the first start (spec.port 0 = ephemeral, then kept for up())
  username: string;
  password: string;
  up: boolean;
  turn: TurnServer | null; // embedded: kept after down() so stats() still answers
  coturn: CoturnInstance | null;
  index: number;
  busy: Promise<void>; // serialises down/up/stop per station
}

interface CoturnInstance {
  child: ChildProcess;
  exited: Promise<void>;
}

function stationError(spec: StationSpec, port: number, err: unknown): Error {
  const cause = err as NodeJS.ErrnoException;
  const msg =
    cause?.code === 'EADDRINUSE'
      ? `station '${spec.id}' (${spec.label}): UDP port ${port} is already in use — pick another station port`
      : `station '${spec.id}' (${spec.label}) on port ${port} failed to start: ${cause?.message ?? String(err)}`;
  const e = new Error(msg, { cause: err }) as NodeJS.ErrnoException;
  if (cause?.code) e.code = cause.code;
  return e;
}

/** Throws EADDRINUSE if `port` is taken on `host` (UDP). Used before spawning coturn, which would not say so clearly. */
function probeUdpPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', (err) => {
      try {
        s.close();
      } catch {
        /* closed */
      }
      reject(err);
    });
    s.bind(port, host, () => s.close(() => resolve()));
  });
}

/** A free UDP port on `host` (bind 0, read, close). */
function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', reject);
    s.bind(0, host, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** Resolves once a STUN Binding request to host:port gets a response; rejects after timeoutMs or when `abort` fires. */
export async function waitForStun(host: string, port: number, timeoutMs: number, abort?: Promise<unknown>): Promise<void> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => sock.bind(0, host.includes(':') ? '::1' : '127.0.0.1', () => r()));
  try {
    await new Promise<void>((resolve, reject) => {
      const tid = randomBytes(12);
      const req = encodeStun(
        { method: StunMethod.Binding, cls: StunClass.Request, transactionId: tid, attributes: [] },
        { fingerprint: true },
      );
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearInterval(iv);
        clearTimeout(to);
        if (err) reject(err);
        else resolve();
      };
      sock.on('message', (msg) => {
        const r = decodeStun(msg);
        if (r.ok && r.message.transactionId.equals(tid) && r.message.cls === StunClass.SuccessResponse) finish();
      });
      sock.on('error', () => {
        /* ICMP port unreachable before the server is up: keep trying */
      });
      const ping = (): void => {
        sock.send(req, port, host, () => {});
      };
      const iv = setInterval(ping, 100);
      const to = setTimeout(() => finish(new Error(`no STUN answer on ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
      abort?.then(
        () => finish(new Error('process exited before answering STUN')),
        () => finish(new Error('process exited before answering STUN')),
      );
      ping();
    });
  } finally {
    await new Promise<void>((r) => sock.close(() => r()));
  }
}

export async function startStations(opts: StationsOptions = {}): Promise<Stations> {
  const specs = opts.specs ?? DEFAULT_STATIONS;
  const kind: 'embedded' | 'coturn' = opts.kind === 'coturn' ? 'coturn' : 'embedded';
  const listenHost = opts.listenHost ?? '127.0.0.1';
  const advertiseHost = opts.advertiseHost ?? listenHost;
  const realm = opts.realm ?? 'net2o.local';
  const log = opts.log ?? ((): void => {});
  const ids = new Set<string>();
  for (const s of specs) {
    if (ids.has(s.id)) throw new Error(`duplicate station id '${s.id}'`);
    ids.add(s.id);
  }
  if (kind === 'coturn' && !coturnAvailable()) {
    throw new Error("stations: kind 'coturn' requested but `turnserver` (coturn) is not on PATH");
  }
  let tmpRoot: string | null = null;
  const ensureTmp = (): string => {
    tmpRoot ??= mkdtempSync(join(opts.tmpDir ?? tmpdir(), 'net2o-stations-'));
    return tmpRoot;
  };

  const stations = new Map<string, Station>();
  specs.forEach((spec, index) => {
    stations.set(spec.id, {
      spec,
      port: spec.port,
      username: spec.username ?? `station-${spec.id}`,
      password: spec.password ?? randomBytes(12).toString('hex'),
      up: false,
      turn: null,
      coturn: null,
      index,
      busy: Promise.resolve(),
    });
  });

  const startEmbedded = async (st: Station): Promise<void> => {
    try {
      st.turn = await startTurnServer({
        port: st.port,
        listenHost,
        realm,
        username: st.username,
        password: st.password,
        log: (line) => log(`[${st.spec.id}] ${line}`),
      });
    } catch (err) {
      throw stationError(st.spec, st.port, err);
    }
    st.port = st.turn.port;
  };

  const startCoturn = async (st: Station): Promise<void> => {
    if (st.port === 0) st.port = await freeUdpPort(listenHost);
    try {
      await probeUdpPortFree(listenHost, st.port);
    } catch (err) {
      throw stationError(st.spec, st.port, err);
    }
    const dir = ensureTmp();
    // Distinct relay ranges per station (coturn picks a free port inside its range).
    const minPort = 50000 + st.index * 500;
    const maxPort = minPort + 499;
    const args = [
      '-n',
      `--listening-ip=${listenHost}`,
      `--relay-ip=${listenHost}`,
      `--listening-port=${st.port}`,
      `--min-port=${minPort}`,
      `--max-port=${maxPort}`,
      '--lt-cred-mech',
      `--user=${st.username}:${st.password}`,
      `--realm=${realm}`,
      '--no-tls',
      '--no-dtls',
      '--allow-loopback-peers',
      '--no-cli',
      '--no-multicast-peers',
      `--pidfile=${join(dir, `${st.spec.id}.pid`)}`,
      `--userdb=${join(dir, `${st.spec.id}.sqlite`)}`,
      '--log-file=stdout',
    ];
    const child = spawn(findOnPath('turnserver') ?? 'turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (b: Buffer): void => {
      output = (output + b.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    st.coturn = { child, exited };
    try {
      await waitForStun(listenHost, st.port, 10_000, exited);
    } catch (err) {
      await killCoturn(st);
      const tail = output.trim().split('\n').slice(-5).join('\n');
      throw stationError(st.spec, st.port, new Error(`coturn: ${(err as Error).message}${tail ? `\n${tail}` : ''}`));
    }
    child.stdout?.removeListener('data', collect);
    child.stdout?.resume();
    child.stderr?.resume();
    log(`[${st.spec.id}] coturn pid ${child.pid} on ${listenHost}:${st.port} relay ${minPort}-${maxPort}`);
  };

  const killCoturn = async (st: Station): Promise<void> => {
    const inst = st.coturn;
    st.coturn = null;
    if (!inst) return;
    const { child, exited } = inst;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
  };

  const startOne = async (st: Station): Promise<void> => {
    if (kind === 'coturn') await startCoturn(st);
    else await startEmbedded(st);
    st.up = true;
  };

  const stopOne = async (st: Station): Promise<void> => {
    st.up = false;
    if (st.turn) await st.turn.close(); // keep the object: stats() still answers after down/stop
    await killCoturn(st);
  };

  const serial = (st: Station, fn: () => Promise<void>): Promise<void> => {
    const next = st.busy.then(fn, fn);
    st.busy = next.catch(() => {});
    return next;
  };

  const get = (id: string): Station => {
    const st = stations.get(id);
    if (!st) throw new Error(`no such station '${id}'`);
    return st;
  };

  // Start all; on failure stop the ones that started and rethrow.
  const started: Station[] = [];
  try {
    for (const st of stations.values()) {
      await startOne(st);
      started.push(st);
    }
  } catch (err) {
    await Promise.allSettled(started.map((st) => stopOne(st)));
    if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
    throw err;
  }
  log(`stations (${kind}): ${[...stations.values()].map((s) => `${s.spec.id}@${s.port}`).join(', ')}`);

  let stopped: Promise<void> | null = null;
  return {
    list(): StationInfo[] {
      return [...stations.values()].map((st) => ({
        id: st.spec.id,
        label: st.spec.label,
        iceServer: {
          urls: `turn:${advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost}:${st.port}?transport=udp`,
          username: st.username,
          credential: st.password,
        },
        up: st.up,
        kind,
      }));
    },
    async down(id: string): Promise<void> {
      const st = get(id);
      return serial(st, async () => {
        if (!st.up) return;
        await stopOne(st);
        log(`[${id}] down`);
      });
    },
    async up(id: string): Promise<void> {
      const st = get(id);
      if (stopped) throw new Error('stations stopped');
      return serial(st, async () => {
        if (st.up) return;
        await startOne(st);
        log(`[${id}] up`);
      });
    },
    stats(id: string): TurnStats | null {
      const st = stations.get(id);
      return st?.turn ? st.turn.stats() : null;
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        await Promise.allSettled([...stations.values()].map((st) => serial(st, () => stopOne(st))));
        if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
