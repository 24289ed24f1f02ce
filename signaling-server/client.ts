// A small client for the introduction-only signaling server, over the standard WebSocket API.
// Works in the browser (global WebSocket) and in Node 20 (pass `WebSocket` from 'ws').
// Reconnecting is not its job: after `close`, make a new client.
// Keep this file free of Node imports: the browser imports it.

import {
  isValidId,
  isValidName,
  parseServerMessage,
  type ErrorCode,
  type PeerInfo,
  type Ref,
  type ServerMessage,
  type SignalKind,
} from './protocol.ts';

/** What the client needs of a WebSocket: satisfied by the browser's WebSocket and by npm `ws`. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // `any` so both the DOM and the ws event types fit.
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}
export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

export interface SignalingClientOptions {
  /** Defaults to `globalThis.WebSocket` (browsers); required in Node 20. */
  WebSocket?: WebSocketConstructorLike;
  /** How long `join`/`ping`/`opened` wait for the server. Default 10 s. */
  timeoutMs?: number;
}

export type ClientErrorCode = ErrorCode | 'ERR_CLOSED' | 'ERR_TIMEOUT' | 'ERR_STATE' | 'ERR_CONNECT';

export class SignalingError extends Error {
  readonly code: ClientErrorCode;
  readonly ref: Ref | undefined;
  constructor(code: ClientErrorCode, message: string, ref?: Ref) {
    super(`${code}: ${message}`);
    this.name = 'SignalingError';
    this.code = code;
    this.ref = ref;
  }
}

export interface IncomingSignal {
  from: string;
  kind: SignalKind;
  data: unknown;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

type Listener<T> = (value: T) => void;

class Emitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  on(fn: Listener<T>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  emit(value: T): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(value);
      } catch (err) {
        // A failing listener must not break the client or the other listeners.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
  clear(): void {
    this.listeners.clear();
  }
}

interface Pending<T> {
  resolve: (v: T) => void;
  reject: (e: SignalingError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const WS_OPEN = 1;
const WS_CLOSED = 3;

export class SignalingClient {
  readonly url: string;
  private readonly ws: WebSocketLike;
  private readonly timeoutMs: number;
  private openState: 'connecting' | 'open' | 'closed' = 'connecting';
  private closeInfo: CloseInfo | null = null;
  private readonly openWaiters: Pending<void>[] = [];
  private readonly closeWaiters: (() => void)[] = [];
  private pendingJoin: (Pending<{ peers: PeerInfo[] }> & { ref: string; room: string; node: string; name: string }) | null = null;
  private readonly pendingPings: (Pending<number> & { ref: string; sentAt: number })[] = [];
  private nextRef = 1;
  private membership: { room: string; node: string; name: string } | null = null;
  private readonly peerMap = new Map<string, PeerInfo>();

  private readonly peerJoined = new Emitter<PeerInfo>();
  private readonly peerLeft = new Emitter<{ node: string }>();
  private readonly signals = new Emitter<IncomingSignal>();
  private readonly errors = new Emitter<SignalingError>();
  private readonly closes = new Emitter<CloseInfo>();

  constructor(url: string, opts: SignalingClientOptions = {}) {
    this.url = url;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    const Ctor = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    if (!Ctor) throw new Error('SignalingClient: no global WebSocket; pass { WebSocket } (e.g. from the "ws" package)');
    this.ws = new Ctor(url);
    this.ws.onopen = () => {
      if (this.openState !== 'connecting') return;
      this.openState = 'open';
      for (const w of this.openWaiters.splice(0)) {
        clearTimeout(w.timer);
        w.resolve();
      }
    };
    this.ws.onmessage = (ev: { data: unknown }) => this.onFrame(ev.data);
    this.ws.onerror = () => {
      // The close event follows and carries the outcome.
    };
    this.ws.onclose = (ev: { code?: number; reason?: string }) => this.onClosed({ code: ev.code ?? 1006, reason: ev.reason ?? '' });
  }

  /** 'connecting' until the socket opens, 'closed' once it closed (for any reason). */
  get state(): 'connecting' | 'open' | 'closed' {
    return this.openState;
  }
  /** Room membership after a successful join, else null. */
  get joined(): { room: string; node: string; name: string } | null {
    return this.membership ? { ...this.membership } : null;
  }
  /** The other members of the room, as currently known. */
  get peers(): PeerInfo[] {
    return [...this.peerMap.values()].map((p) => ({ ...p }));
  }
  /** Close code and reason once closed. */
  get closed(): CloseInfo | null {
    return this.closeInfo;
  }

  /** Resolves when the socket is open; rejects if it closes first or does not open within the timeout. */
  opened(): Promise<void> {
    if (this.openState === 'open') return Promise.resolve();
    if (this.openState === 'closed') return Promise.reject(this.closedError());
    return new Promise<void>((resolve, reject) => {
      const w: Pending<void> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.openWaiters.indexOf(w);
          if (i >= 0) this.openWaiters.splice(i, 1);
          reject(new SignalingError('ERR_TIMEOUT', `could not connect to ${this.url} within ${this.timeoutMs} ms`));
        }, this.timeoutMs),
      };
      this.openWaiters.push(w);
    });
  }

  /** Join a room; resolves with the other members once the server welcomed us. */
  async join(room: string, node: string, name: string): Promise<{ peers: PeerInfo[] }> {
    if (!isValidId(room)) throw new SignalingError('ERR_MALFORMED', 'room must be 1-64 chars [A-Za-z0-9_-]');
    if (!isValidId(node)) throw new SignalingError('ERR_MALFORMED', 'node must be 1-64 chars [A-Za-z0-9_-]');
    if (!isValidName(name)) throw new SignalingError('ERR_MALFORMED', 'name must be at most 40 printable chars');
    await this.opened();
    if (this.pendingJoin) throw new SignalingError('ERR_STATE', 'a join is already in progress');
    if (this.membership) throw new SignalingError('ERR_ALREADY_JOINED', `already joined room ${this.membership.room}`);
    const ref = `j${this.nextRef++}`;
    return new Promise<{ peers: PeerInfo[] }>((resolve, reject) => {
      this.pendingJoin = {
        ref,
        room,
        node,
        name,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.pendingJoin = null;
          reject(new SignalingError('ERR_TIMEOUT', `no welcome within ${this.timeoutMs} ms`, ref));
        }, this.timeoutMs),
      };
      this.sendRaw({ t: 'join', room, node, name, ref });
    });
  }

  /**
   * Relay an opaque JSON blob to another member of the room. The server does not acknowledge; a failure
   * (e.g. ERR_UNKNOWN_PEER) arrives through `onError` with the returned ref. Throws if not joined.
   */
  signal(to: string, data: unknown, kind: SignalKind = 'intro'): string {
    if (!this.membership) throw new SignalingError('ERR_NOT_JOINED', 'join a room before signaling');
    if (!isValidId(to)) throw new SignalingError('ERR_MALFORMED', 'to must be 1-64 chars [A-Za-z0-9_-]');
    if (data === undefined) throw new SignalingError('ERR_MALFORMED', 'data must be a JSON value');
    const ref = `s${this.nextRef++}`;
    this.sendRaw({ t: 'signal', to, kind, data, ref });
    return ref;
  }

  /** Shorthand for `signal(to, data, 'resume')`: a resumption blob for a peer this node lost every path to. */
  resume(to: string, data: unknown): string {
    return this.signal(to, data, 'resume');
  }

  /** Leave the room (the socket stays open; join again if needed). */
  leave(): void {
    if (!this.membership) return;
    this.membership = null;
    this.peerMap.clear();
    this.sendRaw({ t: 'leave' });
  }

  /** Application-level ping; resolves with the round-trip time in ms. */
  async ping(): Promise<number> {
    await this.opened();
    const ref = `p${this.nextRef++}`;
    return new Promise<number>((resolve, reject) => {
      const p = {
        ref,
        sentAt: Date.now(),
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.pendingPings.indexOf(p);
          if (i >= 0) this.pendingPings.splice(i, 1);
          reject(new SignalingError('ERR_TIMEOUT', `no pong within ${this.timeoutMs} ms`, ref));
        }, this.timeoutMs),
      };
      this.pendingPings.push(p);
      this.sendRaw({ t: 'ping', ref });
    });
  }

  onPeerJoined(fn: Listener<PeerInfo>): () => void {
    return this.peerJoined.on(fn);
  }
  onPeerLeft(fn: Listener<{ node: string }>): () => void {
    return this.peerLeft.on(fn);
  }
  onSignal(fn: Listener<IncomingSignal>): () => void {
    return this.signals.on(fn);
  }
  /** Errors the server reported that no pending promise claimed (e.g. a signal to an unknown peer). */
  onError(fn: Listener<SignalingError>): () => void {
    return this.errors.on(fn);
  }
  onClose(fn: Listener<CloseInfo>): () => void {
    return this.closes.on(fn);
  }

  /** Close the socket (1000) and resolve once it is closed. Idempotent. */
  close(): Promise<void> {
    if (this.openState === 'closed') return Promise.resolve();
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    try {
      this.ws.close(1000, 'bye');
    } catch {
      this.onClosed({ code: 1006, reason: 'close failed' });
    }
    // Do not wait forever for a server that does not answer the close handshake.
    const t = setTimeout(() => this.onClosed({ code: 1006, reason: 'close timed out' }), this.timeoutMs);
    return done.finally(() => clearTimeout(t));
  }

  // -------------------------------------------------------------------------------------------------------------

  private sendRaw(msg: object): void {
    if (this.openState !== 'open' || this.ws.readyState !== WS_OPEN) throw this.closedError();
    this.ws.send(JSON.stringify(msg));
  }

  private closedError(): SignalingError {
    return this.closeInfo
      ? new SignalingError('ERR_CLOSED', `connection closed (${this.closeInfo.code}${this.closeInfo.reason ? ` ${this.closeInfo.reason}` : ''})`)
      : new SignalingError('ERR_STATE', 'connection is not open yet');
  }

  private onFrame(data: unknown): void {
    const msg: ServerMessage | null = parseServerMessage(data);
    if (!msg) {
      this.errors.emit(new SignalingError('ERR_MALFORMED', 'server sent an unrecognised message'));
      return;
    }
    switch (msg.t) {
      case 'welcome': {
        const pj = this.pendingJoin;
        if (!pj) return;
        this.pendingJoin = null;
        clearTimeout(pj.timer);
        this.membership = { room: msg.room, node: msg.node, name: pj.name };
        this.peerMap.clear();
        for (const p of msg.peers) this.peerMap.set(p.node, p);
        pj.resolve({ peers: msg.peers.map((p) => ({ ...p })) });
        return;
      }
      case 'peer-joined':
        if (!this.membership) return;
        this.peerMap.set(msg.node, { node: msg.node, name: msg.name });
        this.peerJoined.emit({ node: msg.node, name: msg.name });
        return;
      case 'peer-left':
        if (!this.membership) return;
        this.peerMap.delete(msg.node);
        this.peerLeft.emit({ node: msg.node });
        return;
      case 'signal':
        this.signals.emit({ from: msg.from, kind: msg.kind, data: msg.data });
        return;
      case 'pong': {
        const i = msg.ref === undefined ? 0 : this.pendingPings.findIndex((p) => p.ref === msg.ref);
        const p = i >= 0 ? this.pendingPings.splice(i, 1)[0] : undefined;
        if (!p) return;
        clearTimeout(p.timer);
        p.resolve(Date.now() - p.sentAt);
        return;
      }
      case 'error': {
        const err = new SignalingError(msg.code, msg.message, msg.ref);
        const pj = this.pendingJoin;
        if (pj && msg.ref === pj.ref) {
          this.pendingJoin = null;
          clearTimeout(pj.timer);
          pj.reject(err);
          return;
        }
        this.errors.emit(err);
        return;
      }
    }
  }

  private onClosed(info: CloseInfo): void {
    if (this.openState === 'closed') return;
    this.openState = 'closed';
    this.closeInfo = info;
    this.membership = null;
    this.peerMap.clear();
    const err = this.closedError();
    for (const w of this.openWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    if (this.pendingJoin) {
      clearTimeout(this.pendingJoin.timer);
      this.pendingJoin.reject(err);
      this.pendingJoin = null;
    }
    for (const p of this.pendingPings.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    if (this.ws.readyState !== WS_CLOSED) {
      try {
        this.ws.onclose = null;
        this.ws.close();
      } catch {
        /* ignore */
      }
    }
    this.closes.emit(info);
    for (const w of this.closeWaiters.splice(0)) w();
    this.peerJoined.clear();
    this.peerLeft.clear();
    this.signals.clear();
    this.errors.clear();
    this.closes.clear();
  }
}
