import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { DEFAULT_STATIONS, coturnAvailable, startStations, waitForStun, type Stations } from '../../signaling-server/stations.ts';
import { TurnClient } from '../helpers/turn-client.ts';
import type { StationInfo } from '../../signaling-server/contracts.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const ephemeralSpecs = () => DEFAULT_STATIONS.map((s) => ({ ...s, port: 0 }));

function portOf(info: StationInfo): number {
  const m = /^turn:127\.0\.0\.1:(\d+)\?transport=udp$/.exec(info.iceServer.urls);
  if (!m) throw new Error(`unexpected url ${info.iceServer.urls}`);
  return Number(m[1]);
}

async function canBind(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    await new Promise<void>((r) => {
      try {
        s.close(() => r());
      } catch {
        r();
      }
    });
  }
}

/** Allocate on a station with the credentials list() hands out, relay one datagram A->B. */
async function relayWorks(a: StationInfo, b: StationInfo): Promise<boolean> {
  const ca = await TurnClient.open({ serverPort: portOf(a), username: a.iceServer.username, password: a.iceServer.credential });
  const cb = await TurnClient.open({ serverPort: portOf(b), username: b.iceServer.username, password: b.iceServer.credential });
  try {
    const { relay: ra } = await ca.allocate();
    const { relay: rb } = await cb.allocate();
    await ca.createPermission(rb);
    await cb.createPermission(ra);
    await ca.sendIndication(rb, Buffer.from('ping'));
    const got = await cb.receive();
    await ca.refresh(0);
    await cb.refresh(0);
    return got.data.toString() === 'ping';
  } finally {
    await ca.close();
    await cb.close();
  }
}

describe('stations (embedded)', () => {
  it('DEFAULT_STATIONS are cell-a/cell-b/wifi on 3478-3480', () => {
    expect(DEFAULT_STATIONS).toEqual([
      { id: 'cell-a', label: 'Cell A', port: 3478 },
      { id: 'cell-b', label: 'Cell B', port: 3479 },
      { id: 'wifi', label: 'Wi-Fi', port: 3480 },
    ]);
  });

  it('starts three stations, down/up one, list() reflects it, stop() frees the ports', async () => {
    const st = await startStations({ specs: ephemeralSpecs() });
    cleanups.push(() => st.stop());
    const list = st.list();
    expect(list.map((s) => s.id)).toEqual(['cell-a', 'cell-b', 'wifi']);
    for (const s of list) {
      expect(s).toMatchObject({ up: true, kind: 'embedded' });
      expect(s.iceServer.username).toBe(`station-${s.id}`);
      expect(s.iceServer.credential.length).toBeGreaterThanOrEqual(16);
    }
    const ports = list.map(portOf);
    expect(new Set(ports).size).toBe(3);
    expect(await relayWorks(list[0]!, list[1]!)).toBe(true);

    // An allocation on cell-b dies with the station.
    const b = list[1]!;
    const cb = await TurnClient.open({ serverPort: portOf(b), username: b.iceServer.username, password: b.iceServer.credential });
    cleanups.push(() => cb.close());
    await cb.allocate();
    expect(st.stats('cell-b')).toMatchObject({ allocations: 1, relaySocketsOpen: 1 });

    await st.down('cell-b');
    expect(st.list().find((s) => s.id === 'cell-b')!.up).toBe(false);
    expect(st.list().filter((s) => s.up).map((s) => s.id)).toEqual(['cell-a', 'wifi']);
    expect(st.stats('cell-b')).toMatchObject({ allocations: 0, relaySocketsOpen: 0 });
    expect(await canBind(ports[1]!)).toBe(true); // really closed
    await st.down('cell-b'); // idempotent

    await st.up('cell-b');
    const after = st.list().find((s) => s.id === 'cell-b')!;
    expect(after.up).toBe(true);
    expect(portOf(after)).toBe(ports[1]); // same port
    expect(after.iceServer).toEqual(b.iceServer); // same credentials
    expect(await relayWorks(st.list()[2]!, after)).toBe(true);

    expect(st.stats('nope')).toBeNull();
    await expect(st.down('nope')).rejects.toThrow(/no such station/);

    await st.stop();
    for (const p of ports) expect(await canBind(p)).toBe(true);
    for (const s of st.list()) {
      expect(s.up).toBe(false);
      expect(st.stats(s.id)).toMatchObject({ relaySocketsOpen: 0, allocations: 0 });
    }
  });

  it('advertiseHost goes into the iceServer url', async () => {
    const st = await startStations({ specs: [{ id: 'x', label: 'X', port: 0, username: 'u', password: 'p' }], advertiseHost: '192.0.2.7' });
    cleanups.push(() => st.stop());
    const [x] = st.list();
    expect(x!.iceServer).toEqual({ urls: expect.stringMatching(/^turn:192\.0\.2\.7:\d+\?transport=udp$/), username: 'u', credential: 'p' });
  });

  it('a taken port gives a clear error naming the station and port, and nothing stays bound', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const taken = blocker.address().port;
    const err = await startStations({
      specs: [
        { id: 'first', label: 'First', port: 0 },
        { id: 'cell-b', label: 'Cell B', port: taken },
      ],
    }).catch((e: unknown) => e as NodeJS.ErrnoException);
    expect(err).toBeInstanceOf(Error);
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect((err as Error).message).toContain(`${taken}`);
    expect((err as Error).message).toContain('cell-b');
  });
});

describe('stations (coturn)', () => {
  it.skipIf(!coturnAvailable())('runs coturn stations: relay works, down/up, stop kills the processes', async () => {
    const st: Stations = await startStations({ specs: ephemeralSpecs(), kind: 'coturn' });
    cleanups.push(() => st.stop());
    const list = st.list();
    expect(list.every((s) => s.kind === 'coturn' && s.up)).toBe(true);
    const ports = list.map(portOf);
    expect(await relayWorks(list[0]!, list[1]!)).toBe(true);
    expect(st.stats('cell-a')).toBeNull();

    await st.down('cell-a');
    expect(st.list()[0]!.up).toBe(false);
    await expect(waitForStun('127.0.0.1', ports[0]!, 400)).rejects.toThrow();
    await st.up('cell-a');
    expect(st.list()[0]!.up).toBe(true);
    expect(portOf(st.list()[0]!)).toBe(ports[0]);
    expect(await relayWorks(st.list()[0]!, st.list()[2]!)).toBe(true);

    await st.stop();
    for (const p of ports) expect(await canBind(p)).toBe(true);
  }, 60_000);
});
