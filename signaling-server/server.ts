// The introduction-only signaling server: rooms, first-path offer/answer/candidate relay, resumption relay.
// It relays opaque blobs and never sees session keys. Every client message is validated; bad input is answered
// with a typed error to that one connection only, counted, and logged (one line, no content beyond 80 chars).

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { StationInfo } from './contracts.ts';
import {
  ERROR_CODES,
  MAX_FRAME_BYTES,
  isValidId,
  parseClientMessage,
  type ClientMessage,
  type ErrorCode,
  type PeerInfo,
  type Ref,
  type ServerMessage,
} from './protocol.ts';

export interface Limits {
  /** Largest frame in bytes; larger frames close the offending socket with 1009. Default 64 KiB. */
  maxFrameBytes: number;
  /** Members per room. Default 16. */
  maxPeersPerRoom: number;
  /** Rooms per server. Default 1000. */
  maxRooms: number;
  /** Token bucket refill, messages per second per connection. Default 50. */
  ratePerSec: number;
  /** Token bucket size. Default 100. */
  rateBurst: number;
  /** Dropped (rate-limited) messages within `abuseWindowMs` after which the socket is closed with 1008. Default 500. */
  abuseMaxDrops: number;
  /** Window for `abuseMaxDrops`. Default 10 s. */
  abuseWindowMs: number;
  /** WebSocket ping interval; a client that misses one pong is terminated. 0 disables. Default 30 s. */
  heartbeatMs: number;
  /** A recipient whose unsent buffer exceeds this is closed (1013) rather than buffering without bound. Default 8 MiB. */
  maxBufferedBytes: number;
  /** Open WebSocket connections per server. Default 10000. */
  maxConnections: number;
  /** How long close() waits for clients to finish the close handshake before cutting them off. Default 1 s. */
  closeGraceMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: MAX_FRAME_BYTES,
  maxPeersPerRoom: 16,
  maxRooms: 1000,
  ratePerSec: 50,
  rateBurst: 100,
  abuseMaxDrops: 500,
  abuseWindowMs: 10_000,
  heartbeatMs: 30_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxConnections: 10_000,
  closeGraceMs: 1000,
});

export interface SignalingServerOptions {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  stations?: () => StationInfo[];
  onStationAdmin?: (id: string, action: 'down' | 'up') => Promise<void>;
  limits?: Partial<Limits>;
  /** One line per rejection / notable event. Default: no logging. */
  log?: (line: string) => void;
}

export const ROOM_COUNTER_KINDS = ['join', 'signal-intro', 'signal-resume', 'leave', 'ping', 'invalid'] as const;
export type RoomCounterKind = (typeof ROOM_COUNTER_KINDS)[number];

export interface RoomStats {
  room: string;
  /** ms since epoch */
  createdAt: number;
  peers: PeerInfo[];
  /**
   * Messages received from this room's members, by kind. A message that was rejected for any reason (malformed,
   * rate limited, unknown peer, ...) counts as `invalid`, not under its kind. `join` counts successful joins.
   */
  received: Record<RoomCounterKind, number>;
  /** Signals delivered to a member. */
  relayed: number;
}

export interface ServerStats {
  rooms: number;
  peers: number;
  connections: number;
  uptimeSec: number;
  /** Rejected messages by error code, since start (rooms come and go; these do not). */
  rejected: Record<ErrorCode, number>;
  /** Sockets closed by the server for abuse (sustained rate limiting, oversized frame, protocol error, slow reader). */
  socketsClosed: number;
}

export interface SignalingServer {
  port: number;
  host: string;
  /** ws://host:port/signal */
  url: string;
  /** http://host:port */
  httpUrl: string;
  roomStats(room: string): RoomStats | null;
  stats(): ServerStats;
  close(): Promise<void>;
}

interface Member {
  node: string;
  name: string;
  conn: Conn;
}

interface Room {
  name: string;
  createdAt: number;
  members: Map<string, Member>;
  received: Record<RoomCounterKind, number>;
  relayed: number;
}

interface Conn {
  id: number;
  ws: WebSocket;
  remote: string;
  room: Room | null;
  member: Member | null;
  tokens: number;
  lastRefill: number;
  dropWindowStart: number;
  drops: number;
  lastRateErrorAt: number;
  suppressedDrops: number;
  alive: boolean;
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function clip(s: string, n = 80): string {
  const clean = s.replace(/[\x00-\x1f\x7f]/g, ' ');
  return clean.length > n ? `${clean.slice(0, n - 1)}…` : clean;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function startSignalingServer(opts: SignalingServerOptions): Promise<SignalingServer> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const startedAt = Date.now();
  const rooms = new Map<string, Room>();
  const conns = new Set<Conn>();
  const rejected = Object.fromEntries(ERROR_CODES.map((c) => [c, 0])) as Record<ErrorCode, number>;
  let socketsClosed = 0;
  let nextConnId = 1;
  let closing: Promise<void> | null = null;

  const safeLog = (line: string): void => {
    try {
      log(line);
    } catch {
      /* a broken logger must not break the server */
    }
  };

  const connTag = (c: Conn): string =>
    `conn=${c.id} remote=${c.remote}${c.member && c.room ? ` room=${c.room.name} node=${c.member.node}` : ''}`;

  const peerCount = (): number => {
    let n = 0;
    for (const r of rooms.values()) n += r.members.size;
    return n;
  };

  const send = (c: Conn, msg: ServerMessage): void => {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (c.ws.bufferedAmount > limits.maxBufferedBytes) {
      socketsClosed++;
      safeLog(`closed ${connTag(c)}: slow reader, ${c.ws.bufferedAmount} bytes unsent`);
      c.ws.close(1013, 'too slow');
      return;
    }
    c.ws.send(JSON.stringify(msg));
  };

  const reject = (c: Conn, code: ErrorCode, message: string, ref?: Ref, reply = true): void => {
    rejected[code]++;
    if (c.room) c.room.received.invalid++;
    safeLog(`rejected ${connTag(c)} ${code}: ${clip(message)}`);
    if (reply) send(c, ref === undefined ? { t: 'error', code, message } : { t: 'error', code, message, ref });
  };

  const leaveRoom = (c: Conn): void => {
    const room = c.room;
    const member = c.member;
    c.room = null;
    c.member = null;
    if (!room || !member) return;
    room.members.delete(member.node);
    for (const m of room.members.values()) send(m.conn, { t: 'peer-left', node: member.node });
    if (room.members.size === 0) rooms.delete(room.name);
  };

  const handle = (c: Conn, msg: ClientMessage): void => {
    switch (msg.t) {
      case 'ping':
        if (c.room) c.room.received.ping++;
        send(c, msg.ref === undefined ? { t: 'pong' } : { t: 'pong', ref: msg.ref });
        return;
      case 'join': {
        if (c.room) return reject(c, 'ERR_ALREADY_JOINED', `already joined room ${c.room.name}; leave first`, msg.ref);
        let room = rooms.get(msg.room);
        if (!room) {
          if (rooms.size >= limits.maxRooms) return reject(c, 'ERR_TOO_MANY_ROOMS', `server has the maximum of ${limits.maxRooms} rooms`, msg.ref);
        } else {
          if (room.members.has(msg.node)) return reject(c, 'ERR_DUPLICATE_NODE', `node ${msg.node} is already in room ${msg.room}`, msg.ref);
          if (room.members.size >= limits.maxPeersPerRoom) return reject(c, 'ERR_ROOM_FULL', `room ${msg.room} has the maximum of ${limits.maxPeersPerRoom} peers`, msg.ref);
        }
        if (!room) {
          room = {
            name: msg.room,
            createdAt: Date.now(),
            members: new Map(),
            received: Object.fromEntries(ROOM_COUNTER_KINDS.map((k) => [k, 0])) as Record<RoomCounterKind, number>,
            relayed: 0,
          };
          rooms.set(msg.room, room);
        }
        const peers = [...room.members.values()].map((m) => ({ node: m.node, name: m.name }));
        const member: Member = { node: msg.node, name: msg.name, conn: c };
        room.members.set(msg.node, member);
        room.received.join++;
        c.room = room;
        c.member = member;
        send(c, { t: 'welcome', room: room.name, node: member.node, peers });
        for (const m of room.members.values()) if (m !== member) send(m.conn, { t: 'peer-joined', node: member.node, name: member.name });
        return;
      }
      case 'signal': {
        const room = c.room;
        const me = c.member;
        if (!room || !me) return reject(c, 'ERR_NOT_JOINED', 'join a room before signaling', msg.ref);
        const target = room.members.get(msg.to);
        if (!target || target === me) return reject(c, 'ERR_UNKNOWN_PEER', target === me ? 'cannot signal yourself' : `no node ${msg.to} in room ${room.name}`, msg.ref);
        room.received[msg.kind === 'intro' ? 'signal-intro' : 'signal-resume']++;
        room.relayed++;
        send(target.conn, { t: 'signal', from: me.node, kind: msg.kind, data: msg.data });
        return;
      }
      case 'leave': {
        if (!c.room) return reject(c, 'ERR_NOT_JOINED', 'not in a room', msg.ref);
        c.room.received.leave++;
        leaveRoom(c);
        return;
      }
    }
  };

  /** Token bucket; returns false when the message must be dropped. */
  const takeToken = (c: Conn, now: number): boolean => {
    const elapsed = Math.max(0, now - c.lastRefill) / 1000;
    c.lastRefill = now;
    c.tokens = Math.min(limits.rateBurst, c.tokens + elapsed * limits.ratePerSec);
    if (c.tokens >= 1) {
      c.tokens -= 1;
      return true;
    }
    return false;
  };

  const onRateLimited = (c: Conn, now: number): void => {
    if (now - c.dropWindowStart > limits.abuseWindowMs) {
      c.dropWindowStart = now;
      c.drops = 0;
    }
    c.drops++;
    rejected.ERR_RATE_LIMITED++;
    if (c.room) c.room.received.invalid++;
    if (c.drops >= limits.abuseMaxDrops) {
      socketsClosed++;
      safeLog(`rejected ${connTag(c)} ERR_RATE_LIMITED: ${c.drops} messages dropped within ${limits.abuseWindowMs} ms; closing (1008)`);
      send(c, { t: 'error', code: 'ERR_RATE_LIMITED', message: 'sustained rate limit abuse; closing' });
      c.ws.close(1008, 'rate limit');
      return;
    }
    // Answer and log at most once per second per connection, so a flood does not become a reply or log flood.
    if (now - c.lastRateErrorAt >= 1000) {
      const suppressed = c.suppressedDrops;
      c.suppressedDrops = 0;
      c.lastRateErrorAt = now;
      const message = `rate limit ${limits.ratePerSec} msg/s (burst ${limits.rateBurst}) exceeded; message dropped`;
      safeLog(`rejected ${connTag(c)} ERR_RATE_LIMITED: ${clip(message)}${suppressed ? ` (+${suppressed} earlier drops not logged)` : ''}`);
      send(c, { t: 'error', code: 'ERR_RATE_LIMITED', message });
    } else {
      c.suppressedDrops++;
    }
  };

  const onMessage = (c: Conn, data: RawData, isBinary: boolean): void => {
    if (closing || c.ws.readyState !== WebSocket.OPEN) return; // e.g. frames still arriving after we closed it
    const now = Date.now();
    if (!takeToken(c, now)) return onRateLimited(c, now);
    if (isBinary) return reject(c, 'ERR_MALFORMED', 'binary frames are not accepted; send JSON text');
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const parsed = parseClientMessage(raw, { maxBytes: limits.maxFrameBytes });
    if (!parsed.ok) return reject(c, parsed.code, parsed.message, parsed.ref);
    handle(c, parsed.msg);
  };

  // ---------------------------------------------------------------------------------------------------------
  // HTTP

  const httpServer = http.createServer((req, res) => {
    try {
      handleHttp(req, res);
    } catch (err) {
      sendJson(res, 500, { ok: false, error: 'internal error' });
      safeLog(`http ${req.method} ${clip(req.url ?? '', 60)}: ${clip(String(err))}`);
    }
  });

  const sendJson = (res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void => {
    if (res.headersSent) return;
    res.writeHead(status, { ...JSON_HEADERS, ...extra });
    res.end(JSON.stringify(body));
  };

  const CORS = { 'access-control-allow-origin': '*' };

  const handleHttp = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.resume(); // bodies are not used
    const method = req.method ?? 'GET';
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      return sendJson(res, 400, { ok: false, error: 'bad request' });
    }
    const loopback = isLoopbackAddress(req.socket.remoteAddress);
    const segs = path.split('/').filter((s) => s !== '');

    const route = ((): { methods: string[]; run: () => void } | null => {
      if (path === '/health') {
        return {
          methods: ['GET', 'HEAD'],
          run: () => sendJson(res, 200, { ok: true, rooms: rooms.size, peers: peerCount(), uptimeSec: Math.floor((Date.now() - startedAt) / 1000) }, CORS),
        };
      }
      if (path === '/stations') {
        return {
          methods: ['GET', 'HEAD'],
          run: () => {
            let list: StationInfo[];
            try {
              list = opts.stations ? opts.stations() : [];
            } catch (err) {
              safeLog(`http GET /stations: stations() threw: ${clip(String(err))}`);
              return sendJson(res, 500, { ok: false, error: 'station list unavailable' }, CORS);
            }
            sendJson(res, 200, list, CORS);
          },
        };
      }
      if (segs.length === 3 && segs[0] === 'rooms' && segs[2] === 'stats') {
        const name = decodeSeg(segs[1]);
        return {
          methods: ['GET', 'HEAD'],
          run: () => {
            if (!loopback) return sendJson(res, 403, { ok: false, error: 'loopback clients only' }, CORS);
            if (name === null || !isValidId(name)) return sendJson(res, 404, { ok: false, error: 'no such room' }, CORS);
            const st = roomStats(name);
            if (!st) return sendJson(res, 404, { ok: false, error: 'no such room' }, CORS);
            sendJson(res, 200, st, CORS);
          },
        };
      }
      if (segs.length === 4 && segs[0] === 'admin' && segs[1] === 'stations' && (segs[3] === 'down' || segs[3] === 'up')) {
        const id = decodeSeg(segs[2]);
        const action = segs[3];
        // CORS too: the demo page (another port of this machine) reads the answer. Loopback clients only.
        return {
          methods: ['POST'],
          run: () => {
            if (!loopback) {
              safeLog(`http POST admin refused for remote=${req.socket.remoteAddress ?? '?'}`);
              return sendJson(res, 403, { ok: false, error: 'admin endpoints accept loopback clients only' }, CORS);
            }
            let known = false;
            try {
              known = id !== null && (opts.stations?.() ?? []).some((s) => s.id === id);
            } catch {
              known = false;
            }
            if (!known || id === null) return sendJson(res, 404, { ok: false, error: 'no such station' }, CORS);
            if (!opts.onStationAdmin) return sendJson(res, 501, { ok: false, error: 'station admin not configured' }, CORS);
            safeLog(`admin station ${clip(id, 64)} ${action}`);
            Promise.resolve()
              .then(() => opts.onStationAdmin!(id, action))
              .then(
                () => sendJson(res, 200, { ok: true, id, action }, CORS),
                (err: unknown) => {
                  safeLog(`admin station ${clip(id, 64)} ${action} failed: ${clip(String(err))}`);
                  sendJson(res, 500, { ok: false, error: `station ${action} failed` }, CORS);
                },
              );
          },
        };
      }
      return null;
    })();

    if (!route) return sendJson(res, 404, { ok: false, error: 'not found' }, method === 'GET' ? CORS : {});
    if (method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-allow-methods': route.methods.join(', '), 'access-control-max-age': '600' });
      return void res.end();
    }
    if (!route.methods.includes(method)) return sendJson(res, 405, { ok: false, error: 'method not allowed' }, { allow: route.methods.join(', ') });
    route.run();
  };

  function decodeSeg(s: string | undefined): string | null {
    if (s === undefined) return null;
    try {
      return decodeURIComponent(s);
    } catch {
      return null;
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // WebSocket

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes, clientTracking: false });

  httpServer.on('upgrade', (req, socket: Socket, head) => {
    socket.on('error', () => {});
    let path = '';
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      /* fall through to 404 */
    }
    const refuse = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (closing) return refuse('503 Service Unavailable');
    if (path !== '/signal') return refuse('404 Not Found');
    if (conns.size >= limits.maxConnections) {
      safeLog(`refused connection from ${req.socket.remoteAddress ?? '?'}: ${conns.size} connections open`);
      return refuse('503 Service Unavailable');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
  });

  const onConnection = (ws: WebSocket, req: http.IncomingMessage): void => {
    const now = Date.now();
    const c: Conn = {
      id: nextConnId++,
      ws,
      remote: req.socket.remoteAddress ?? '?',
      room: null,
      member: null,
      tokens: limits.rateBurst,
      lastRefill: now,
      dropWindowStart: now,
      drops: 0,
      lastRateErrorAt: -Infinity,
      suppressedDrops: 0,
      alive: true,
    };
    conns.add(c);
    if (closing) {
      ws.close(1001, 'server shutting down');
    }
    ws.on('message', (data, isBinary) => onMessage(c, data, isBinary));
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already started closing the socket (1009 for oversized frames, 1002/1007 for protocol errors).
      const code: ErrorCode = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'ERR_TOO_LARGE' : 'ERR_MALFORMED';
      socketsClosed++;
      reject(c, code, `${code === 'ERR_TOO_LARGE' ? `frame exceeds ${limits.maxFrameBytes} bytes` : 'websocket protocol error'}; socket closed (${err.code ?? 'error'})`, undefined, false);
    });
    ws.on('close', () => {
      conns.delete(c);
      leaveRoom(c);
    });
  };

  const heartbeat =
    limits.heartbeatMs > 0
      ? setInterval(() => {
          for (const c of conns) {
            if (!c.alive) {
              safeLog(`closed ${connTag(c)}: no pong within ${limits.heartbeatMs} ms`);
              c.ws.terminate();
              continue;
            }
            c.alive = false;
            try {
              c.ws.ping();
            } catch {
              /* socket already closing */
            }
          }
        }, limits.heartbeatMs)
      : null;
  heartbeat?.unref();

  // ---------------------------------------------------------------------------------------------------------

  function roomStats(name: string): RoomStats | null {
    const r = rooms.get(name);
    if (!r) return null;
    return {
      room: r.name,
      createdAt: r.createdAt,
      peers: [...r.members.values()].map((m) => ({ node: m.node, name: m.name })),
      received: { ...r.received },
      relayed: r.relayed,
    };
  }

  const stats = (): ServerStats => ({
    rooms: rooms.size,
    peers: peerCount(),
    connections: conns.size,
    uptimeSec: Math.floor((Date.now() - startedAt) / 1000),
    rejected: { ...rejected },
    socketsClosed,
  });

  const close = (): Promise<void> => {
    if (closing) return closing;
    closing = new Promise<void>((resolve) => {
      if (heartbeat) clearInterval(heartbeat);
      httpServer.close(() => resolve());
      for (const c of conns) {
        try {
          c.ws.close(1001, 'server shutting down');
        } catch {
          c.ws.terminate();
        }
      }
      httpServer.closeIdleConnections();
      const grace = setTimeout(() => {
        for (const c of conns) c.ws.terminate();
        httpServer.closeAllConnections();
      }, limits.closeGraceMs);
      grace.unref();
      wss.close();
    });
    return closing;
  };

  return new Promise<SignalingServer>((resolve, rejectStart) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (heartbeat) clearInterval(heartbeat);
      const msg =
        err.code === 'EADDRINUSE'
          ? `signaling server: port ${opts.port} on ${host} is already in use`
          : `signaling server: cannot listen on ${host}:${opts.port}: ${err.message}`;
      const e = new Error(msg) as NodeJS.ErrnoException;
      if (err.code !== undefined) e.code = err.code;
      e.cause = err;
      rejectStart(e);
    };
    httpServer.once('error', onError);
    httpServer.listen(opts.port, host, () => {
      httpServer.off('error', onError);
      httpServer.on('error', (err) => safeLog(`http server error: ${clip(String(err))}`));
      const port = (httpServer.address() as AddressInfo).port;
      const h = urlHost(host);
      safeLog(`signaling server listening on ${h}:${port}`);
      resolve({
        port,
        host,
        url: `ws://${h}:${port}/signal`,
        httpUrl: `http://${h}:${port}`,
        roomStats,
        stats,
        close,
      });
    });
  });
}
