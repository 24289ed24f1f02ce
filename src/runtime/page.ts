// Starts the node in a browser tab: invite from the fragment, name and station from the query, libsodium,
// WebRTC through the page's own RTCPeerConnection, the signaling server from the launcher's config.
import type { ClientConfig } from '../../signaling-server/contracts.ts';
import { loadStations } from './config.ts';
import { inviteHash, parseInvite } from './invite.ts';
import { NodeRuntime } from './node-runtime.ts';
import { createSodiumCrypto } from './sodium-crypto.ts';
import { WebRtcFactory } from './webrtc-transport.ts';

const NAMES = ['Ada', 'Bernd', 'Carla', 'Dmitri', 'Elif', 'Femi', 'Grace', 'Hiro', 'Ines', 'Jun'];

export async function startPageRuntime(config: ClientConfig): Promise<NodeRuntime> {
  const crypto = await createSodiumCrypto();
  const invite = parseInvite(location.hash, (n) => crypto.randomBytes(n));
  if (invite.created) {
    const url = new URL(location.href);
    url.hash = inviteHash(invite);
    history.replaceState(null, '', url.toString());
  }
  const q = new URLSearchParams(location.search);
  const nodeId = `n${Array.from(crypto.randomBytes(6), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  const name = (q.get('name') ?? NAMES[crypto.randomBytes(1)[0]! % NAMES.length]!).slice(0, 40);
  const adminBase = new URL(config.stationsUrl).origin;
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
    stationAdmin: async (id, action) => {
      const res = await fetch(`${adminBase}/admin/stations/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
      if (!res.ok) throw new Error(`station ${id} ${action}: HTTP ${res.status}`);
    },
  });
  await runtime.start();
  return runtime;
}
