// The WebRTC transport (simple-peer on @roamhq/wrtc in Node) passes the shared transport contract: relay-only,
// initiator and answerer on two different embedded stations on free loopback ports.
import wrtc from '@roamhq/wrtc';
import { startStations } from '../../signaling-server/stations.ts';
import { WebRtcFactory } from '../../src/runtime/webrtc-transport.ts';
import { runTransportContract } from '../contract/transport-contract.ts';
import { freePorts } from './harness.ts';

runTransportContract('webrtc (Node, @roamhq/wrtc, relay-only)', async () => {
  const [pa, pb] = await freePorts(2);
  const stations = await startStations({
    specs: [
      { id: 'cell-a', label: 'Cell A', port: pa! },
      { id: 'cell-b', label: 'Cell B', port: pb! },
    ],
  });
  return {
    factory: new WebRtcFactory({ wrtc }),
    stations: stations.list(),
    stationDown: (id) => stations.down(id),
    stationUp: (id) => stations.up(id),
    cleanup: async () => {
      // Give the closed peer connections a moment to release their allocations before the relays go.
      await new Promise((r) => setTimeout(r, 300));
      await stations.stop();
    },
  };
});
