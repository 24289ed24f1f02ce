// Starts the node in a browser tab: invite from the fragment, name and station from the query, libsodium,
// WebRTC through the page's own RTCPeerConnection, the signaling server from the launcher's config.
import type { ClientConfig } from '../../signaling-server/contracts.ts';
import { loadStations } from './config.ts';
import { inviteHash, parseInvite } from './invite.ts';
import { acceptMove } from './move.ts';
import { baseStation, NodeRuntime } from './node-runtime.ts';
import { createSodiumCrypto } from './sodium-crypto.ts';
import { WebRtcFactory } from './webrtc-transport.ts';

const NAMES = ['Ada', 'Bernd', 'Carla', 'Dmitri', 'Elif', 'Femi', 'Grace', 'Hiro', 'Ines', 'Jun'];

export async function startPageRuntime(config: ClientConfig): Promise<NodeRuntime> {
  const crypto = await createSodiumCrypto();
  const moveId = new URLSearchParams(location.search).get('move');
  if (moveId) return startMovedRuntime(config, crypto, moveId);
  const invite = parseInvite(location.hash, (n) => crypto.randomBytes(n));
  if (invite.created) {
    const url = new URL(location.href);
    url.hash = inviteHash(invite);
    history.replaceState(null, '', url.toString());
  }
  const q = new URLSearchParams(location.search);
  const nodeId = `n${Array.from(crypto.randomBytes(6), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  const name = (q.get('name') ?? NAMES[crypto.randomBytes(1)[0]! % NAMES.length]!).slice(0, 40);
  const runtime = new NodeRuntime({
    crypto,
    transports: new WebRtcFactory(),
    signalingUrl: config.signalingUrl,
    stations: () => loadStations(config),
    room: invite.room,
    secret: invite.secret,
    nodeId,
    name,
    ...(q.get('station') ? { station: q.get('station')! } : {}),
    ...(Number(q.get('idle')) > 0 ? { idleTimeoutMs: Number(q.get('idle')) } : {}),
    ...(Number(q.get('overlap')) >= 0 && q.get('overlap') !== null ? { overlapMs: Number(q.get('overlap')) } : {}),
    inviteBase: new URL(location.pathname, location.origin).toString(),
    stationAdmin: stationAdmin(config),
  });
  await runtime.start();
  return runtime;
}

/** This tab takes over a node from another tab (`?move=ID`, opened by the old tab's "Move to another tab"). */
async function startMovedRuntime(config: ClientConfig, crypto: Awaited<ReturnType<typeof createSodiumCrypto>>, moveId: string): Promise<NodeRuntime> {
  const accepted = await acceptMove(moveId);
  const st = accepted.state;
  const q = new URLSearchParams(location.search);
  const url = new URL(location.href);
  url.searchParams.delete('move');
  url.hash = inviteHash({ room: st.room, secret: st.secret, created: false });
  history.replaceState(null, '', url.toString());
  const stations = await loadStations(config);
  const runtime = new NodeRuntime({
    crypto,
    transports: new WebRtcFactory(),
    signalingUrl: config.signalingUrl,
    stations: async () => stations,
    room: st.room,
    secret: st.secret,
    nodeId: st.nodeId,
    name: st.name,
    inviteBase: new URL(location.pathname, location.origin).toString(),
    stationAdmin: stationAdmin(config),
    restore: { node: st.node, runtime: st.runtime },
  });
  await runtime.start();
  await accepted.complete(runtime, (a) => stations.find((s) => s.id === baseStation(a)));
  // Our own path, on the station asked for (or the one the old tab was on), built in-band through the old tab.
  const inherited = st.node.stations.find((s) => s.state === 'active')?.id;
  const station = q.get('station') ?? (inherited ? baseStation(inherited) : stations.find((s) => s.up)?.id);
  if (station) await runtime.attach(station);
  return runtime;
}

function stationAdmin(config: ClientConfig): (id: string, action: 'down' | 'up') => Promise<void> {
  const adminBase = new URL(config.stationsUrl).origin;
  return async (id, action) => {
    const res = await fetch(`${adminBase}/admin/stations/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
    if (!res.ok) throw new Error(`station ${id} ${action}: HTTP ${res.status}`);
  };
}
