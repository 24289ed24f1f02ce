// Frames inside a packet body, and the commands carried on the command stream. Pure codecs.
// A body is a sequence of frames; a 0x00 byte (PADDING) ends it, so zero padding to 64·2ⁿ needs no length.
import { Reader, utf8, Writer } from './bytes.ts';
import { MAX_ACK_RANGES, MAX_MESSAGE_SIZE, PATH_CHALLENGE_SIZE } from './constants.ts';
import { WireError } from './errors.ts';

export const FrameType = {
  Padding: 0x00,
  Ping: 0x01,
  Ack: 0x02,
  Stream: 0x03,
  PathChallenge: 0x04,
  PathResponse: 0x05,
  Close: 0x06,
  Probe: 0x07,
} as const;

/** Acknowledged packet-number ranges, highest first: [from, to] inclusive. */
export type AckRanges = Array<[number, number]>;

export type Frame =
  | { type: 'ping' }
  /** A ping that does not move the return address: keepalives on backup paths (QUIC §9.1 probing). */
  | { type: 'probe' }
  | { type: 'ack'; delayMs: number; ranges: AckRanges }
  | { type: 'stream'; stream: number; seq: number; offset: number; fin: boolean; data: Uint8Array }
  | { type: 'path-challenge'; data: Uint8Array }
  | { type: 'path-response'; data: Uint8Array }
  | { type: 'close'; reason: string };

/** Probing frames test a path without moving the return address to it. */
export function isProbing(f: Frame): boolean {
  return f.type === 'probe' || f.type === 'path-challenge' || f.type === 'path-response' || f.type === 'ack';
}

export function encodeFrame(w: Writer, f: Frame): void {
  switch (f.type) {
    case 'ping':
      w.u8(FrameType.Ping);
      return;
    case 'probe':
      w.u8(FrameType.Probe);
      return;
    case 'ack': {
      w.u8(FrameType.Ack).varint(f.ranges[0]![1]).varint(f.delayMs).varint(f.ranges.length - 1);
      let prevFrom = f.ranges[0]![0];
      w.varint(f.ranges[0]![1] - prevFrom);
      for (let i = 1; i < f.ranges.length; i++) {
        const [from, to] = f.ranges[i]!;
        w.varint(prevFrom - to - 2).varint(to - from); // gap and length, as in QUIC §19.3.1
        prevFrom = from;
      }
      return;
    }
    case 'stream':
      w.u8(FrameType.Stream).varint(f.stream).varint(f.seq).varint(f.offset).u8(f.fin ? 1 : 0).varBytes(f.data);
      return;
    case 'path-challenge':
      w.u8(FrameType.PathChallenge).bytes(f.data);
      return;
    case 'path-response':
      w.u8(FrameType.PathResponse).bytes(f.data);
      return;
    case 'close':
      w.u8(FrameType.Close).varBytes(utf8Prefix(f.reason, MAX_REASON));
      return;
  }
}

/** Close and path-close reasons: human text, cut to this many UTF-8 bytes on the way out. */
const MAX_REASON = 200;

/** The longest prefix of `s` that fits `max` bytes of UTF-8, cut at a character boundary. The limits are in
 * bytes on the wire, so cutting UTF-16 units (String.slice) lets non-ASCII text exceed them and the peer drops it. */
function utf8Prefix(s: string, max: number): Uint8Array {
  const b = utf8(s);
  if (b.length <= max) return b;
  let n = max;
  while (n > 0 && (b[n]! & 0xc0) === 0x80) n--; // b[n] continues a character that started before the cut
  return b.subarray(0, n);
}

/** Encoded size of a frame (used by the packer to fill a body). */
export function frameSize(f: Frame): number {
  const w = new Writer(64);
  encodeFrame(w, f.type === 'stream' ? { ...f, data: new Uint8Array(0) } : f);
  return w.len + (f.type === 'stream' ? f.data.length + (varLen(f.data.length) - 1) : 0);
}

function varLen(n: number): number {
  return n < 0x40 ? 1 : n < 0x4000 ? 2 : n < 0x4000_0000 ? 4 : 8;
}

/** Parses a decrypted body. Throws WireError on anything malformed. */
export function decodeFrames(body: Uint8Array): Frame[] {
  const r = new Reader(body);
  const out: Frame[] = [];
  while (r.remaining > 0) {
    const t = r.u8();
    switch (t) {
      case FrameType.Padding:
        for (let i = r.pos; i < body.length; i++) if (body[i] !== 0) throw new WireError('frame', 'data after padding');
        return out;
      case FrameType.Ping:
        out.push({ type: 'ping' });
        break;
      case FrameType.Probe:
        out.push({ type: 'probe' });
        break;
      case FrameType.Ack: {
        const largest = r.varint();
        const delayMs = r.varint();
        const extra = r.varint();
        if (extra >= MAX_ACK_RANGES) throw new WireError('frame', `${extra + 1} ack ranges`);
        const first = r.varint();
        if (first > largest) throw new WireError('frame', 'ack range below zero');
        const ranges: AckRanges = [[largest - first, largest]];
        let prevFrom = largest - first;
        for (let i = 0; i < extra; i++) {
          const gap = r.varint();
          const len = r.varint();
          const to = prevFrom - gap - 2;
          const from = to - len;
          if (from < 0) throw new WireError('frame', 'ack range below zero');
          ranges.push([from, to]);
          prevFrom = from;
        }
        out.push({ type: 'ack', delayMs, ranges });
        break;
      }
      case FrameType.Stream: {
        const stream = r.varint();
        const seq = r.varint();
        const offset = r.varint();
        const fin = r.u8();
        if (fin > 1) throw new WireError('frame', 'stream flags');
        const data = r.varBytes(MAX_MESSAGE_SIZE);
        if (offset + data.length > MAX_MESSAGE_SIZE) throw new WireError('frame', 'message too large');
        out.push({ type: 'stream', stream, seq, offset, fin: fin === 1, data });
        break;
      }
      case FrameType.PathChallenge:
        out.push({ type: 'path-challenge', data: r.bytes(PATH_CHALLENGE_SIZE) });
        break;
      case FrameType.PathResponse:
        out.push({ type: 'path-response', data: r.bytes(PATH_CHALLENGE_SIZE) });
        break;
      case FrameType.Close:
        out.push({ type: 'close', reason: r.string(MAX_REASON) });
        break;
      default:
        throw new WireError('frame', `unknown frame type 0x${t.toString(16)}`);
    }
  }
  return out;
}

// ---- Commands: messages on the command stream (ordered, reliable) ----

export type StationState = 'active' | 'leaving';

export type Command =
  /** The initiator's identity proof, the first thing it sends under the new keys. */
  | { type: 'hello'; signature: Uint8Array; name: string }
  /** The sender's stations now: where paths to it may be built. Sent on every change. */
  | { type: 'stations'; stations: Array<{ id: string; state: StationState }> }
  /** One in-band setup message for the path between offerer station and answerer station (opaque to the core). */
  | { type: 'path-signal'; key: string; offererStation: string; answererStation: string; data: Uint8Array }
  /** The sender closed, refused or abandoned a path (or its setup). */
  | { type: 'path-close'; key: string; reason: string };

const CommandType = { hello: 1, stations: 2, 'path-signal': 3, 'path-close': 4 } as const;
const MAX_NAME = 64;
const MAX_ID = 64;
const MAX_SIGNAL = 64 * 1024;
const MAX_STATIONS = 32;

export function encodeCommand(c: Command): Uint8Array {
  const w = new Writer(128).u8(CommandType[c.type]);
  switch (c.type) {
    case 'hello':
      w.varBytes(c.signature).varBytes(utf8Prefix(c.name, MAX_NAME));
      break;
    case 'stations':
      w.varint(c.stations.length);
      for (const s of c.stations) w.string(s.id).u8(s.state === 'active' ? 0 : 1);
      break;
    case 'path-signal':
      w.string(c.key).string(c.offererStation).string(c.answererStation).varBytes(c.data);
      break;
    case 'path-close':
      w.string(c.key).varBytes(utf8Prefix(c.reason, MAX_REASON));
      break;
  }
  return w.finish();
}

export function decodeCommand(b: Uint8Array): Command {
  const r = new Reader(b);
  const t = r.u8();
  let c: Command;
  switch (t) {
    case CommandType.hello:
      c = { type: 'hello', signature: r.varBytes(64).slice(), name: r.string(MAX_NAME) };
      break;
    case CommandType.stations: {
      const n = r.varint();
      if (n > MAX_STATIONS) throw new WireError('range', `${n} stations`);
      const stations: Array<{ id: string; state: StationState }> = [];
      for (let i = 0; i < n; i++) {
        const id = r.string(MAX_ID);
        const st = r.u8();
        if (st > 1) throw new WireError('range', 'station state');
        stations.push({ id, state: st === 0 ? 'active' : 'leaving' });
      }
      c = { type: 'stations', stations };
      break;
    }
    case CommandType['path-signal']:
      c = {
        type: 'path-signal',
        key: r.string(2 * MAX_ID + 1),
        offererStation: r.string(MAX_ID),
        answererStation: r.string(MAX_ID),
        data: r.varBytes(MAX_SIGNAL).slice(),
      };
      break;
    case CommandType['path-close']:
      c = { type: 'path-close', key: r.string(2 * MAX_ID + 1), reason: r.string(MAX_REASON) };
      break;
    default:
      throw new WireError('frame', `unknown command 0x${t.toString(16)}`);
  }
  if (r.remaining !== 0) throw new WireError('frame', 'trailing bytes after command');
  return c;
}
