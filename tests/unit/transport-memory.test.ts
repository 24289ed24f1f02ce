// The in-memory medium passes the shared transport contract (the WebRTC run is tests/e2e/transport-webrtc.test.ts).
import type { StationInfo } from '../../signaling-server/contracts.ts';
import { MemoryMedium } from '../../src/runtime/transport.ts';
import { runTransportContract } from '../contract/transport-contract.ts';

const station = (id: string): StationInfo => ({
  id,
  label: id,
  iceServer: { urls: `turn:127.0.0.1:1?${id}`, username: 'u', credential: 'p' },
  up: true,
  kind: 'embedded',
});

for (const delayMs of [0, 5]) {
  runTransportContract(`memory medium (delay ${delayMs} ms)`, async () => {
    const medium = new MemoryMedium();
    medium.delayMs = delayMs;
    return {
      factory: medium,
      stations: [station('cell-a'), station('cell-b')],
      stationDown: async (id) => void medium.down.add(id),
      stationUp: async (id) => void medium.down.delete(id),
      cleanup: async () => {},
    };
  });
}
