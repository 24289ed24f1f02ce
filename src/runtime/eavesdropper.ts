// "What an eavesdropper sees": the clear header of every packet (the address = connection tag ‖ packet
// number travels in clear, as in net2o), the last packets an on-path attacker could capture, and the
// attacks built from them. Only encryption keeps the attacker out; the attacks show it.
import { toHex } from '../net2o/bytes.ts';
import { HEADER_ADDR_OFFSET, HEADER_ADDR_SIZE, HEADER_SIZE, TAG_STATELESS } from '../net2o/constants.ts';
import type { PathId, SessionId } from '../net2o/events.ts';
import { decodePacket } from '../net2o/wire.ts';
import type { AttackKind, WireSighting } from './api.ts';

const WIRE_LIMIT = 200;
const CAPTURE_LIMIT = 20;

export class Eavesdropper {
  readonly wire: WireSighting[] = [];
  private readonly capturedIn: Array<{ session: SessionId; data: Uint8Array }> = [];
  private readonly capturedRelayed: Array<{ from: string; data: Uint8Array }> = [];

  /** Records a datagram's clear header; keeps incoming data packets as an attacker would. */
  record(direction: 'in' | 'out', pathId: PathId, data: Uint8Array, at: number, peerOf: (connectionTag: number, direction: 'in' | 'out') => string | null): void {
    let h;
    try {
      h = decodePacket(data);
    } catch {
      return; // not a packet: nothing an eavesdropper could read either
    }
    if (direction === 'in' && !(h.tags & TAG_STATELESS)) {
      this.capturedIn.push({ session: h.connectionTag, data: data.slice() });
      if (this.capturedIn.length > CAPTURE_LIMIT) this.capturedIn.shift();
    }
    this.wire.push({
      at,
      direction,
      peerId: peerOf(h.connectionTag, direction),
      pathId,
      size: data.length,
      flags: data[0]!,
      tags: h.tags,
      address: toHex(data.subarray(HEADER_ADDR_OFFSET, HEADER_ADDR_OFFSET + HEADER_ADDR_SIZE).slice().reverse()),
      connectionTag: h.connectionTag.toString(16).padStart(6, '0'),
      packetNumber: h.packetNumber,
    });
    if (this.wire.length > WIRE_LIMIT) this.wire.splice(0, this.wire.length - WIRE_LIMIT);
  }

  /** A packet that arrived through the signaling server's relay (what a malicious server could keep). */
  recordRelayed(from: string, data: Uint8Array): void {
    this.capturedRelayed.push({ from, data: data.slice() });
    if (this.capturedRelayed.length > CAPTURE_LIMIT) this.capturedRelayed.shift();
  }

  lastCaptured(session: SessionId): Uint8Array | undefined {
    for (let i = this.capturedIn.length - 1; i >= 0; i--) if (this.capturedIn[i]!.session === session) return this.capturedIn[i]!.data;
    return undefined;
  }

  lastRelayed(): { from: string; data: Uint8Array } | undefined {
    return this.capturedRelayed[this.capturedRelayed.length - 1];
  }
}

/**
 * Builds the attack packet from a captured one. replay: unchanged. forge: a fresh packet number, random
 * contents. hijack: a much higher packet number on the captured contents (the address is authenticated as
 * associated data, so the tag fails). The relay variants are the same, delivered as a resumption.
 */
export function craftAttack(kind: AttackKind, captured: Uint8Array, random: (b: Uint8Array) => void): Uint8Array {
  const pkt = captured.slice();
  const dv = new DataView(pkt.buffer);
  const bumpPacketNumber = (n: number) => dv.setUint32(HEADER_ADDR_OFFSET, dv.getUint32(HEADER_ADDR_OFFSET, true) + n, true);
  if (kind === 'forge' || kind === 'relay-forge') {
    bumpPacketNumber(1_000);
    random(pkt.subarray(HEADER_SIZE));
  } else if (kind === 'hijack') {
    bumpPacketNumber(100_000);
  }
  return pkt;
}
