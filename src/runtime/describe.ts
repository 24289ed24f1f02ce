// One human-readable line per protocol event, for the event log.
import type { Net2oEvent } from '../net2o/events.ts';

export function describeEvent(e: Net2oEvent, station: (id: string) => string, peer?: string): string {
  const to = peer ? ` to ${peer}` : '';
  const with_ = peer ? ` with ${peer}` : '';
  switch (e.type) {
    case 'handshake-done':
      return `handshake${with_} done (${e.initiator ? 'we initiated' : 'they initiated'}); keys derived, identity verified`;
    case 'handshake-failed':
      return `handshake failed: ${e.code}`;
    case 'path-wanted':
      return `offering a new path${to}: ${station(e.localStation)} ⇄ ${station(e.remoteStation)} (setup in-band)`;
    case 'path-signal':
      return `in-band setup message for path ${station(e.localStation)} ⇄ ${station(e.remoteStation)}${peer ? ` from ${peer}` : ''}`;
    case 'path-abandoned':
      return `path setup ${e.key} abandoned: ${e.reason}`;
    case 'path-added':
      return `path #${e.pathId} open${to}; validating with a challenge`;
    case 'path-validated':
      return `path #${e.pathId}${to} validated (challenge answered, RTT ${Math.round(e.rttMs)} ms)`;
    case 'path-promoted':
      return `traffic${to} now on path #${e.pathId}${e.from !== null ? ` (was #${e.from})` : ''}; pinged from the new address`;
    case 'path-suspected':
      return `path #${e.pathId}${to} suspected: nothing acknowledged for ${Math.round(e.silentMs)} ms`;
    case 'path-recovered':
      return `path #${e.pathId}${to} answers again`;
    case 'path-closed':
      return `path #${e.pathId}${to} closed (${e.reason})`;
    case 'return-address-moved':
      return `return address${peer ? ` of ${peer}` : ''} moved to path #${e.to} (authentic packet ${e.packetNumber}, the highest so far)`;
    case 'failover':
      return `failover${to}: path #${e.from} → #${e.to}, ${e.resentPackets} packet(s) resent`;
    case 'ping-all':
      return `pinged all ${e.sessions} connection(s) from ${station(e.station)}`;
    case 'hop-started':
      return `hop to ${station(e.station)} started${e.leaving.length ? `, leaving ${e.leaving.map(station).join(', ')}` : ''}`;
    case 'hop-finished':
      return `hop to ${station(e.station)} finished in ${Math.round(e.durationMs)} ms`;
    case 'packet-rejected':
      return `packet rejected (${e.reason}) on path #${e.pathId}: ${e.detail}`;
    case 'message':
      return `message${peer ? ` from ${peer}` : ''} (${e.data.length} bytes)`;
    case 'writable':
      return `send buffer${to} has room again`;
    case 'session-closed':
      return `session${with_} closed: ${e.reason}`;
  }
}
