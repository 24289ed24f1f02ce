// The session's claims, proved in the deterministic simulator (fake clock, seeded randomness, real libsodium).
import { describe, expect, it } from 'vitest';
import { LIVENESS_FLOOR_MS, MAX_SEND_BUFFER_BYTES } from '../../src/net2o/constants.ts';
import { LocalProtocolError } from '../../src/net2o/errors.ts';
import { encodeReject, REJECT_WRONG_SECRET } from '../../src/net2o/handshake.ts';
import type { Net2oEvent } from '../../src/net2o/events.ts';
import { Harness, DEFAULT_SCENARIO, runScenario } from '../../src/sim/scenario.ts';
import type { SimNode } from '../../src/sim/network.ts';

async function pair(seed = 7, stations = ['st0', 'st1', 'st2']) {
  const h = await Harness.create(seed);
  h.logEvents = true;
  for (const id of stations) h.net.addStation(id);
  const secret = h.net.rng.bytes(32);
  const a = h.addNode('a', secret);
  const b = h.addNode('b', secret);
  a.node.attach('st0', 0);
  b.node.attach('st1', 0);
  const s = h.connect(a, 'st0', b, 'st1');
  return { h, a, b, sa: s.a, sb: s.b, net: h.net };
}

function eventsOf<T extends Net2oEvent['type']>(h: Harness, node: SimNode, type: T) {
  return h.events.filter((x) => x.node === node.name && x.e.type === type) as Array<{ at: number; node: string; e: Extract<Net2oEvent, { type: T }> }>;
}

function expectClean(h: Harness) {
  const t = h.totals();
  expect(t.sent).toBeGreaterThan(0);
  expect({ lost: t.lost, duplicated: t.duplicated, reordered: t.reordered, closed: t.sessionsClosed }).toEqual({
    lost: 0,
    duplicated: 0,
    reordered: 0,
    closed: 0,
  });
  return t;
}

describe('handover in the simulator', () => {
  it('one hop: the peer’s return address follows, the old path closes after the overlap, nothing is lost', async () => {
    const { h, a, b, sb, net } = await pair();
    const start = net.now;
    h.streamBetween(start, start + 4_000, 100);
    net.schedule(start + 1_000, () => a.node.hopTo('st2', net.now));
    net.runUntil(start + 5_000);
    expectClean(h);
    const finished = eventsOf(h, a, 'hop-finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]!.e.durationMs).toBeLessThan(200); // one in-band setup round plus validation
    // b now replies on a path whose far end is a's new station.
    const bs = b.node.session(sb)!;
    const ret = bs.paths.get(bs.returnPath!)!;
    expect(ret.remoteStation).toBe('st2');
    expect(eventsOf(h, b, 'return-address-moved').length).toBeGreaterThanOrEqual(2);
    // a's old station is gone and its paths closed once the overlap ended.
    expect(a.node.stationList()).toEqual([{ id: 'st2', state: 'active' }]);
    expect(eventsOf(h, a, 'path-closed').map((x) => x.e.reason)).toContain('overlap-ended');
    // The stream never paused beyond ordinary delivery spacing at 100 msg/s (10 ms) plus jitter.
    expect(h.totals().maxGapMs).toBeLessThan(40);
  });

  it('both ends hop at the same instant and converge on the new stations', async () => {
    const { h, a, b, sa, sb, net } = await pair(11);
    const start = net.now;
    h.streamBetween(start, start + 4_000, 100);
    net.schedule(start + 1_000, () => {
      a.node.hopTo('st2', net.now);
      b.node.hopTo('st0', net.now);
    });
    net.runUntil(start + 5_000);
    expectClean(h);
    expect(eventsOf(h, a, 'hop-finished')).toHaveLength(1);
    expect(eventsOf(h, b, 'hop-finished')).toHaveLength(1);
    const as = a.node.session(sa)!;
    const bs = b.node.session(sb)!;
    const ap = as.paths.get(as.activePath!)!;
    const bp = bs.paths.get(bs.activePath!)!;
    expect([ap.localStation, ap.remoteStation]).toEqual(['st2', 'st0']);
    expect([bp.localStation, bp.remoteStation]).toEqual(['st0', 'st2']);
    // No path was ever built on a station its owner was leaving (a setup offered before the news is refused).
    const built = [...eventsOf(h, a, 'path-added'), ...eventsOf(h, b, 'path-added')].map((x) => x.e.key);
    expect(built).not.toContain('st2|st1');
    expect(built).not.toContain('st0|st0');
    expect(built).toContain('st2|st0');
  });

  it('an overlap shorter than the path setup is stretched until the new path works (make before break)', async () => {
    const r = await runScenario({ ...DEFAULT_SCENARIO, hops: 100, seed: 47, simultaneous: true, overlapMs: 5, ratePerSec: 50, hopIntervalMs: 600 });
    expect(r.violations).toEqual([]);
    expect(r.sessionsClosed).toBe(0);
    // Without the stretch, a 5 ms overlap closes the old paths ~80 ms before the new one validates.
    expect(r.hopsFinished).toBeGreaterThanOrEqual(190);
  }, 60_000);

  it('1,000 random hops over 3 stations with 2% loss while streaming: nothing lost, duplicated or reordered', async () => {
    const r = await runScenario({ ...DEFAULT_SCENARIO, hops: 1_000, loss: 0.02, seed: 3, ratePerSec: 20, hopIntervalMs: 1_000 });
    expect(r.violations).toEqual([]);
    expect(r.hops).toBe(1_000);
    expect(r.hopsFinished).toBe(1_000);
    expect(r.sent).toBeGreaterThan(35_000);
    expect(r.lost + r.duplicated + r.reordered).toBe(0);
  }, 120_000);

  it('both ends hopping at once, 200 times with loss', async () => {
    const r = await runScenario({ ...DEFAULT_SCENARIO, hops: 200, loss: 0.02, seed: 5, simultaneous: true, ratePerSec: 20, hopIntervalMs: 1_000 });
    expect(r.violations).toEqual([]);
    expect(r.hopsFinished).toBe(400);
  }, 60_000);

  it('four nodes in a full mesh: every hop moves all three sessions', async () => {
    const r = await runScenario({ ...DEFAULT_SCENARIO, nodes: 4, hops: 30, seed: 9, ratePerSec: 20 });
    expect(r.violations).toEqual([]);
    expect(r.hopsFinished).toBe(30);
  }, 60_000);

  it('a station dies unannounced while a second is attached: failover within the liveness deadline, nothing lost', async () => {
    const { h, a, b, sa, net } = await pair(13);
    a.node.attach('st2', net.now); // a is now on st0 and st2
    net.runUntil(net.now + 1_000);
    const as = a.node.session(sa)!;
    expect(as.pathStates().filter((p) => p.validated)).toHaveLength(2);
    // Make sure traffic runs over st0, the station that will die.
    const start = net.now;
    h.streamBetween(start, start + 4_000, 100);
    net.runUntil(start + 500);
    const active = as.paths.get(as.activePath!)!;
    const dying = active.localStation!;
    const outageAt = net.now;
    net.setStationUp(dying, false); // nobody is told: like a dead relay
    net.runUntil(start + 5_000);
    expectClean(h);
    const failovers = eventsOf(h, a, 'failover').filter((x) => x.at >= outageAt);
    const bFailovers = eventsOf(h, b, 'failover').filter((x) => x.at >= outageAt);
    expect(failovers.length + bFailovers.length).toBeGreaterThanOrEqual(1);
    const first = Math.min(...[...failovers, ...bFailovers].map((x) => x.at));
    // Liveness: max(3·RTT, floor) after the oldest unacknowledged packet, plus one send interval.
    expect(first - outageAt).toBeLessThan(LIVENESS_FLOOR_MS + 3 * 60 + 20);
    expect(h.totals().maxGapMs).toBeLessThan(500);
    expect(as.paths.get(as.activePath!)!.localStation).not.toBe(dying);
  });

  it('every path lost for less than the idle timeout: the session resumes with nothing lost', async () => {
    for (const outageMs of [3_000, 12_000]) {
      const { h, a, sa, net } = await pair(17);
      const start = net.now;
      h.streamBetween(start, start + outageMs + 4_000, 50);
      net.schedule(start + 1_000, () => net.setStationUp('st0', false));
      net.schedule(start + 1_000 + outageMs, () => net.setStationUp('st0', true));
      net.runUntil(start + outageMs + 8_000);
      expectClean(h);
      expect(a.node.session(sa)!.state).toBe('established');
      expect(eventsOf(h, a, 'path-recovered').length).toBeGreaterThanOrEqual(1);
      // Resumed promptly: the PTO backoff is capped, so the gap is the outage plus at most about a second.
      expect(h.totals().maxGapMs).toBeLessThan(outageMs + 1_300);
    }
  }, 30_000);

  it('an outage beyond the idle timeout closes the session cleanly, with the reason', async () => {
    const { h, a, sa, net } = await pair(19);
    net.setStationUp('st0', false);
    net.runUntil(net.now + 31_000);
    expect(a.node.session(sa)).toBeUndefined();
    const closed = eventsOf(h, a, 'session-closed');
    expect(closed).toHaveLength(1);
    expect(closed[0]!.e.reason).toMatch(/idle/);
  }, 30_000);
});

describe('recovery through the signaling relay when no path is left', () => {
  it('a node loses its only station, attaches another 2 s later: same session, nothing lost, relay used only then', async () => {
    const { h, a, b, sa, sb, net } = await pair(53);
    a.node.overlapMs = 200; // st0 is gone well before st2 is lost
    const start = net.now;
    h.streamBetween(start, start + 5_000, 100);
    net.schedule(start + 500, () => a.node.hopTo('st2', net.now)); // a hop with a live path: no relay
    net.runUntil(start + 1_000);
    expect(net.relayPackets).toBe(0);
    const pnBefore = a.node.session(sa)!.nextPacketNumber;
    net.schedule(start + 1_500, () => a.node.detach('st2', { abrupt: true }, net.now));
    net.schedule(start + 3_500, () => a.node.attach('st0', net.now));
    net.runUntil(start + 8_000);
    expectClean(h);
    expect(net.relayPackets).toBeGreaterThan(0);
    expect(net.relayPackets).toBeLessThan(60); // setup commands and acks only, not the stream
    // The same session, packet numbers continuing, now on a path from st0.
    expect(a.node.session(sa)!.nextPacketNumber).toBeGreaterThan(pnBefore);
    const as = a.node.session(sa)!;
    expect(as.paths.get(as.activePath!)!.localStation).toBe('st0');
    expect(b.node.session(sb)!.state).toBe('established');
    expect(eventsOf(h, a, 'handshake-done')).toHaveLength(1);
  });

  it('both ends lose coverage at once and come back on new stations: the session resumes', async () => {
    const { h, a, b, sa, net } = await pair(59, ['st0', 'st1', 'st2', 'st3']);
    const start = net.now;
    h.streamBetween(start, start + 5_000, 100);
    net.schedule(start + 1_000, () => {
      a.node.detach('st0', { abrupt: true }, net.now);
      b.node.detach('st1', { abrupt: true }, net.now);
    });
    net.schedule(start + 2_500, () => a.node.attach('st2', net.now));
    net.schedule(start + 2_700, () => b.node.attach('st3', net.now));
    net.runUntil(start + 9_000);
    expectClean(h);
    const as = a.node.session(sa)!;
    const p = as.paths.get(as.activePath!)!;
    expect([p.localStation, p.remoteStation]).toEqual(['st2', 'st3']);
  });

  it('relayed packets the relay forges or replays are rejected and change nothing', async () => {
    const { h, a, b, sb, net } = await pair(61);
    const start = net.now;
    h.streamBetween(start, start + 3_000, 50);
    net.schedule(start + 500, () => a.node.detach('st0', { abrupt: true }, net.now));
    net.schedule(start + 1_500, () => a.node.attach('st2', net.now));
    net.runUntil(start + 2_500);
    const relayToB = [...net.relayPaths].find((id) => net.pathsAt(b, 'signaling').includes(id))!;
    const fromRelay = net.captured.filter((c) => c.toPathId === relayToB);
    expect(fromRelay.length).toBeGreaterThan(0);
    const bs = b.node.session(sb)!;
    const ret = bs.returnPath;
    const before = { ...b.node.counters.rejected };
    for (const c of fromRelay) net.inject(b, relayToB, c.data); // the server replays what it relayed
    const forged = fromRelay[0]!.data.slice();
    forged[forged.length - 1]! ^= 1;
    new DataView(forged.buffer).setUint32(18, new DataView(forged.buffer).getUint32(18, true) + 5000, true);
    net.inject(b, relayToB, forged); // or forges one with a fresh packet number
    net.runUntil(start + 4_000);
    expect(b.node.counters.rejected.replay - before.replay).toBe(fromRelay.length);
    expect(b.node.counters.rejected.tag - before.tag).toBe(1);
    expect(bs.returnPath).toBe(ret);
    expectClean(h);
  });
});

describe('moving a live session to another host (tab)', () => {
  it('the session, its keys, packet numbers and streams move; the old host goes silent; nothing is lost', async () => {
    const { h, a, b, sa, sb, net } = await pair(67);
    const start = net.now;
    h.streamBetween(start, start + 4_000, 100);
    net.runUntil(start + 1_000);
    const pnAtMove = a.node.session(sa)!.nextPacketNumber;
    const snap = a.node.exportForMove();
    expect(a.node.sessions.size).toBe(0);
    expect(a.node.pollTransmit(net.now)).toBeNull(); // retired: never sends again
    // The same node on a new host (same name: the harness's stream accounting follows the node, not the host).
    const a2 = h.addNode('a', new Uint8Array(32)); // the invite secret is not needed: the snapshot has the keys
    const { Node } = await import('../../src/net2o/node.ts');
    (a2 as { node: unknown }).node = new Node({ crypto: h.crypto, inviteSecret: new Uint8Array(32), snapshot: snap });
    a2.node.adopt(snap, net.now);
    net.moveNode(a, a2, () => sa);
    a2.node.attach('st2', net.now); // tab 2 builds its own path, in-band through the forwarded one
    net.runUntil(start + 6_000);
    expectClean(h);
    const s2 = a2.node.session(sa)!;
    expect(s2.nextPacketNumber).toBeGreaterThan(pnAtMove);
    // The peer replies to the new host's own path now.
    const bs = b.node.session(sb)!;
    expect(bs.paths.get(bs.returnPath!)!.remoteStation).toBe('st2');
    expect(a2.node.stationList()).toEqual([{ id: 'st2', state: 'active' }]);
  });
});

describe('attacks in the simulator', () => {
  it('forged, tampered and replayed packets from a new path are rejected and never move the return address', async () => {
    const { h, a, b, sb, net } = await pair(23);
    const start = net.now;
    h.streamBetween(start, start + 3_000, 100);
    net.runUntil(start + 1_000);
    const bs = b.node.session(sb)!;
    const retBefore = bs.returnPath;
    const movesBefore = eventsOf(h, b, 'return-address-moved').length;
    const rejectedBefore = { ...b.node.counters.rejected };
    // Packets captured at least 100 ms ago have reached b: replaying them races nothing.
    const toB = net.captured.filter((c) => c.to === 'b' && c.at < net.now - 100);
    expect(toB.length).toBeGreaterThan(50);
    const evil = net.attackerPath(b, 'st1');
    // 1. Replays of captured packets, sent from a new path.
    for (const c of toB.slice(-40)) net.inject(b, evil, c.data);
    // 2. Tampered bits in the body, the MAC, and the authenticated header (flags/tags/addr).
    const last = toB[toB.length - 1]!.data;
    for (const at of [26, 40, last.length - 1, 0, 18, 20]) {
      const t = last.slice();
      t[at]! ^= 0x01;
      net.inject(b, evil, t);
    }
    // 3. Forged packets to b's valid address with a higher packet number than anything sent.
    for (let i = 0; i < 20; i++) {
      const f = last.slice();
      const dv = new DataView(f.buffer);
      dv.setUint32(18, dv.getUint32(18, true) + 1000 + i, true); // pn far ahead, same connection tag
      for (let j = 26; j < f.length; j++) f[j] = net.rng.int(256);
      net.inject(b, evil, f);
    }
    // 4. Garbage and packets to unknown addresses.
    net.inject(b, evil, new Uint8Array([1, 2, 3]));
    const unknown = last.slice();
    unknown[23]! ^= 0xff; // another connection tag
    net.inject(b, evil, unknown);
    net.runUntil(start + 4_000);

    const r = b.node.counters.rejected;
    const delta = (k: keyof typeof r) => r[k] - rejectedBefore[k];
    // Every injected packet was rejected: 40 replays + 6 tampered + 20 forged + 2 garbage/unknown.
    expect(delta('replay') + delta('tag') + delta('malformed') + delta('unknown-address') + delta('handshake')).toBe(68);
    // Replays, and tampered copies of packets b already has, fail the replay window before any crypto.
    expect(delta('replay')).toBeGreaterThanOrEqual(40);
    // Forged packets at fresh packet numbers fail authentication (and so does a pn-tampered copy).
    expect(delta('tag')).toBeGreaterThanOrEqual(20);
    expect(r.malformed - rejectedBefore.malformed + r['unknown-address'] - rejectedBefore['unknown-address']).toBeGreaterThanOrEqual(2);
    // The return address never moved to the attacker's path, and b holds no state for it.
    expect(eventsOf(h, b, 'return-address-moved').filter((x) => x.e.to === evil)).toEqual([]);
    expect(bs.paths.has(evil)).toBe(false);
    expect(bs.returnPath).toBe(retBefore);
    expect(eventsOf(h, b, 'return-address-moved').length).toBe(movesBefore);
    expectClean(h);
    void a;
  });

  it('a handshake with the wrong invite secret fails with its own error and allocates nothing', async () => {
    const h = await Harness.create(29);
    h.logEvents = true;
    for (const id of ['st0', 'st1']) h.net.addStation(id);
    const good = h.addNode('good', h.net.rng.bytes(32));
    const stranger = h.addNode('stranger', h.net.rng.bytes(32));
    const { aPath } = h.net.introduce(stranger, 'st0', good, 'st1');
    stranger.node.connect(aPath, h.net.now);
    h.net.runUntil(h.net.now + 2_000);
    expect(good.node.sessions.size).toBe(0);
    expect(good.node.counters.rejected.handshake).toBeGreaterThanOrEqual(1);
    expect(eventsOf(h, good, 'handshake-failed')[0]!.e.code).toBe('ERR_WRONG_SECRET');
    expect(eventsOf(h, stranger, 'handshake-failed').map((x) => x.e.code)).toEqual(['ERR_WRONG_SECRET']);
    expect(stranger.node.sessions.size).toBe(0);
  });

  it('a captured packet raced ahead on a new path does not take the return address', async () => {
    const { h, b, sb, net } = await pair(41);
    const start = net.now;
    h.streamBetween(start, start + 3_000, 100);
    net.runUntil(start + 1_000);
    const bs = b.node.session(sb)!;
    const ret = bs.returnPath;
    // The attacker copies packets still in flight to b and delivers them first, from its own path.
    const evil = net.attackerPath(b, 'st1');
    const inFlight = net.captured.filter((c) => c.to === 'b' && c.at >= net.now - 15);
    expect(inFlight.length).toBeGreaterThan(0);
    for (const c of inFlight) net.inject(b, evil, c.data);
    net.runUntil(start + 5_000);
    expect(eventsOf(h, b, 'return-address-moved').filter((x) => x.e.to === evil)).toEqual([]);
    expect(bs.returnPath).not.toBe(evil);
    expect(bs.paths.has(evil)).toBe(false); // challenged, never answered, closed
    expect(eventsOf(h, b, 'path-closed').filter((x) => x.e.pathId === evil).map((x) => x.e.reason)).toEqual(['validation-failed']);
    void ret;
    expectClean(h);
  });

  it('a forged reject cannot abort a handshake', async () => {
    const h = await Harness.create(43);
    h.logEvents = true;
    for (const id of ['st0', 'st1']) h.net.addStation(id);
    const secret = h.net.rng.bytes(32);
    const a = h.addNode('a', secret);
    const b = h.addNode('b', secret);
    const { aPath } = h.net.introduce(a, 'st0', b, 'st1');
    const sa = a.node.connect(aPath, h.net.now);
    // The attacker saw the init (the tag is in clear) and answers first with an unauthenticated reject.
    h.net.inject(a, h.net.attackerPath(a, 'st0'), encodeReject(h.crypto, sa, REJECT_WRONG_SECRET), h.net.now + 1);
    h.net.runUntil(h.net.now + 2_000);
    expect(a.node.session(sa)?.state).toBe('established');
    expect(eventsOf(h, a, 'handshake-failed')).toEqual([]);
    expect(a.node.counters.rejected.handshake).toBe(1);
  });

  it('a replayed handshake init allocates no second session', async () => {
    const { h, a, b, net } = await pair(31);
    const init = net.captured.find((c) => c.to === 'b' && (c.data[1]! & 0x04) !== 0)!;
    expect(init).toBeDefined();
    const evil = net.attackerPath(b, 'st1');
    for (let i = 0; i < 5; i++) net.inject(b, evil, init.data);
    net.runUntil(net.now + 500);
    expect(b.node.sessions.size).toBe(1);
    void a;
    void h;
  });
});

describe('session API', () => {
  it('send() refuses past the send buffer with a clear error, and says when it is writable again', async () => {
    const { h, a, sa, net } = await pair(37);
    const big = new Uint8Array(64 * 1024);
    let queued = 0;
    let err: unknown;
    for (let i = 0; i < 200; i++) {
      try {
        a.node.send(sa, big);
        queued += big.length;
      } catch (e) {
        err = e;
        break;
      }
    }
    expect(err).toBeInstanceOf(LocalProtocolError);
    expect((err as LocalProtocolError).code).toBe('ERR_SEND_BUFFER_FULL');
    expect(queued).toBeLessThanOrEqual(MAX_SEND_BUFFER_BYTES);
    expect(queued).toBeGreaterThan(MAX_SEND_BUFFER_BYTES - big.length * 2);
    net.runUntil(net.now + 20_000);
    expect(eventsOf(h, a, 'writable').length).toBeGreaterThanOrEqual(1);
    expect(a.node.session(sa)!.unacknowledgedMessages).toBe(0);
  }, 30_000);

  it('is deterministic: the same seed gives the same run', async () => {
    const o = { ...DEFAULT_SCENARIO, hops: 20, loss: 0.05, seed: 42, simultaneous: true };
    const r1 = await runScenario(o);
    const r2 = await runScenario(o);
    expect(r1).toEqual(r2);
    const r3 = await runScenario({ ...o, seed: 43 });
    expect(r3.packets).not.toBe(r1.packets);
  }, 30_000);
});
