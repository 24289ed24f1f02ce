// A small TURN client over node:dgram for tests (127.0.0.1 only). Long-term credentials, retransmits requests.

import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import {
  StunAttr,
  StunClass,
  StunMethod,
  decodeChannelData,
  decodeErrorCode,
  decodeStun,
  decodeXorAddress,
  encodeChannelData,
  encodeChannelNumber,
  encodeRequestedTransport,
  encodeStun,
  encodeXorAddress,
  getAttr,
  getString,
  getUint32,
  longTermKey,
  u32,
  verifyIntegrity,
  type DecodedStun,
  type StunAttribute,
  type TransportAddress,
} from '../../signaling-server/turn/stun.ts';

export interface Received {
  via: 'data-indication' | 'channel-data';
  peer?: TransportAddress;
  channel?: number;
  data: Buffer;
}

export class TurnError extends Error {
  constructor(
    readonly code: number,
    reason: string,
    readonly response: DecodedStun,
  ) {
    super(`TURN error ${code} ${reason}`);
  }
}

export interface TurnClientOptions {
  serverPort: number;
  serverHost?: string;
  username: string;
  password: string;
  /** Per-request timeout (ms) before giving up; retransmits every 200 ms meanwhile. */
  timeoutMs?: number;
}

export class TurnClient {
  private realm: string | null = null;
  private nonce: string | null = null;
  private key: Buffer | null = null;
  private readonly pending = new Map<string, (m: DecodedStun) => void>();
  private readonly inbox: Received[] = [];
  private waiters: Array<() => void> = [];
  readonly host: string;
  relay: TransportAddress | null = null;
  mapped: TransportAddress | null = null;

  private constructor(
    readonly sock: dgram.Socket,
    private readonly opts: TurnClientOptions,
  ) {
    this.host = opts.serverHost ?? '127.0.0.1';
    sock.on('message', (buf) => this.onMessage(buf));
  }

  static async open(opts: TurnClientOptions): Promise<TurnClient> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    return new TurnClient(sock, opts);
  }

  get localPort(): number {
    return this.sock.address().port;
  }

  private onMessage(buf: Buffer): void {
    if (buf.length > 0 && (buf[0]! & 0xc0) === 0x40) {
      const cd = decodeChannelData(buf);
      if (cd) this.push({ via: 'channel-data', channel: cd.channel, data: cd.data });
      return;
    }
    const r = decodeStun(buf);
    if (!r.ok) return;
    const m = r.message;
    if (m.cls === StunClass.Indication && m.method === StunMethod.Data) {
      const pv = getAttr(m, StunAttr.XorPeerAddress);
      const data = getAttr(m, StunAttr.Data);
      const peer = pv ? decodeXorAddress(pv, m.transactionId) : null;
      if (peer && data) this.push({ via: 'data-indication', peer, data });
      return;
    }
    const cb = this.pending.get(m.transactionId.toString('hex'));
    if (cb) cb(m);
  }

  private push(r: Received): void {
    this.inbox.push(r);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Next relayed payload (in arrival order); rejects after timeoutMs. */
  async receive(timeoutMs = 2000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.inbox.shift();
      if (r) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('receive timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  sendRaw(buf: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.sock.send(buf, this.opts.serverPort, this.host, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** One request/response transaction with retransmission. Error responses resolve too (check .cls). */
  async transact(method: number, attrs: StunAttribute[] | ((tid: Buffer) => StunAttribute[]), auth: boolean): Promise<DecodedStun> {
    const tid = randomBytes(12);
    const all = typeof attrs === 'function' ? attrs(tid) : [...attrs];
    if (auth && this.key) {
      all.push(
        { type: StunAttr.Username, value: Buffer.from(this.opts.username) },
        { type: StunAttr.Realm, value: Buffer.from(this.realm!) },
        { type: StunAttr.Nonce, value: Buffer.from(this.nonce!) },
      );
    }
    const buf = encodeStun(
      { method, cls: StunClass.Request, transactionId: tid, attributes: all },
      { ...(auth && this.key ? { integrityKey: this.key } : {}), fingerprint: true },
    );
    const id = tid.toString('hex');
    const timeoutMs = this.opts.timeoutMs ?? 3000;
    try {
      return await new Promise<DecodedStun>((resolve, reject) => {
        const iv = setInterval(() => void this.sendRaw(buf).catch(() => {}), 200);
        const to = setTimeout(() => {
          clearInterval(iv);
          reject(new Error(`TURN request 0x${method.toString(16)} timed out`));
        }, timeoutMs);
        this.pending.set(id, (m) => {
          clearInterval(iv);
          clearTimeout(to);
          resolve(m);
        });
        void this.sendRaw(buf).catch(() => {});
      });
    } finally {
      this.pending.delete(id);
    }
  }

  /** Authenticated request: handles 401/438 challenges once, throws TurnError on other errors. */
  async request(method: number, attrs: StunAttribute[] | ((tid: Buffer) => StunAttribute[])): Promise<DecodedStun> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await this.transact(method, attrs, true);
      if (res.cls === StunClass.SuccessResponse) {
        if (this.key && !verifyIntegrity(res, this.key)) throw new Error('response failed MESSAGE-INTEGRITY');
        return res;
      }
      const ec = decodeErrorCode(getAttr(res, StunAttr.ErrorCode) ?? Buffer.alloc(0));
      if (!ec) throw new Error('error response without ERROR-CODE');
      const realm = getString(res, StunAttr.Realm);
      const nonce = getString(res, StunAttr.Nonce);
      const retryable = (ec.code === 401 && this.key === null) || ec.code === 438;
      if (retryable && realm !== undefined && nonce !== undefined) {
        this.realm = realm;
        this.nonce = nonce;
        this.key = longTermKey(this.opts.username, realm, this.opts.password);
        continue;
      }
      throw new TurnError(ec.code, ec.reason, res);
    }
    throw new Error('authentication did not converge');
  }

  async allocate(lifetime?: number): Promise<{ relay: TransportAddress; lifetime: number; ms: number }> {
    const t0 = performance.now();
    const attrs: StunAttribute[] = [{ type: StunAttr.RequestedTransport, value: encodeRequestedTransport(17) }];
    if (lifetime !== undefined) attrs.push({ type: StunAttr.Lifetime, value: u32(lifetime) });
    const res = await this.request(StunMethod.Allocate, attrs);
    const rv = getAttr(res, StunAttr.XorRelayedAddress);
    const relay = rv ? decodeXorAddress(rv, res.transactionId) : null;
    const mv = getAttr(res, StunAttr.XorMappedAddress);
    this.mapped = mv ? decodeXorAddress(mv, res.transactionId) : null;
    if (!relay) throw new Error('no XOR-RELAYED-ADDRESS');
    this.relay = relay;
    return { relay, lifetime: getUint32(res, StunAttr.Lifetime) ?? -1, ms: performance.now() - t0 };
  }

  async refresh(lifetime: number): Promise<number> {
    const res = await this.request(StunMethod.Refresh, [{ type: StunAttr.Lifetime, value: u32(lifetime) }]);
    return getUint32(res, StunAttr.Lifetime) ?? -1;
  }

  async createPermission(...peers: TransportAddress[]): Promise<void> {
    // XOR-PEER-ADDRESS is masked with the transaction id, so the attributes are built per transaction.
    await this.request(StunMethod.CreatePermission, (tid) =>
      peers.map((p) => ({ type: StunAttr.XorPeerAddress, value: encodeXorAddress(p, tid) })),
    );
  }

  async channelBind(channel: number, peer: TransportAddress): Promise<void> {
    await this.request(StunMethod.ChannelBind, (tid) => [
      { type: StunAttr.ChannelNumber, value: encodeChannelNumber(channel) },
      { type: StunAttr.XorPeerAddress, value: encodeXorAddress(peer, tid) },
    ]);
  }

  async sendIndication(peer: TransportAddress, data: Buffer): Promise<void> {
    const tid = randomBytes(12);
    const buf = encodeStun({
      method: StunMethod.Send,
      cls: StunClass.Indication,
      transactionId: tid,
      attributes: [
        { type: StunAttr.XorPeerAddress, value: encodeXorAddress(peer, tid) },
        { type: StunAttr.Data, value: data },
      ],
    });
    await this.sendRaw(buf);
  }

  async sendChannelData(channel: number, data: Buffer): Promise<void> {
    await this.sendRaw(encodeChannelData(channel, data));
  }

  /** Plain STUN Binding (no auth). */
  async binding(): Promise<DecodedStun> {
    return this.transact(StunMethod.Binding, [], false);
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}
