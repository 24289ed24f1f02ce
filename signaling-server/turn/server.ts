// A compact TURN server (RFC 5766 / RFC 8656 subset, UDP only) for loopback "stations".
//
// Why not node-turn: it never closes a relay socket when an allocation ends, so a port range runs dry.
// Here every allocation owns exactly one relay socket, and that socket is closed (and its port returned
// to the pool) when the allocation ends for any reason: Refresh with LIFETIME 0, expiry, or close().
//
// Expiry (allocations, permissions, channel bindings) is checked by ONE unref'd interval timer per server;
// permission/channel validity is also checked against the clock at use time.
// Hostile bytes never throw out of a socket handler: malformed packets are dropped and counted in stats().dropped.

import dgram from 'node:dgram';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  StunAttr,
  StunClass,
  StunMethod,
  decodeChannelData,
  decodeChannelNumber,
  decodeStun,
  decodeXorAddress,
  encodeChannelData,
  encodeErrorCode,
  encodeStun,
  encodeXorAddress,
  getAttr,
  getAttrs,
  getString,
  getUint32,
  isValidChannelNumber,
  longTermKey,
  u32,
  verifyIntegrity,
  type DecodedStun,
  type StunAttribute,
  type TransportAddress,
} from './stun.ts';

export interface TurnServerOptions {
  port: number;
  /** Default '127.0.0.1'. */
  listenHost?: string;
  /** Default = listenHost; address advertised in XOR-RELAYED-ADDRESS and bound for relay sockets. */
  relayHost?: string;
  realm: string;
  username: string;
  password: string;
  /** With minPort/maxPort, relay ports come from a pool; without, relay sockets bind ephemeral ports. */
  minPort?: number;
  maxPort?: number;
  log?: (line: string) => void;
  /** Test hooks. Clock in ms (default Date.now) and the period of the single expiry sweep (default 1000 ms). */
  now?: () => number;
  sweepIntervalMs?: number;
  /** Upper bound on concurrent allocations (508 beyond it). Default 1000. */
  maxAllocations?: number;
  /** How long a NONCE stays valid before 438 Stale Nonce. Default 3600 s. */
  nonceLifetimeSec?: number;
}

export interface TurnStats {
  allocations: number;
  relaySocketsOpen: number;
  allocationsTotal: number;
  dropped: Record<string, number>;
}

export interface TurnServer {
  readonly port: number;
  stats(): TurnStats;
  close(): Promise<void>;
}

export const DEFAULT_LIFETIME_SEC = 600;
export const MAX_LIFETIME_SEC = 3600;
export const PERMISSION_LIFETIME_SEC = 300;
export const CHANNEL_LIFETIME_SEC = 600;
const SOFTWARE = 'net2o-station';
const UDP = 17;

interface Permission {
  expiresAt: number;
}
interface ChannelBinding {
  channel: number;
  peer: TransportAddress;
  peerKey: string;
  expiresAt: number;
}

interface Allocation {
  key: string;
  client: { address: string; port: number };
  transactionId: Buffer; // of the Allocate that created it (retransmissions get the same answer)
  response: Buffer | null; // null while the relay socket is binding
  socket: dgram.Socket | null;
  relayPort: number;
  relayFamily: 4 | 6;
  expiresAt: number;
  permissions: Map<string, Permission>; // by peer IP
  channels: Map<number, ChannelBinding>;
  channelByPeer: Map<string, ChannelBinding>; // by "ip:port"
  closed: boolean;
}

function peerKeyOf(a: { address: string; port: number }): string {
  return `${a.address}|${a.port}`;
}

function familyOf(host: string): 4 | 6 {
  return host.includes(':') ? 6 : 4;
}

function bindError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const e = new Error(
    err.code === 'EADDRINUSE'
      ? `TURN server: UDP port ${port} on ${host} is already in use`
      : `TURN server: cannot bind UDP ${host}:${port}: ${err.message}`,
  ) as NodeJS.ErrnoException;
  if (err.code !== undefined) e.code = err.code;
  e.cause = err;
  return e;
}

function bindSocket(type: 'udp4' | 'udp6', host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type, reuseAddr: false });
    const onError = (err: Error): void => {
      sock.removeListener('listening', onListening);
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      reject(err);
    };
    const onListening = (): void => {
      sock.removeListener('error', onError);
      resolve(sock);
    };
    sock.once('error', onError);
    sock.once('listening', onListening);
    sock.bind(port, host);
  });
}

export async function startTurnServer(opts: TurnServerOptions): Promise<TurnServer> {
  const listenHost = opts.listenHost ?? '127.0.0.1';
  const relayHost = opts.relayHost ?? listenHost;
  const relayFamily = familyOf(relayHost);
  const now = opts.now ?? Date.now;
  const log = opts.log ?? ((): void => {});
  const maxAllocations = opts.maxAllocations ?? 1000;
  const nonceLifetimeMs = (opts.nonceLifetimeSec ?? 3600) * 1000;
  const key = longTermKey(opts.username, opts.realm, opts.password);
  const nonceSecret = randomBytes(16);

  // Port pool: FIFO so a freed port is the last to be reused (stale peer packets find no permission anyway).
  let pool: number[] | null = null;
  if (opts.minPort !== undefined || opts.maxPort !== undefined) {
    const lo = opts.minPort ?? 49152;
    const hi = opts.maxPort ?? 65535;
    if (!(lo > 0 && hi >= lo && hi <= 65535)) throw new Error(`TURN server: bad relay port range ${lo}-${hi}`);
    pool = [];
    for (let p = lo; p <= hi; p++) pool.push(p);
  }

  let main: dgram.Socket;
  try {
    main = await bindSocket(familyOf(listenHost) === 6 ? 'udp6' : 'udp4', listenHost, opts.port);
  } catch (err) {
    throw bindError(err as NodeJS.ErrnoException, listenHost, opts.port);
  }
  const port = main.address().port;

  const allocations = new Map<string, Allocation>();
  const openSockets = new Set<dgram.Socket>();
  const socketClosed = new Map<dgram.Socket, Promise<void>>();
  const pendingBinds = new Set<Promise<dgram.Socket | null>>();
  let allocationsTotal = 0;
  let closing = false;
  const dropped: Record<string, number> = {};
  const drop = (reason: string): void => {
    dropped[reason] = (dropped[reason] ?? 0) + 1;
  };

  // ------------------------------------------------------------ nonces (stateless, time-stamped, MACed)
  const makeNonce = (): string => {
    const ts = Math.floor(now()).toString(16).padStart(12, '0');
    const mac = createHmac('sha256', nonceSecret).update(ts).digest('hex').slice(0, 24);
    return ts + mac;
  };
  const nonceState = (nonce: string | undefined): 'ok' | 'stale' | 'bad' => {
    if (nonce === undefined || !/^[0-9a-f]{36}$/.test(nonce)) return 'bad';
    const ts = nonce.slice(0, 12);
    const mac = Buffer.from(createHmac('sha256', nonceSecret).update(ts).digest('hex').slice(0, 24));
    if (!timingSafeEqual(mac, Buffer.from(nonce.slice(12)))) return 'bad';
    return now() - parseInt(ts, 16) > nonceLifetimeMs ? 'stale' : 'ok';
  };

  // ------------------------------------------------------------ sending
  const sendTo = (sock: dgram.Socket, buf: Buffer, p: number, address: string): void => {
    try {
      sock.send(buf, p, address, (err) => {
        if (err) drop('send-error');
      });
    } catch {
      drop('send-error'); // socket closed meanwhile
    }
  };

  const respond = (
    req: DecodedStun,
    rinfo: dgram.RemoteInfo,
    attrs: StunAttribute[],
    opt: { error?: number; reason?: string; auth?: boolean } = {},
  ): Buffer => {
    const list: StunAttribute[] = [];
    if (opt.error !== undefined) list.push({ type: StunAttr.ErrorCode, value: encodeErrorCode(opt.error, opt.reason ?? '') });
    list.push(...attrs, { type: StunAttr.Software, value: Buffer.from(SOFTWARE) });
    const buf = encodeStun(
      {
        method: req.method,
        cls: opt.error !== undefined ? StunClass.ErrorResponse : StunClass.SuccessResponse,
        transactionId: req.transactionId,
        attributes: list,
      },
      { ...(opt.auth ? { integrityKey: key } : {}), fingerprint: req.fingerprintOffset >= 0 },
    );
    sendTo(main, buf, rinfo.port, rinfo.address);
    return buf;
  };

  const challenge = (req: DecodedStun, rinfo: dgram.RemoteInfo, code: 401 | 438, reason: string): void => {
    respond(
      req,
      rinfo,
      [
        { type: StunAttr.Realm, value: Buffer.from(opts.realm) },
        { type: StunAttr.Nonce, value: Buffer.from(makeNonce()) },
      ],
      { error: code, reason },
    );
  };

  /** Long-term credential check. Returns true if the request may proceed; otherwise it has already answered. */
  const authenticate = (req: DecodedStun, rinfo: dgram.RemoteInfo): boolean => {
    if (req.integrityOffset < 0) {
      challenge(req, rinfo, 401, 'Unauthorized'); // the normal first round of the long-term mechanism: not counted
      return false;
    }
    const username = getString(req, StunAttr.Username);
    const realm = getString(req, StunAttr.Realm);
    const nonce = getString(req, StunAttr.Nonce);
    if (username === undefined || realm === undefined || nonce === undefined) {
      drop('bad-request');
      respond(req, rinfo, [], { error: 400, reason: 'Bad Request' });
      return false;
    }
    const ns = nonceState(nonce);
    if (ns !== 'ok') {
      drop(ns === 'stale' ? 'stale-nonce' : 'bad-nonce');
      challenge(req, rinfo, 438, 'Stale Nonce');
      return false;
    }
    if (username !== opts.username || realm !== opts.realm || !verifyIntegrity(req, key)) {
      drop('auth-failed');
      challenge(req, rinfo, 401, 'Unauthorized');
      return false;
    }
    return true;
  };

  // ------------------------------------------------------------ allocation lifecycle
  const closeSocket = (sock: dgram.Socket): Promise<void> => {
    const existing = socketClosed.get(sock);
    if (existing) return existing;
    const p = new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      try {
        sock.close();
      } catch {
        resolve(); // already closed
      }
    });
    socketClosed.set(sock, p);
    return p;
  };

  const endAllocation = (alloc: Allocation, why: string): Promise<void> => {
    if (alloc.closed) return Promise.resolve();
    alloc.closed = true;
    if (allocations.get(alloc.key) === alloc) allocations.delete(alloc.key);
    alloc.permissions.clear();
    alloc.channels.clear();
    alloc.channelByPeer.clear();
    log(`turn:${port} allocation ${alloc.key} ended (${why}), relay port ${alloc.relayPort}`);
    return alloc.socket ? closeSocket(alloc.socket) : Promise.resolve();
  };

  const takeRelaySocket = async (): Promise<dgram.Socket | null> => {
    const type = relayFamily === 6 ? 'udp6' : 'udp4';
    if (!pool) {
      try {
        return await bindSocket(type, relayHost, 0);
      } catch (err) {
        log(`turn:${port} relay bind failed: ${(err as Error).message}`);
        return null;
      }
    }
    const attempts = pool.length;
    for (let i = 0; i < attempts; i++) {
      const p = pool.shift();
      if (p === undefined) return null;
      try {
        const sock = await bindSocket(type, relayHost, p);
        sock.once('close', () => pool!.push(p));
        return sock;
      } catch {
        pool.push(p); // taken by someone else: try the next one, keep it for later
      }
    }
    return null;
  };

  const onRelayMessage = (alloc: Allocation, data: Buffer, rinfo: dgram.RemoteInfo): void => {
    try {
      if (alloc.closed) return;
      const t = now();
      const perm = alloc.permissions.get(rinfo.address);
      if (!perm || perm.expiresAt <= t) {
        drop('no-permission');
        return;
      }
      const peer = { address: rinfo.address, port: rinfo.port };
      const binding = alloc.channelByPeer.get(peerKeyOf(peer));
      if (binding && binding.expiresAt > t) {
        sendTo(main, encodeChannelData(binding.channel, data), alloc.client.port, alloc.client.address);
        return;
      }
      const family: 4 | 6 = rinfo.family === 'IPv6' ? 6 : 4;
      const tid = randomBytes(12);
      const ind = encodeStun({
        method: StunMethod.Data,
        cls: StunClass.Indication,
        transactionId: tid,
        attributes: [
          { type: StunAttr.XorPeerAddress, value: encodeXorAddress({ family, ...peer }, tid) },
          { type: StunAttr.Data, value: data },
        ],
      });
      sendTo(main, ind, alloc.client.port, alloc.client.address);
    } catch {
      drop('relay-error');
    }
  };

  // ------------------------------------------------------------ request handlers
  const KNOWN_REQUIRED = new Set<number>([
    StunAttr.MappedAddress,
    StunAttr.Username,
    StunAttr.MessageIntegrity,
    StunAttr.ErrorCode,
    StunAttr.UnknownAttributes,
    StunAttr.ChannelNumber,
    StunAttr.Lifetime,
    StunAttr.XorPeerAddress,
    StunAttr.Data,
    StunAttr.Realm,
    StunAttr.Nonce,
    StunAttr.XorRelayedAddress,
    StunAttr.RequestedAddressFamily,
    StunAttr.EvenPort,
    StunAttr.RequestedTransport,
    StunAttr.DontFragment,
    StunAttr.XorMappedAddress,
    StunAttr.Priority,
    StunAttr.UseCandidate,
  ]);

  const checkUnknown = (req: DecodedStun, rinfo: dgram.RemoteInfo): boolean => {
    const unknown = req.attributes.map((a) => a.type).filter((t) => t < 0x8000 && !KNOWN_REQUIRED.has(t));
    if (unknown.length === 0) return true;
    drop('unknown-attribute');
    const v = Buffer.alloc(unknown.length * 2);
    unknown.forEach((t, i) => v.writeUInt16BE(t, i * 2));
    respond(req, rinfo, [{ type: StunAttr.UnknownAttributes, value: v }], { error: 420, reason: 'Unknown Attribute' });
    return false;
  };

  const peerAddresses = (req: DecodedStun): TransportAddress[] | null => {
    const values = getAttrs(req, StunAttr.XorPeerAddress);
    const out: TransportAddress[] = [];
    for (const v of values) {
      const a = decodeXorAddress(v, req.transactionId);
      if (!a) return null;
      out.push(a);
    }
    return out;
  };

  const handleAllocate = async (req: DecodedStun, rinfo: dgram.RemoteInfo, k: string): Promise<void> => {
    const existing = allocations.get(k);
    if (existing && existing.transactionId.equals(req.transactionId)) {
      // Retransmission of the Allocate that created this allocation.
      if (existing.response) sendTo(main, existing.response, rinfo.port, rinfo.address);
      else drop('retransmit-pending');
      return;
    }
    if (!authenticate(req, rinfo)) return;
    if (existing) {
      respond(req, rinfo, [], { error: 437, reason: 'Allocation Mismatch', auth: true });
      return;
    }
    const rt = getAttr(req, StunAttr.RequestedTransport);
    if (!rt || rt.length !== 4) {
      respond(req, rinfo, [], { error: 400, reason: 'Bad Request: REQUESTED-TRANSPORT missing', auth: true });
      return;
    }
    if (rt[0] !== UDP) {
      respond(req, rinfo, [], { error: 442, reason: 'Unsupported Transport Protocol', auth: true });
      return;
    }
    const raf = getAttr(req, StunAttr.RequestedAddressFamily);
    if (raf && (raf.length !== 4 || raf[0] !== (relayFamily === 6 ? 0x02 : 0x01))) {
      respond(req, rinfo, [], { error: 440, reason: 'Address Family not Supported', auth: true });
      return;
    }
    if (allocations.size >= maxAllocations) {
      respond(req, rinfo, [], { error: 508, reason: 'Insufficient Capacity', auth: true });
      return;
    }
    const requested = getUint32(req, StunAttr.Lifetime);
    const lifetime = Math.min(Math.max(requested ?? DEFAULT_LIFETIME_SEC, DEFAULT_LIFETIME_SEC), MAX_LIFETIME_SEC);
    const alloc: Allocation = {
      key: k,
      client: { address: rinfo.address, port: rinfo.port },
      transactionId: req.transactionId,
      response: null,
      socket: null,
      relayPort: 0,
      relayFamily,
      expiresAt: now() + lifetime * 1000,
      permissions: new Map(),
      channels: new Map(),
      channelByPeer: new Map(),
      closed: false,
    };
    allocations.set(k, alloc); // reserve the 5-tuple while the relay socket binds
    const binding = takeRelaySocket();
    pendingBinds.add(binding);
    const sock = await binding.finally(() => pendingBinds.delete(binding));
    if (!sock) {
      allocations.delete(k);
      alloc.closed = true;
      drop('capacity');
      if (!closing) respond(req, rinfo, [], { error: 508, reason: 'Insufficient Capacity', auth: true });
      return;
    }
    openSockets.add(sock);
    sock.once('close', () => openSockets.delete(sock));
    sock.on('error', (err) => log(`turn:${port} relay socket error: ${err.message}`));
    alloc.socket = sock;
    alloc.relayPort = sock.address().port;
    if (alloc.closed || closing) {
      await closeSocket(sock);
      return;
    }
    sock.on('message', (msg, ri) => onRelayMessage(alloc, msg, ri));
    allocationsTotal++;
    alloc.response = respond(
      req,
      rinfo,
      [
        {
          type: StunAttr.XorRelayedAddress,
          value: encodeXorAddress({ family: relayFamily, address: relayHost, port: alloc.relayPort }, req.transactionId),
        },
        { type: StunAttr.Lifetime, value: u32(lifetime) },
        {
          type: StunAttr.XorMappedAddress,
          value: encodeXorAddress(
            { family: rinfo.family === 'IPv6' ? 6 : 4, address: rinfo.address, port: rinfo.port },
            req.transactionId,
          ),
        },
      ],
      { auth: true },
    );
    log(`turn:${port} allocation ${k} -> relay ${relayHost}:${alloc.relayPort} (${lifetime}s)`);
  };

  const liveAllocation = (req: DecodedStun, rinfo: dgram.RemoteInfo, k: string): Allocation | null => {
    const alloc = allocations.get(k);
    if (!alloc || alloc.closed || !alloc.socket || alloc.expiresAt <= now()) {
      respond(req, rinfo, [], { error: 437, reason: 'Allocation Mismatch', auth: true });
      return null;
    }
    return alloc;
  };

  const handleRefresh = (req: DecodedStun, rinfo: dgram.RemoteInfo, k: string): void => {
    if (!authenticate(req, rinfo)) return;
    const alloc = liveAllocation(req, rinfo, k);
    if (!alloc) return;
    const requested = getUint32(req, StunAttr.Lifetime);
    if (requested === 0) {
      void endAllocation(alloc, 'refresh 0');
      respond(req, rinfo, [{ type: StunAttr.Lifetime, value: u32(0) }], { auth: true });
      return;
    }
    const lifetime = Math.min(Math.max(requested ?? DEFAULT_LIFETIME_SEC, DEFAULT_LIFETIME_SEC), MAX_LIFETIME_SEC);
    alloc.expiresAt = now() + lifetime * 1000;
    respond(req, rinfo, [{ type: StunAttr.Lifetime, value: u32(lifetime) }], { auth: true });
  };

  const handleCreatePermission = (req: DecodedStun, rinfo: dgram.RemoteInfo, k: string): void => {
    if (!authenticate(req, rinfo)) return;
    const alloc = liveAllocation(req, rinfo, k);
    if (!alloc) return;
    const peers = peerAddresses(req);
    if (!peers || peers.length === 0) {
      respond(req, rinfo, [], { error: 400, reason: 'Bad Request: XOR-PEER-ADDRESS', auth: true });
      return;
    }
    if (peers.some((p) => p.family !== alloc.relayFamily)) {
      respond(req, rinfo, [], { error: 443, reason: 'Peer Address Family Mismatch', auth: true });
      return;
    }
    const expiresAt = now() + PERMISSION_LIFETIME_SEC * 1000;
    for (const p of peers) alloc.permissions.set(p.address, { expiresAt });
    respond(req, rinfo, [], { auth: true });
  };

  const handleChannelBind = (req: DecodedStun, rinfo: dgram.RemoteInfo, k: string): void => {
    if (!authenticate(req, rinfo)) return;
    const alloc = liveAllocation(req, rinfo, k);
    if (!alloc) return;
    const cnv = getAttr(req, StunAttr.ChannelNumber);
    const channel = cnv ? decodeChannelNumber(cnv) : null;
    const peers = peerAddresses(req);
    const peer = peers && peers.length === 1 ? peers[0]! : null;
    if (channel === null || !isValidChannelNumber(channel) || !peer) {
      respond(req, rinfo, [], { error: 400, reason: 'Bad Request: CHANNEL-NUMBER/XOR-PEER-ADDRESS', auth: true });
      return;
    }
    if (peer.family !== alloc.relayFamily) {
      respond(req, rinfo, [], { error: 443, reason: 'Peer Address Family Mismatch', auth: true });
      return;
    }
    const t = now();
    const pk = peerKeyOf(peer);
    const byChannel = alloc.channels.get(channel);
    const byPeer = alloc.channelByPeer.get(pk);
    if ((byChannel && byChannel.expiresAt > t && byChannel.peerKey !== pk) || (byPeer && byPeer.expiresAt > t && byPeer.channel !== channel)) {
      respond(req, rinfo, [], { error: 400, reason: 'Bad Request: channel or peer already bound', auth: true });
      return;
    }
    if (byChannel) alloc.channelByPeer.delete(byChannel.peerKey);
    if (byPeer) alloc.channels.delete(byPeer.channel);
    const binding: ChannelBinding = { channel, peer, peerKey: pk, expiresAt: t + CHANNEL_LIFETIME_SEC * 1000 };
    alloc.channels.set(channel, binding);
    alloc.channelByPeer.set(pk, binding);
    const perm = alloc.permissions.get(peer.address);
    const permExpiry = t + PERMISSION_LIFETIME_SEC * 1000;
    if (!perm || perm.expiresAt < permExpiry) alloc.permissions.set(peer.address, { expiresAt: permExpiry });
    respond(req, rinfo, [], { auth: true });
  };

  const handleSend = (req: DecodedStun, k: string): void => {
    const alloc = allocations.get(k);
    if (!alloc || alloc.closed || !alloc.socket) {
      drop('no-allocation');
      return;
    }
    const peers = peerAddresses(req);
    const data = getAttr(req, StunAttr.Data);
    if (!peers || peers.length !== 1 || !data) {
      drop('bad-send');
      return;
    }
    const peer = peers[0]!;
    const perm = alloc.permissions.get(peer.address);
    if (!perm || perm.expiresAt <= now() || peer.family !== alloc.relayFamily) {
      drop('no-permission');
      return;
    }
    sendTo(alloc.socket, data, peer.port, peer.address);
  };

  const handleChannelData = (buf: Buffer, k: string): void => {
    const cd = decodeChannelData(buf);
    if (!cd) {
      drop('malformed');
      return;
    }
    const alloc = allocations.get(k);
    if (!alloc || alloc.closed || !alloc.socket) {
      drop('no-allocation');
      return;
    }
    const binding = alloc.channels.get(cd.channel);
    if (!binding || binding.expiresAt <= now()) {
      drop('no-channel');
      return;
    }
    sendTo(alloc.socket, cd.data, binding.peer.port, binding.peer.address);
  };

  const onMessage = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    try {
      if (closing) return;
      const k = `${rinfo.address}|${rinfo.port}`;
      const first = buf.length > 0 ? buf[0]! : 0xff;
      if ((first & 0xc0) === 0x40) {
        handleChannelData(buf, k);
        return;
      }
      const res = decodeStun(buf);
      if (!res.ok) {
        drop('malformed');
        return;
      }
      const req = res.message;
      if (req.cls === StunClass.Indication) {
        if (req.method === StunMethod.Send) handleSend(req, k);
        else if (req.method !== StunMethod.Binding) drop('unexpected-indication');
        return;
      }
      if (req.cls !== StunClass.Request) {
        drop('unexpected-response');
        return;
      }
      switch (req.method) {
        case StunMethod.Binding:
          respond(req, rinfo, [
            {
              type: StunAttr.XorMappedAddress,
              value: encodeXorAddress(
                { family: rinfo.family === 'IPv6' ? 6 : 4, address: rinfo.address, port: rinfo.port },
                req.transactionId,
              ),
            },
          ]);
          return;
        case StunMethod.Allocate:
          if (!checkUnknown(req, rinfo)) return;
          handleAllocate(req, rinfo, k).catch((err: unknown) => {
            drop('internal-error');
            log(`turn:${port} allocate failed: ${String(err)}`);
          });
          return;
        case StunMethod.Refresh:
          if (!checkUnknown(req, rinfo)) return;
          handleRefresh(req, rinfo, k);
          return;
        case StunMethod.CreatePermission:
          if (!checkUnknown(req, rinfo)) return;
          handleCreatePermission(req, rinfo, k);
          return;
        case StunMethod.ChannelBind:
          if (!checkUnknown(req, rinfo)) return;
          handleChannelBind(req, rinfo, k);
          return;
        default:
          drop('unknown-method');
          respond(req, rinfo, [], { error: 400, reason: 'Bad Request: unknown method' });
      }
    } catch (err) {
      drop('internal-error');
      log(`turn:${port} handler error: ${String(err)}`);
    }
  };

  main.on('message', onMessage);
  main.on('error', (err) => log(`turn:${port} socket error: ${err.message}`));

  // ------------------------------------------------------------ the one expiry sweep
  const sweep = (): void => {
    const t = now();
    for (const alloc of [...allocations.values()]) {
      if (!alloc.socket) continue; // still binding
      if (alloc.expiresAt <= t) {
        void endAllocation(alloc, 'expired');
        continue;
      }
      for (const [ip, perm] of alloc.permissions) if (perm.expiresAt <= t) alloc.permissions.delete(ip);
      for (const [ch, b] of alloc.channels) {
        if (b.expiresAt <= t) {
          alloc.channels.delete(ch);
          if (alloc.channelByPeer.get(b.peerKey) === b) alloc.channelByPeer.delete(b.peerKey);
        }
      }
    }
  };
  const timer = setInterval(sweep, opts.sweepIntervalMs ?? 1000);
  timer.unref();

  let closePromise: Promise<void> | null = null;
  log(`turn: listening on ${listenHost}:${port} (realm ${opts.realm}, relay ${relayHost}${pool ? ` ports ${opts.minPort}-${opts.maxPort}` : ''})`);

  return {
    port,
    stats(): TurnStats {
      return { allocations: allocations.size, relaySocketsOpen: openSockets.size, allocationsTotal, dropped: { ...dropped } };
    },
    close(): Promise<void> {
      if (closePromise) return closePromise;
      closing = true;
      clearInterval(timer);
      const waits: Promise<void>[] = [];
      for (const alloc of [...allocations.values()]) waits.push(endAllocation(alloc, 'server closed'));
      for (const sock of [...openSockets]) waits.push(closeSocket(sock));
      waits.push(closeSocket(main));
      closePromise = (async (): Promise<void> => {
        // Relay sockets still binding are closed by their Allocate handler once bound (it sees `closing`).
        await Promise.allSettled([...pendingBinds]);
        await new Promise<void>((r) => setImmediate(r));
        for (const sock of [...openSockets]) waits.push(closeSocket(sock));
        await Promise.all(waits);
        log(`turn: ${listenHost}:${port} closed`);
      })();
      return closePromise;
    },
  };
}
