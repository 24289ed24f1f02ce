// Everything the core reports, as small typed records (aioquic's events module). The runtime drains them with
// pollEvent() after every input; the UI and logs read them.
import type { HandshakeErrorCode, RejectReason } from './errors.ts';

export type SessionId = number; // the local connection tag
export type PathId = number; // chosen by the runtime: one per transport (data channel)

export type PathCloseReason = 'overlap-ended' | 'station-lost' | 'dead' | 'peer-closed' | 'transport' | 'validation-failed' | 'session-closed';

export type Net2oEvent =
  | { type: 'handshake-done'; session: SessionId; initiator: boolean; peerIdentity: Uint8Array; peerName: string }
  | { type: 'handshake-failed'; session: SessionId | null; code: HandshakeErrorCode; pathId: PathId }
  /** The runtime should build a path from `localStation` to the peer's `remoteStation` and offer it. */
  | { type: 'path-wanted'; session: SessionId; key: string; localStation: string; remoteStation: string }
  /** An in-band setup message for path `key` (create the answering side if it does not exist yet). */
  | { type: 'path-signal'; session: SessionId; key: string; localStation: string; remoteStation: string; data: Uint8Array }
  /** Stop setting up path `key` (refused by the peer, superseded, or its station left). */
  | { type: 'path-abandoned'; session: SessionId; key: string; reason: string }
  | { type: 'path-added'; session: SessionId; pathId: PathId; key: string | null }
  | { type: 'path-validated'; session: SessionId; pathId: PathId; rttMs: number }
  | { type: 'path-promoted'; session: SessionId; pathId: PathId; from: PathId | null }
  | { type: 'path-suspected'; session: SessionId; pathId: PathId; silentMs: number }
  | { type: 'path-recovered'; session: SessionId; pathId: PathId }
  /** The runtime should destroy the transport. */
  | { type: 'path-closed'; session: SessionId | null; pathId: PathId; reason: PathCloseReason }
  | { type: 'return-address-moved'; session: SessionId; from: PathId | null; to: PathId; packetNumber: number }
  | { type: 'failover'; session: SessionId; from: PathId; to: PathId; resentPackets: number }
  | { type: 'ping-all'; station: string; sessions: number }
  | { type: 'hop-started'; station: string; leaving: string[] }
  | { type: 'hop-finished'; station: string; durationMs: number }
  | { type: 'packet-rejected'; reason: RejectReason; pathId: PathId; session: SessionId | null; detail: string }
  | { type: 'message'; session: SessionId; data: Uint8Array }
  | { type: 'writable'; session: SessionId }
  | { type: 'session-closed'; session: SessionId; reason: string };

export type Net2oEventType = Net2oEvent['type'];
