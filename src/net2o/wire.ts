// The packet codec: net2o's 26-byte header, a body of 64·2ⁿ bytes, a 16-byte MAC. Pure functions.
import {
  AD_SIZE,
  ADDR_PN_BITS,
  BODY_UNIT,
  FLAGS_KIND_MASK,
  FLAGS_KIND_SHIFT,
  FLAGS_QOS_SHIFT,
  HEADER_ADDR_OFFSET,
  HEADER_FLAGS_OFFSET,
  HEADER_KIND_DATA,
  HEADER_PATH_OFFSET,
  HEADER_PATH_SIZE,
  HEADER_SIZE,
  HEADER_TAGS_OFFSET,
  MAC_SIZE,
  MAX_CONNECTION_TAG,
  MAX_PACKET_NUMBER,
  MAX_SIZE_EXPONENT,
  SIZE_EXPONENT_MASK,
  TAGS_KNOWN,
} from './constants.ts';
import { WireError } from './errors.ts';

export interface PacketHeader {
  qos: number; // 0–3
  sizeExponent: number; // body = 64·2ⁿ
  tags: number;
  path: Uint8Array; // 16 bytes, not authenticated
  connectionTag: number; // high 24 bits of addr: which connection (receiver-chosen)
  packetNumber: number; // low 40 bits of addr: per-direction, monotonic; also the AEAD nonce
}

/** A decoded packet: the header, the AD bytes to authenticate, and the sealed body (ciphertext ‖ MAC). */
export interface DecodedPacket extends PacketHeader {
  ad: Uint8Array;
  sealed: Uint8Array;
}

export function bodySize(sizeExponent: number): number {
  return BODY_UNIT << sizeExponent;
}

export function packetSize(sizeExponent: number): number {
  return HEADER_SIZE + bodySize(sizeExponent) + MAC_SIZE;
}

/** The smallest size exponent whose body holds `n` bytes, or -1 if none does. */
export function sizeExponentFor(n: number): number {
  for (let e = 0; e <= MAX_SIZE_EXPONENT; e++) if (bodySize(e) >= n) return e;
  return -1;
}

export const EMPTY_PATH = new Uint8Array(HEADER_PATH_SIZE);

/** Writes the header into `out` (which is packetSize(e) long) and returns the AD view. */
export function writeHeader(out: Uint8Array, h: Omit<PacketHeader, 'path'> & { path?: Uint8Array }): Uint8Array {
  if (h.sizeExponent < 0 || h.sizeExponent > MAX_SIZE_EXPONENT) throw new RangeError('size exponent');
  if (out.length !== packetSize(h.sizeExponent)) throw new RangeError('buffer size');
  if (h.connectionTag < 0 || h.connectionTag > MAX_CONNECTION_TAG) throw new RangeError('connection tag');
  if (h.packetNumber < 0 || h.packetNumber > MAX_PACKET_NUMBER) throw new RangeError('packet number');
  out[HEADER_FLAGS_OFFSET] = ((h.qos & 3) << FLAGS_QOS_SHIFT) | (HEADER_KIND_DATA << FLAGS_KIND_SHIFT) | h.sizeExponent;
  out[HEADER_TAGS_OFFSET] = h.tags;
  if (h.path) out.set(h.path.subarray(0, HEADER_PATH_SIZE), HEADER_PATH_OFFSET);
  writeAddr(out, h.connectionTag, h.packetNumber);
  return adOf(out);
}

function writeAddr(out: Uint8Array, tag: number, pn: number): void {
  // addr = tag·2^40 + pn, little-endian: bytes 0–4 hold pn, bytes 5–7 hold the tag.
  const dv = new DataView(out.buffer, out.byteOffset + HEADER_ADDR_OFFSET, 8);
  dv.setUint32(0, pn >>> 0, true);
  dv.setUint8(4, Math.floor(pn / 2 ** 32) & 0xff);
  dv.setUint8(5, tag & 0xff);
  dv.setUint16(6, tag >>> 8, true);
}

/** flags ‖ tags ‖ addr, copied (the path in between is excluded). */
export function adOf(packet: Uint8Array): Uint8Array {
  const ad = new Uint8Array(AD_SIZE);
  ad[0] = packet[HEADER_FLAGS_OFFSET]!;
  ad[1] = packet[HEADER_TAGS_OFFSET]!;
  ad.set(packet.subarray(HEADER_ADDR_OFFSET, HEADER_ADDR_OFFSET + 8), 2);
  return ad;
}

/** Decodes a packet's header. Hostile bytes give a WireError, nothing else. */
export function decodePacket(packet: Uint8Array): DecodedPacket {
  if (!(packet instanceof Uint8Array)) throw new WireError('size', 'not bytes');
  if (packet.length < HEADER_SIZE + MAC_SIZE) throw new WireError('truncated', `packet of ${packet.length} bytes`);
  const flags = packet[HEADER_FLAGS_OFFSET]!;
  const kind = (flags & FLAGS_KIND_MASK) >> FLAGS_KIND_SHIFT;
  if (kind !== HEADER_KIND_DATA) throw new WireError('kind', `header kind ${kind}`);
  const sizeExponent = flags & SIZE_EXPONENT_MASK;
  if (sizeExponent > MAX_SIZE_EXPONENT) throw new WireError('size', `size exponent ${sizeExponent}`);
  if (packet.length !== packetSize(sizeExponent))
    throw new WireError('size', `length ${packet.length} ≠ ${packetSize(sizeExponent)} for n=${sizeExponent}`);
  const tags = packet[HEADER_TAGS_OFFSET]!;
  if ((tags & ~TAGS_KNOWN) !== 0) throw new WireError('tags', `unknown tags 0x${tags.toString(16)}`);
  const dv = new DataView(packet.buffer, packet.byteOffset + HEADER_ADDR_OFFSET, 8);
  const packetNumber = dv.getUint32(0, true) + dv.getUint8(4) * 2 ** 32;
  const connectionTag = dv.getUint8(5) | (dv.getUint16(6, true) << 8);
  return {
    qos: flags >> FLAGS_QOS_SHIFT,
    sizeExponent,
    tags,
    path: packet.subarray(HEADER_PATH_OFFSET, HEADER_PATH_OFFSET + HEADER_PATH_SIZE),
    connectionTag,
    packetNumber,
    ad: adOf(packet),
    sealed: packet.subarray(HEADER_SIZE),
  };
}

/** The 64-bit address as a bigint, for display ("what an eavesdropper sees"). */
export function addressOf(connectionTag: number, packetNumber: number): bigint {
  return (BigInt(connectionTag) << BigInt(ADDR_PN_BITS)) | BigInt(packetNumber);
}

/** Rewrites the unauthenticated path field in place (what a forwarder does). */
export function setPathField(packet: Uint8Array, path: Uint8Array): void {
  packet.set(path.subarray(0, HEADER_PATH_SIZE), HEADER_PATH_OFFSET);
}
