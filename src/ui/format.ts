// Small formatting helpers shared by the components.

import type { RuntimeSnapshot } from '../runtime/api.ts';

export function ms(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : `${Math.round(value)} ms`;
}

/** Log and wire timestamps (ms since page start) as seconds with millisecond precision. */
export function seconds(at: number): string {
  return `${(at / 1000).toFixed(3)} s`;
}

export function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** The 64-bit address as connection tag ‖ packet number (high 24 bits ‖ low 40 bits), both hex. */
export function splitAddress(address: string, connectionTag: string, packetNumber: number): { tag: string; pn: string } {
  const a = address.replace(/^0x/, '').padStart(16, '0');
  if (a.length === 16) return { tag: a.slice(0, 6), pn: a.slice(6) };
  return { tag: connectionTag, pn: packetNumber.toString(16).padStart(10, '0') };
}

export function stationLabel(snap: RuntimeSnapshot, id: string | null): string {
  if (id === null) return '?';
  return snap.stations.find((s) => s.id === id)?.label ?? id;
}

export function peerName(snap: RuntimeSnapshot, peerId: string | null | undefined): string | null {
  if (!peerId) return null;
  return snap.peers.find((p) => p.peerId === peerId)?.name ?? peerId;
}

/** One colour per peer, by position (CSS custom properties --peer-0 …). */
export function peerColor(index: number): string {
  return `var(--peer-${index % 4})`;
}
