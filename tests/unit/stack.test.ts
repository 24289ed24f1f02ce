// The launcher's stack without a browser: stations + signaling server on free loopback ports.

import { afterEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../signaling-server/stack.ts';
import type { StationInfo } from '../../signaling-server/contracts.ts';
import { DEFAULT_STATIONS } from '../../signaling-server/stations.ts';
import { freePorts, isPortFree, LOOPBACK } from '../e2e/harness.ts';

async function stackOnFreePorts(): Promise<{ stack: Stack; ports: number[] }> {
  const [signalingPort, ...stationPorts] = await freePorts(1 + DEFAULT_STATIONS.length);
  const stations = DEFAULT_STATIONS.map((s, i) => ({ ...s, port: stationPorts[i]! }));
  const stack = await startStack({ host: LOOPBACK, signalingPort: signalingPort!, stations, web: 'none' });
  return { stack, ports: [signalingPort!, ...stationPorts] };
}

describe('startStack', () => {
  const started: Stack[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  });

  it('serves /health and /stations and stop() frees every port', async () => {
    const { stack, ports } = await stackOnFreePorts();
    started.push(stack);
    expect(stack.webUrl).toBe('');
    expect(stack.config.signalingUrl).toBe(`ws://${LOOPBACK}:${stack.signaling.port}/signal`);
    expect(stack.config.stationsUrl).toBe(`http://${LOOPBACK}:${stack.signaling.port}/stations`);

    const health = await fetch(new URL('/health', stack.signaling.httpUrl));
    expect(health.status).toBe(200);

    const res = await fetch(stack.config.stationsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = (await res.json()) as StationInfo[] | { stations: StationInfo[] };
    const list = Array.isArray(body) ? body : body.stations;
    expect(list.map((s) => s.id)).toEqual(DEFAULT_STATIONS.map((s) => s.id));
    for (const s of list) {
      expect(s.up).toBe(true);
      expect(s.iceServer.urls).toMatch(/^turns?:/);
    }
    for (const port of ports) expect(await isPortFree(port)).toBe(false);

    await stack.stop();
    await stack.stop(); // idempotent
    for (const port of ports) expect(await isPortFree(port), `port ${port} still in use`).toBe(true);
  });

  it('a second stack on a taken signaling port fails naming the port, and leaves nothing behind', async () => {
    const { stack } = await stackOnFreePorts();
    started.push(stack);
    const port = stack.signaling.port;
    const stationPorts = await freePorts(DEFAULT_STATIONS.length);
    const stations = DEFAULT_STATIONS.map((s, i) => ({ ...s, port: stationPorts[i]! }));

    const second = startStack({ host: LOOPBACK, signalingPort: port, stations, web: 'none' });
    await expect(second).rejects.toThrow(new RegExp(`port ${port}.*--signaling-port`));
    // The second stack's stations started first and must have been stopped again.
    for (const p of stationPorts) expect(await isPortFree(p), `station port ${p} leaked`).toBe(true);
  });

  it('a taken station port fails naming the flag to change it', async () => {
    const { stack, ports } = await stackOnFreePorts();
    started.push(stack);
    const [signalingPort] = await freePorts(1);
    const stations = DEFAULT_STATIONS.map((s, i) => ({ ...s, port: ports[1 + i]! }));
    const second = startStack({ host: LOOPBACK, signalingPort: signalingPort!, stations, web: 'none' });
    await expect(second).rejects.toThrow(new RegExp(`${ports[1]}.*--station-ports`));
    expect(await isPortFree(signalingPort!)).toBe(true);
  });
});
