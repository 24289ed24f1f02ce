// STUN/TURN message codec (RFC 5389/8489 framing, RFC 5766/8656 attributes). Pure: no sockets, no timers.
// Decoding never throws on hostile input: it returns { ok: false, reason } instead.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const MAGIC_COOKIE = 0x2112a442;
export const FINGERPRINT_XOR = 0x5354554e;
export const HEADER_LENGTH = 20;

export const StunMethod = {
  Binding: 0x001,
  Allocate: 0x003,
  Refresh: 0x004,
  Send: 0x006,
  Data: 0x007,
  CreatePermission: 0x008,
  ChannelBind: 0x009,
} as const;

export const StunClass = { Request: 0, Indication: 1, SuccessResponse: 2, ErrorResponse: 3 } as const;
export type StunClassValue = (typeof StunClass)[keyof typeof StunClass];

export const StunAttr = {
  MappedAddress: 0x0001,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  ChannelNumber: 0x000c,
  Lifetime: 0x000d,
  XorPeerAddress: 0x0012,
  Data: 0x0013,
  Realm: 0x0014,
  Nonce: 0x0015,
  XorRelayedAddress: 0x0016,
  RequestedAddressFamily: 0x0017,
  EvenPort: 0x0018,
  RequestedTransport: 0x0019,
  DontFragment: 0x001a,
  MessageIntegritySha256: 0x001c,
  PasswordAlgorithm: 0x001d,
  Userhash: 0x001e,
  XorMappedAddress: 0x0020,
  ReservationToken: 0x0022,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  PasswordAlgorithms: 0x8002,
  AlternateDomain: 0x8003,
  Software: 0x8022,
  AlternateServer: 0x8023,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
} as const;

export interface StunAttribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  method: number;
  cls: StunClassValue;
  transactionId: Buffer; // 12 bytes
  attributes: StunAttribute[];
}

export interface DecodedStun extends StunMessage {
  /** The raw datagram the message was decoded from. */
  raw: Buffer;
  /** Byte offset of the MESSAGE-INTEGRITY attribute header, or -1. Attributes after it (except FINGERPRINT) are dropped. */
  integrityOffset: number;
  /** Byte offset of the FINGERPRINT attribute header, or -1. */
  fingerprintOffset: number;
}

export type DecodeResult = { ok: true; message: DecodedStun } | { ok: false; reason: string };

export interface TransportAddress {
  family: 4 | 6;
  address: string;
  port: number;
}

export interface ChannelData {
  channel: number;
  data: Buffer;
}

// ---------------------------------------------------------------- message type

export function encodeMessageType(method: number, cls: number): number {
  return (
    (method & 0x000f) |
    ((method & 0x0070) << 1) |
    ((method & 0x0f80) << 2) |
    ((cls & 0b01) << 4) |
    ((cls & 0b10) << 7)
  );
}

export function decodeMessageType(type: number): { method: number; cls: StunClassValue } {
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const cls = (((type & 0x0010) >> 4) | ((type & 0x0100) >> 7)) as StunClassValue;
  return { method, cls };
}

// ---------------------------------------------------------------- classification

/** First byte 0x00..0x03 and the magic cookie at offset 4: looks like STUN. */
export function isStun(buf: Buffer): boolean {
  return buf.length >= HEADER_LENGTH && (buf[0]! & 0xc0) === 0 && buf.readUInt32BE(4) === MAGIC_COOKIE;
}

/** First two bits 01: a ChannelData message (RFC 8656 §12). */
export function isChannelData(buf: Buffer): boolean {
  return buf.length >= 4 && (buf[0]! & 0xc0) === 0x40;
}

export function isValidChannelNumber(n: number): boolean {
  return n >= 0x4000 && n <= 0x4fff;
}

// ---------------------------------------------------------------- decode

export function decodeStun(buf: Buffer): DecodeResult {
  if (buf.length < HEADER_LENGTH) return { ok: false, reason: 'short' };
  if ((buf[0]! & 0xc0) !== 0) return { ok: false, reason: 'not-stun' };
  const type = buf.readUInt16BE(0);
  const length = buf.readUInt16BE(2);
  if (buf.readUInt32BE(4) !== MAGIC_COOKIE) return { ok: false, reason: 'bad-cookie' };
  if (length % 4 !== 0) return { ok: false, reason: 'bad-length' };
  if (HEADER_LENGTH + length !== buf.length) return { ok: false, reason: 'bad-length' };
  const { method, cls } = decodeMessageType(type);
  const transactionId = Buffer.from(buf.subarray(8, 20));
  const attributes: StunAttribute[] = [];
  let integrityOffset = -1;
  let fingerprintOffset = -1;
  let off = HEADER_LENGTH;
  const end = buf.length;
  while (off < end) {
    if (off + 4 > end) return { ok: false, reason: 'truncated-attribute' };
    const atype = buf.readUInt16BE(off);
    const alen = buf.readUInt16BE(off + 2);
    const padded = (alen + 3) & ~3;
    if (off + 4 + padded > end) return { ok: false, reason: 'truncated-attribute' };
    if (fingerprintOffset >= 0) return { ok: false, reason: 'attribute-after-fingerprint' };
    const value = Buffer.from(buf.subarray(off + 4, off + 4 + alen));
    if (atype === StunAttr.Fingerprint) {
      if (alen !== 4) return { ok: false, reason: 'bad-fingerprint-length' };
      fingerprintOffset = off;
    } else if (integrityOffset >= 0) {
      // RFC 8489 §14.5: attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are ignored.
      off += 4 + padded;
      continue;
    } else if (atype === StunAttr.MessageIntegrity) {
      if (alen !== 20) return { ok: false, reason: 'bad-integrity-length' };
      integrityOffset = off;
    }
    attributes.push({ type: atype, value });
    off += 4 + padded;
  }
  if (fingerprintOffset >= 0) {
    const expected = computeFingerprint(buf, fingerprintOffset);
    if (buf.readUInt32BE(fingerprintOffset + 4) !== expected) return { ok: false, reason: 'bad-fingerprint' };
  }
  return { ok: true, message: { method, cls, transactionId, attributes, raw: buf, integrityOffset, fingerprintOffset } };
}

export function getAttr(msg: StunMessage, type: number): Buffer | undefined {
  for (const a of msg.attributes) if (a.type === type) return a.value;
  return undefined;
}

export function getAttrs(msg: StunMessage, type: number): Buffer[] {
  return msg.attributes.filter((a) => a.type === type).map((a) => a.value);
}

export function getString(msg: StunMessage, type: number): string | undefined {
  const v = getAttr(msg, type);
  return v === undefined ? undefined : v.toString('utf8');
}

export function getUint32(msg: StunMessage, type: number): number | undefined {
  const v = getAttr(msg, type);
  return v !== undefined && v.length === 4 ? v.readUInt32BE(0) : undefined;
}

// ---------------------------------------------------------------- encode

export interface EncodeOptions {
  /** Long-term or short-term key: appends MESSAGE-INTEGRITY (HMAC-SHA1). */
  integrityKey?: Buffer;
  /** Appends FINGERPRINT. */
  fingerprint?: boolean;
}

export function encodeStun(msg: StunMessage, opts: EncodeOptions = {}): Buffer {
  if (msg.transactionId.length !== 12) throw new Error('transaction id must be 12 bytes');
  const parts: Buffer[] = [];
  let bodyLen = 0;
  for (const a of msg.attributes) {
    const padded = (a.value.length + 3) & ~3;
    const b = Buffer.alloc(4 + padded);
    b.writeUInt16BE(a.type, 0);
    b.writeUInt16BE(a.value.length, 2);
    a.value.copy(b, 4);
    parts.push(b);
    bodyLen += b.length;
  }
  const total = HEADER_LENGTH + bodyLen + (opts.integrityKey ? 24 : 0) + (opts.fingerprint ? 8 : 0);
  if (total - HEADER_LENGTH > 0xffff) throw new Error('STUN message too long');
  const out = Buffer.alloc(total);
  out.writeUInt16BE(encodeMessageType(msg.method, msg.cls), 0);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  msg.transactionId.copy(out, 8);
  let off = HEADER_LENGTH;
  for (const p of parts) {
    p.copy(out, off);
    off += p.length;
  }
  if (opts.integrityKey) {
    out.writeUInt16BE(off + 24 - HEADER_LENGTH, 2);
    const mac = createHmac('sha1', opts.integrityKey).update(out.subarray(0, off)).digest();
    out.writeUInt16BE(StunAttr.MessageIntegrity, off);
    out.writeUInt16BE(20, off + 2);
    mac.copy(out, off + 4);
    off += 24;
  }
  if (opts.fingerprint) {
    out.writeUInt16BE(off + 8 - HEADER_LENGTH, 2);
    const fp = computeFingerprint(out, off);
    out.writeUInt16BE(StunAttr.Fingerprint, off);
    out.writeUInt16BE(4, off + 2);
    out.writeUInt32BE(fp, off + 4);
    off += 8;
  }
  out.writeUInt16BE(off - HEADER_LENGTH, 2);
  return out;
}

// ---------------------------------------------------------------- integrity & fingerprint

/** Long-term credential key: MD5(username ":" realm ":" password) (RFC 8489 §9.2.2, no SASLprep). */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest();
}

/** Short-term credential key: the password itself (RFC 8489 §9.1.1, no OpaqueString). */
export function shortTermKey(password: string): Buffer {
  return Buffer.from(password, 'utf8');
}

/** HMAC-SHA1 over the message up to MESSAGE-INTEGRITY with the length field covering it. */
export function computeIntegrity(raw: Buffer, integrityOffset: number, key: Buffer): Buffer {
  const head = Buffer.from(raw.subarray(0, integrityOffset));
  head.writeUInt16BE(integrityOffset + 24 - HEADER_LENGTH, 2);
  return createHmac('sha1', key).update(head).digest();
}

export function verifyIntegrity(msg: DecodedStun, key: Buffer): boolean {
  if (msg.integrityOffset < 0) return false;
  const expected = computeIntegrity(msg.raw, msg.integrityOffset, key);
  const got = msg.raw.subarray(msg.integrityOffset + 4, msg.integrityOffset + 24);
  return got.length === 20 && timingSafeEqual(expected, got);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC32 (xor 0x5354554e) over the message up to FINGERPRINT with the length field covering it. */
export function computeFingerprint(raw: Buffer, fingerprintOffset: number): number {
  const head = Buffer.from(raw.subarray(0, fingerprintOffset));
  head.writeUInt16BE(fingerprintOffset + 8 - HEADER_LENGTH, 2);
  return (crc32(head) ^ FINGERPRINT_XOR) >>> 0;
}

// ---------------------------------------------------------------- attribute values

function parseIPv4(s: string): Buffer | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const v = Number(m[i + 1]);
    if (v > 255) return null;
    b[i] = v;
  }
  return b;
}

function parseIPv6(s: string): Buffer | null {
  let str = s;
  const pct = str.indexOf('%');
  if (pct >= 0) str = str.slice(0, pct);
  // Embedded IPv4 (::ffff:1.2.3.4): rewrite the dotted tail as two hex groups.
  if (str.includes('.')) {
    const lastColon = str.lastIndexOf(':');
    if (lastColon < 0) return null;
    const v4 = parseIPv4(str.slice(lastColon + 1));
    if (!v4) return null;
    str = `${str.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const halves = str.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return null;
  let groups: number[];
  if (halves.length === 2) {
    const known = head.length + rest.length;
    if (known > 7) return null;
    groups = [...head, ...new Array<number>(8 - known).fill(0), ...rest];
  } else {
    groups = head;
    if (groups.length !== 8) return null;
  }
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

function formatIPv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] === '0') {
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen && j - i > 1) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    } else i++;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

/** Raw IP bytes for an address string (4 or 16 bytes), or null if it is not an IP literal. */
export function ipToBytes(address: string): Buffer | null {
  return address.includes(':') ? parseIPv6(address) : parseIPv4(address);
}

export function bytesToIp(b: Buffer): string {
  return b.length === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : formatIPv6(b);
}

function xorMask(transactionId: Buffer, len: number): Buffer {
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(mask, 4);
  return mask.subarray(0, len);
}

export function encodeAddress(addr: TransportAddress): Buffer {
  const ip = ipToBytes(addr.address);
  if (!ip) throw new Error(`not an IP address: ${addr.address}`);
  const b = Buffer.alloc(4 + ip.length);
  b[1] = ip.length === 4 ? 0x01 : 0x02;
  b.writeUInt16BE(addr.port & 0xffff, 2);
  ip.copy(b, 4);
  return b;
}

export function decodeAddress(value: Buffer): TransportAddress | null {
  if (value.length < 4) return null;
  const fam = value[1];
  const port = value.readUInt16BE(2);
  if (fam === 0x01 && value.length === 8) return { family: 4, address: bytesToIp(value.subarray(4, 8)), port };
  if (fam === 0x02 && value.length === 20) return { family: 6, address: bytesToIp(value.subarray(4, 20)), port };
  return null;
}

export function encodeXorAddress(addr: TransportAddress, transactionId: Buffer): Buffer {
  const b = encodeAddress(addr);
  b.writeUInt16BE((addr.port ^ (MAGIC_COOKIE >>> 16)) & 0xffff, 2);
  const mask = xorMask(transactionId, b.length - 4);
  for (let i = 0; i < mask.length; i++) b[4 + i] = b[4 + i]! ^ mask[i]!;
  return b;
}

export function decodeXorAddress(value: Buffer, transactionId: Buffer): TransportAddress | null {
  if (value.length !== 8 && value.length !== 20) return null;
  const copy = Buffer.from(value);
  copy.writeUInt16BE((copy.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16)) & 0xffff, 2);
  const mask = xorMask(transactionId, copy.length - 4);
  for (let i = 0; i < mask.length; i++) copy[4 + i] = copy[4 + i]! ^ mask[i]!;
  return decodeAddress(copy);
}

export function encodeErrorCode(code: number, reason: string): Buffer {
  const r = Buffer.from(reason, 'utf8');
  const b = Buffer.alloc(4 + r.length);
  b[2] = Math.floor(code / 100) & 0x07;
  b[3] = code % 100;
  r.copy(b, 4);
  return b;
}

export function decodeErrorCode(value: Buffer): { code: number; reason: string } | null {
  if (value.length < 4) return null;
  return { code: (value[2]! & 0x07) * 100 + value[3]!, reason: value.subarray(4).toString('utf8') };
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** CHANNEL-NUMBER value: 16-bit number + 16 bits RFFU. */
export function encodeChannelNumber(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(n & 0xffff, 0);
  return b;
}

export function decodeChannelNumber(value: Buffer): number | null {
  return value.length === 4 ? value.readUInt16BE(0) : null;
}

/** REQUESTED-TRANSPORT value: protocol number (17 = UDP) + 24 bits RFFU. */
export function encodeRequestedTransport(protocol = 17): Buffer {
  const b = Buffer.alloc(4);
  b[0] = protocol;
  return b;
}

// ---------------------------------------------------------------- ChannelData

export function encodeChannelData(channel: number, data: Buffer, pad = false): Buffer {
  const len = pad ? (data.length + 3) & ~3 : data.length;
  const b = Buffer.alloc(4 + len);
  b.writeUInt16BE(channel, 0);
  b.writeUInt16BE(data.length, 2);
  data.copy(b, 4);
  return b;
}

export function decodeChannelData(buf: Buffer): ChannelData | null {
  if (buf.length < 4) return null;
  const channel = buf.readUInt16BE(0);
  if ((channel & 0xc000) !== 0x4000) return null;
  const len = buf.readUInt16BE(2);
  if (4 + len > buf.length) return null;
  // Over UDP the message may carry up to 3 bytes of padding; anything longer is malformed.
  if (buf.length - (4 + len) > 3) return null;
  return { channel, data: Buffer.from(buf.subarray(4, 4 + len)) };
}
