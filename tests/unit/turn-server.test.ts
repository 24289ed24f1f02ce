import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { startTurnServer, type TurnServer, type TurnServerOptions } from '../../signaling-server/turn/server.ts';
import { StunAttr, StunClass, StunMethod, decodeErrorCode, encodeStun, getAttr } from '../../signaling-server/turn/stun.ts';
import { TurnClient, TurnError } from '../helpers/turn-client.ts';

const CREDS = { realm: 'test.realm', username: 'alice', password: 's3cret' };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function server(extra: Partial<TurnServerOptions> = {}): Promise<TurnServer> {
  const s = await startTurnServer({ port: 0, ...CREDS, ...extra });
  cleanups.push(() => s.close());
  return s;
}

async function client(s: TurnServer, password = CREDS.password): Promise<TurnClient> {
  const c = await TurnClient.open({ serverPort: s.port, username: CREDS.username, password });
  cleanups.push(() => c.close());
  return c;
}

async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('embedded TURN server', () => {
  it('answers a Binding request without authentication', async () => {
    const s = await server();
    const c = await client(s);
    const res = await c.binding();
    expect(res.cls).toBe(StunClass.SuccessResponse);
    expect(getAttr(res, StunAttr.XorMappedAddress)).toBeDefined();
  });

  it('challenges with 401 + REALM + NONCE, then allocates with credentials', async () => {
    const s = await server();
    const c = await client(s);
    const first = await c.transact(StunMethod.Allocate, [{ type: StunAttr.RequestedTransport, value: Buffer.from([17, 0, 0, 0]) }], false);
    expect(first.cls).toBe(StunClass.ErrorResponse);
    expect(decodeErrorCode(getAttr(first, StunAttr.ErrorCode)!)?.code).toBe(401);
    expect(getAttr(first, StunAttr.Realm)?.toString()).toBe(CREDS.realm);
    expect(getAttr(first, StunAttr.Nonce)).toBeDefined();
    expect(s.stats().allocations).toBe(0);

    const { relay, lifetime } = await c.allocate();
    expect(relay.address).toBe('127.0.0.1');
    expect(relay.port).toBeGreaterThan(0);
    expect(lifetime).toBe(600);
    expect(c.mapped).toEqual({ family: 4, address: '127.0.0.1', port: c.localPort });
    expect(s.stats()).toMatchObject({ allocations: 1, relaySocketsOpen: 1, allocationsTotal: 1 });

    // A second Allocate on the same 5-tuple: 437.
    await expect(c.allocate()).rejects.toMatchObject({ code: 437 });
    expect(s.stats().allocations).toBe(1);
  });

  it('wrong password gets 401 and allocates nothing', async () => {
    const s = await server();
    const c = await client(s, 'wrong');
    const err = await c.allocate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TurnError);
    expect((err as TurnError).code).toBe(401);
    expect(s.stats()).toMatchObject({ allocations: 0, relaySocketsOpen: 0, allocationsTotal: 0 });
    expect(s.stats().dropped['auth-failed']).toBeGreaterThanOrEqual(1);
  });

  it('relays between allocations on two servers (relay-to-relay), Send/Data indications and ChannelData both ways', async () => {
    const a = await server();
    const b = await server();
    const ca = await client(a);
    const cb = await client(b);
    const { relay: ra } = await ca.allocate();
    const { relay: rb } = await cb.allocate();
    // Each side permits the other's relay address.
    await ca.createPermission(rb);
    await cb.createPermission(ra);

    // A -> B via Send indication, arrives at B as a Data indication from A's relay address.
    await ca.sendIndication(rb, Buffer.from('a-to-b'));
    const got1 = await cb.receive();
    expect(got1).toMatchObject({ via: 'data-indication', peer: { address: ra.address, port: ra.port } });
    expect(got1.data.toString()).toBe('a-to-b');
    // B -> A via Send indication.
    await cb.sendIndication(ra, Buffer.from('b-to-a'));
    const got2 = await ca.receive();
    expect(got2).toMatchObject({ via: 'data-indication', peer: { address: rb.address, port: rb.port } });
    expect(got2.data.toString()).toBe('b-to-a');

    // Channels on both sides: ChannelData in, ChannelData out.
    await ca.channelBind(0x4000, rb);
    await cb.channelBind(0x4abc, ra);
    await ca.sendChannelData(0x4000, Buffer.from('chan a->b'));
    const got3 = await cb.receive();
    expect(got3).toMatchObject({ via: 'channel-data', channel: 0x4abc });
    expect(got3.data.toString()).toBe('chan a->b');
    await cb.sendChannelData(0x4abc, Buffer.from('chan b->a!'));
    const got4 = await ca.receive();
    expect(got4).toMatchObject({ via: 'channel-data', channel: 0x4000 });
    expect(got4.data.toString()).toBe('chan b->a!');

    // Mixed: Send indication to a peer with a channel binding arrives as ChannelData on the far side.
    await ca.sendIndication(rb, Buffer.from('mixed'));
    const got5 = await cb.receive();
    expect(got5).toMatchObject({ via: 'channel-data', channel: 0x4abc });

    // A burst of 200 datagrams in each direction all arrive (loopback).
    for (let i = 0; i < 200; i++) {
      await ca.sendChannelData(0x4000, Buffer.from(`m${i}`));
      await cb.sendIndication(ra, Buffer.from(`n${i}`));
    }
    const fromA = new Set<string>();
    const fromB = new Set<string>();
    for (let i = 0; i < 200; i++) {
      fromA.add((await cb.receive()).data.toString());
      fromB.add((await ca.receive()).data.toString());
    }
    expect(fromA.size).toBe(200);
    expect(fromB.size).toBe(200);

    // Binding the same channel to another peer, or the same peer to another channel: 400.
    await expect(ca.channelBind(0x4000, { family: 4, address: '127.0.0.1', port: 9 })).rejects.toMatchObject({ code: 400 });
    await expect(ca.channelBind(0x4001, rb)).rejects.toMatchObject({ code: 400 });
    await expect(ca.channelBind(0x3fff, { family: 4, address: '127.0.0.1', port: 9 })).rejects.toMatchObject({ code: 400 });
  });

  it('drops peer traffic without a permission', async () => {
    const a = await server();
    const ca = await client(a);
    const { relay } = await ca.allocate();
    const stranger = dgram.createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => stranger.close(() => r())));
    stranger.send(Buffer.from('spam'), relay.port, '127.0.0.1');
    await until(() => (a.stats().dropped['no-permission'] ?? 0) >= 1);
    await expect(ca.receive(200)).rejects.toThrow(/timeout/);
    // With a permission for 127.0.0.1 it flows.
    await ca.createPermission({ family: 4, address: '127.0.0.1', port: 0 });
    stranger.send(Buffer.from('hello'), relay.port, '127.0.0.1');
    const got = await ca.receive();
    expect(got.data.toString()).toBe('hello');
    expect(got.peer?.port).toBe(stranger.address().port);
  });

  it('counts malformed packets and keeps serving', async () => {
    const s = await server();
    const c = await client(s);
    await c.allocate();
    const junk: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0]),
      randomBytes(19),
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from([0x40, 0x00, 0xff, 0xff, 1]), // ChannelData, bad length
      Buffer.from([0x40, 0x01, 0x00, 0x01, 1]), // unbound channel
    ];
    // STUN header with a lying length, a truncated attribute, and a bad fingerprint.
    const ok = encodeStun({ method: StunMethod.Allocate, cls: StunClass.Request, transactionId: randomBytes(12), attributes: [] }, { fingerprint: true });
    const lying = Buffer.from(ok);
    lying.writeUInt16BE(400, 2);
    const badFp = Buffer.from(ok);
    badFp[badFp.length - 1] = badFp[badFp.length - 1]! ^ 1;
    junk.push(lying, badFp, Buffer.concat([ok.subarray(0, 20), Buffer.from([0, 6, 0, 40])]));
    for (let i = 0; i < 200; i++) junk.push(randomBytes(1 + (i % 90)));
    for (const j of junk) await c.sendRaw(j);
    // Still serving: a Binding and a CreatePermission on the existing allocation work.
    const res = await c.binding();
    expect(res.cls).toBe(StunClass.SuccessResponse);
    await c.createPermission({ family: 4, address: '127.0.0.1', port: 1 });
    const st = s.stats();
    const totalDropped = Object.values(st.dropped).reduce((x, y) => x + y, 0);
    expect(st.dropped.malformed).toBeGreaterThanOrEqual(5);
    expect(totalDropped).toBeGreaterThanOrEqual(8);
    expect(st.dropped['internal-error']).toBeUndefined();
    expect(st.allocations).toBe(1);
  });

  it('leak test: 300 allocate/refresh-0 cycles with a 20-port range never run out and leave no socket open', async () => {
    const base = 20000 + Math.floor(Math.random() * 4000); // below the ephemeral range
    const s = await server({ minPort: base, maxPort: base + 19 });
    const c = await client(s);
    const times: number[] = [];
    const ports = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const { relay, ms } = await c.allocate();
      times.push(ms);
      ports.add(relay.port);
      expect(relay.port).toBeGreaterThanOrEqual(base);
      expect(relay.port).toBeLessThanOrEqual(base + 19);
      expect(await c.refresh(0)).toBe(0);
    }
    await until(() => s.stats().relaySocketsOpen === 0);
    const st = s.stats();
    expect(st).toMatchObject({ allocations: 0, relaySocketsOpen: 0, allocationsTotal: 300 });
    expect(st.dropped.capacity).toBeUndefined();
    expect(ports.size).toBeLessThanOrEqual(20);
    times.sort((x, y) => x - y);
    console.log(
      `[leak test] 300 cycles: allocate median ${times[150]!.toFixed(2)} ms, p99 ${times[296]!.toFixed(2)} ms; ` +
        `distinct relay ports ${ports.size}; relaySocketsOpen after: ${st.relaySocketsOpen}`,
    );
  });

  it('508 when the port range is exhausted, and the port returns to the pool when the allocation ends', async () => {
    const base = 24000 + Math.floor(Math.random() * 4000);
    const s = await server({ minPort: base, maxPort: base + 1 });
    const cs = [await client(s), await client(s), await client(s)];
    await cs[0]!.allocate();
    await cs[1]!.allocate();
    await expect(cs[2]!.allocate()).rejects.toMatchObject({ code: 508 });
    expect(s.stats().relaySocketsOpen).toBe(2);
    await cs[0]!.refresh(0);
    await until(() => s.stats().relaySocketsOpen === 1);
    const { relay } = await cs[2]!.allocate();
    expect([base, base + 1]).toContain(relay.port);
  });

  it('allocations expire on the injected clock: one sweep timer frees the socket', async () => {
    let clock = 1_000_000;
    const s = await server({ now: () => clock, sweepIntervalMs: 10 });
    const a = await client(s);
    const b = await client(s);
    await a.allocate(600);
    const { relay: rb } = await b.allocate(3600); // longer lifetime: survives the first jump
    await a.createPermission(rb);
    await b.channelBind(0x4000, { family: 4, address: '127.0.0.1', port: a.localPort });
    expect(s.stats().relaySocketsOpen).toBe(2);

    clock += 301_000; // permissions (300 s) expired, allocations alive
    await new Promise((r) => setTimeout(r, 50));
    expect(s.stats().relaySocketsOpen).toBe(2);
    await a.sendIndication(rb, Buffer.from('late'));
    await until(() => (s.stats().dropped['no-permission'] ?? 0) >= 1);

    clock += 300_000; // 601 s: a's allocation (600 s) is gone, b's (3600 s) stays
    await until(() => s.stats().relaySocketsOpen === 1);
    expect(s.stats().allocations).toBe(1);
    await expect(a.refresh(600)).rejects.toMatchObject({ code: 437 });

    // Refresh extends: b refreshes to 600 s at t=601 s, then survives past its original deadline only if refreshed.
    expect(await b.refresh(600)).toBe(600);
    clock += 599_000;
    await new Promise((r) => setTimeout(r, 50));
    expect(s.stats().allocations).toBe(1);
    clock += 2_000;
    await until(() => s.stats().relaySocketsOpen === 0);
    expect(s.stats().allocations).toBe(0);
  });

  it('close() closes every socket and frees the listening port', async () => {
    const s = await startTurnServer({ port: 0, ...CREDS });
    const cs = await Promise.all([1, 2, 3, 4, 5].map(() => TurnClient.open({ serverPort: s.port, username: CREDS.username, password: CREDS.password })));
    try {
      const relays = await Promise.all(cs.map((c) => c.allocate()));
      expect(s.stats().relaySocketsOpen).toBe(5);
      await s.close();
      expect(s.stats()).toMatchObject({ allocations: 0, relaySocketsOpen: 0 });
      // The listening port and every relay port can be bound again.
      const ports = [s.port, ...relays.map((r) => r.relay.port)];
      for (const p of ports) {
        const sock = dgram.createSocket('udp4');
        await new Promise<void>((resolve, reject) => {
          sock.once('error', reject);
          sock.bind(p, '127.0.0.1', () => resolve());
        });
        await new Promise<void>((r) => sock.close(() => r()));
      }
      await s.close(); // idempotent
    } finally {
      await Promise.all(cs.map((c) => c.close()));
    }
  });

  it('rejects with EADDRINUSE naming the port when the port is taken', async () => {
    const s = await server();
    const err = await startTurnServer({ port: s.port, ...CREDS }).catch((e: unknown) => e as NodeJS.ErrnoException);
    expect(err).toBeInstanceOf(Error);
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect((err as Error).message).toContain(String(s.port));
  });

  it('stale or forged nonce gets 438 and the client recovers', async () => {
    let clock = 5_000_000;
    const s = await server({ now: () => clock, nonceLifetimeSec: 60 });
    const c = await client(s);
    await c.allocate();
    clock += 61_000;
    // Refresh with the old nonce: 438, the client takes the new nonce and succeeds.
    expect(await c.refresh(600)).toBe(600);
    expect(s.stats().dropped['stale-nonce']).toBe(1);
  });
});
