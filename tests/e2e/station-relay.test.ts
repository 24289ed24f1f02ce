// Real Chromium through the embedded TURN relay: two RTCPeerConnections in one page, pc1 relay-only on station
// A and pc2 relay-only on station B, so every byte goes client -> relay A -> relay B -> client on 127.0.0.1.
// Also checks that connect/close cycles do not leave relay sockets behind.

import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStations, type Stations } from '../../signaling-server/stations.ts';
import type { StationInfo } from '../../signaling-server/contracts.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './harness.ts';


interface RunResult {
  openMs: number;
  echoed: number;
  local: string;
  remote: string;
  localAddress: string;
  remoteAddress: string;
}

/** Runs in the page: connect pc1 (station A) and pc2 (station B), echo `n` messages, report, close both. */
async function connectAndEcho(page: Page, a: StationInfo['iceServer'], b: StationInfo['iceServer'], n: number): Promise<RunResult> {
  return page.evaluate(
    async ({ a, b, n }) => {
      const pc1 = new RTCPeerConnection({ iceServers: [a], iceTransportPolicy: 'relay' });
      const pc2 = new RTCPeerConnection({ iceServers: [b], iceTransportPolicy: 'relay' });
      const timeout = <T,>(p: Promise<T>, ms: number, what: string): Promise<T> =>
        Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))]);
      try {
        const wire = (from: RTCPeerConnection, to: RTCPeerConnection): void => {
          const queue: RTCIceCandidate[] = [];
          from.onicecandidate = (e) => {
            if (!e.candidate) return;
            if (to.remoteDescription) void to.addIceCandidate(e.candidate);
            else queue.push(e.candidate);
          };
          (from as unknown as { flush: () => void }).flush = () => {
            for (const c of queue.splice(0)) void to.addIceCandidate(c);
          };
        };
        wire(pc1, pc2);
        wire(pc2, pc1);
        const flush = (pc: RTCPeerConnection): void => (pc as unknown as { flush: () => void }).flush();
        pc2.ondatachannel = (e) => {
          const ch = e.channel;
          ch.onmessage = (m) => ch.send(m.data as string);
        };
        const t0 = performance.now();
        const dc = pc1.createDataChannel('echo');
        const opened = new Promise<void>((res) => (dc.onopen = () => res()));
        await pc1.setLocalDescription(await pc1.createOffer());
        await pc2.setRemoteDescription(pc1.localDescription!);
        flush(pc1);
        await pc2.setLocalDescription(await pc2.createAnswer());
        await pc1.setRemoteDescription(pc2.localDescription!);
        flush(pc2);
        await timeout(opened, 15_000, 'data channel open');
        const openMs = performance.now() - t0;
        const got = new Set<string>();
        const all = new Promise<void>((res) => {
          dc.onmessage = (m) => {
            got.add(m.data as string);
            if (got.size === n) res();
          };
        });
        for (let i = 0; i < n; i++) dc.send(`msg-${i}`);
        await timeout(all, 10_000, 'echoes').catch(() => {});
        // The selected pair, from the transport stats.
        const stats = await pc1.getStats();
        let pairId: string | undefined;
        stats.forEach((s) => {
          if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId as string;
        });
        const pair = pairId ? stats.get(pairId) : undefined;
        const local = pair ? stats.get(pair.localCandidateId) : undefined;
        const remote = pair ? stats.get(pair.remoteCandidateId) : undefined;
        return {
          openMs,
          echoed: got.size,
          local: String(local?.candidateType),
          remote: String(remote?.candidateType),
          localAddress: `${local?.address}:${local?.port}`,
          remoteAddress: `${remote?.address}:${remote?.port}`,
        };
      } finally {
        pc1.close();
        pc2.close();
      }
    },
    { a, b, n },
  );
}

describe('embedded station relay with real Chromium', () => {
  let stations: Stations;
  let browser: Browser;
  let page: Page;
  const log: string[] = [];

  beforeAll(async () => {
    stations = await startStations({
      specs: [
        { id: 'cell-a', label: 'Cell A', port: 0 },
        { id: 'cell-b', label: 'Cell B', port: 0 },
      ],
      log: (l) => log.push(l),
    });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    await page.goto('about:blank');
  });

  afterAll(async () => {
    await browser?.close();
    await stations?.stop();
  });

  const station = (id: string): StationInfo['iceServer'] => stations.list().find((s) => s.id === id)!.iceServer;
  const open = (): number => (stations.stats('cell-a')?.relaySocketsOpen ?? 0) + (stations.stats('cell-b')?.relaySocketsOpen ?? 0);

  async function waitForSockets(pred: (n: number) => boolean, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = open();
      if (pred(n) || Date.now() > deadline) return n;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('relay/relay pair through stations A and B carries 50 echoed messages', async () => {
    const r = await connectAndEcho(page, station('cell-a'), station('cell-b'), 50);
    console.log(`[station-relay] open ${r.openMs.toFixed(0)} ms, pair ${r.local}/${r.remote} ${r.localAddress} -> ${r.remoteAddress}`);
    expect(r.local).toBe('relay');
    expect(r.remote).toBe('relay');
    expect(r.localAddress.startsWith('127.0.0.1:')).toBe(true);
    expect(r.remoteAddress.startsWith('127.0.0.1:')).toBe(true);
    expect(r.echoed).toBe(50);
    expect(stations.stats('cell-a')!.allocationsTotal).toBeGreaterThanOrEqual(1);
    expect(stations.stats('cell-b')!.allocationsTotal).toBeGreaterThanOrEqual(1);
    // Chromium releases its allocations (Refresh LIFETIME 0) when the peer connections close.
    const left = await waitForSockets((n) => n === 0, 5000);
    console.log(`[station-relay] relay sockets open 5 s after close: ${left}`);
    expect(left).toBe(0);
  });

  it('30 connect/close cycles leave no relay socket open', async () => {
    const openTimes: number[] = [];
    let peak = 0;
    for (let i = 0; i < 30; i++) {
      const r = await connectAndEcho(page, station('cell-a'), station('cell-b'), 5);
      expect(r.echoed).toBe(5);
      expect([r.local, r.remote]).toEqual(['relay', 'relay']);
      openTimes.push(r.openMs);
      peak = Math.max(peak, open());
    }
    const left = await waitForSockets((n) => n === 0, 5000);
    openTimes.sort((x, y) => x - y);
    const a = stations.stats('cell-a')!;
    const b = stations.stats('cell-b')!;
    console.log(
      `[station-relay] 30 cycles: open median ${openTimes[15]!.toFixed(0)} ms, max ${openTimes[29]!.toFixed(0)} ms; ` +
        `allocations total A=${a.allocationsTotal} B=${b.allocationsTotal}; peak open sockets ${peak}; open after ${left}; ` +
        `dropped A=${JSON.stringify(a.dropped)} B=${JSON.stringify(b.dropped)}`,
    );
    expect(left).toBe(0);
  });

  it('stopping the stations leaves no relay socket open', async () => {
    // Leave one connection's allocations alive on purpose, then stop the stations under it.
    const keep = await page.evaluate(async ({ a }) => {
      const pc = new RTCPeerConnection({ iceServers: [a], iceTransportPolicy: 'relay' });
      (window as unknown as { keep: RTCPeerConnection }).keep = pc;
      pc.createDataChannel('x');
      const done = new Promise<number>((res) => {
        let relays = 0;
        pc.onicecandidate = (e) => {
          if (e.candidate?.type === 'relay') relays++;
          if (!e.candidate) res(relays);
        };
      });
      await pc.setLocalDescription(await pc.createOffer());
      return done;
    }, { a: station('cell-a') });
    expect(keep).toBeGreaterThanOrEqual(1);
    expect(stations.stats('cell-a')!.relaySocketsOpen).toBeGreaterThanOrEqual(1);
    await stations.stop();
    expect(stations.stats('cell-a')).toMatchObject({ relaySocketsOpen: 0, allocations: 0 });
    expect(stations.stats('cell-b')).toMatchObject({ relaySocketsOpen: 0, allocations: 0 });
    await page.evaluate(() => (window as unknown as { keep: RTCPeerConnection }).keep.close());
  });
});
