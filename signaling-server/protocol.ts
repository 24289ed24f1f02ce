// Wire protocol of the introduction-only signaling server (JSON text frames over one WebSocket).
//
// Keep this file free of Node imports: the browser imports it (the client validates what the server sends
// with `parseServerMessage`, the server validates everything a client sends with `parseClientMessage`).
//
// The server only introduces two nodes and relays opaque blobs between them; it never sees session keys.

/** Largest accepted frame, in bytes (UTF-8). The server also sets ws `maxPayload` to this. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Room and node ids: 1–64 chars of `[A-Za-z0-9_-]`. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Display names: at most this many printable characters (code points). */
export const MAX_NAME_CHARS = 40;
/** Optional client-chosen correlation tag, echoed in errors (and pongs): string of 1–64 visible ASCII chars, or a safe integer ≥ 0. */
export const REF_PATTERN = /^[\x21-\x7e]{1,64}$/;

export type SignalKind = 'intro' | 'resume';
export type Ref = string | number;

// ---------------------------------------------------------------------------------------------------------------
// client → server

export interface JoinMessage {
  t: 'join';
  room: string;
  node: string;
  name: string;
  ref?: Ref;
}
export interface SignalMessage {
  t: 'signal';
  to: string;
  kind: SignalKind;
  /** Any JSON value; opaque to the server. */
  data: unknown;
  ref?: Ref;
}
export interface LeaveMessage {
  t: 'leave';
  ref?: Ref;
}
export interface PingMessage {
  t: 'ping';
  ref?: Ref;
}
export type ClientMessage = JoinMessage | SignalMessage | LeaveMessage | PingMessage;

// ---------------------------------------------------------------------------------------------------------------
// server → client

export interface PeerInfo {
  node: string;
  name: string;
}
export interface WelcomeMessage {
  t: 'welcome';
  room: string;
  node: string;
  /** The other members of the room (never the joiner itself). */
  peers: PeerInfo[];
}
export interface PeerJoinedMessage {
  t: 'peer-joined';
  node: string;
  name: string;
}
export interface PeerLeftMessage {
  t: 'peer-left';
  node: string;
}
export interface RelayedSignalMessage {
  t: 'signal';
  from: string;
  kind: SignalKind;
  data: unknown;
}
export interface PongMessage {
  t: 'pong';
  ref?: Ref;
}
export interface ErrorMessage {
  t: 'error';
  code: ErrorCode;
  message: string;
  /** The `ref` of the client message that caused the error, when it had one. */
  ref?: Ref;
}
export type ServerMessage =
  | WelcomeMessage
  | PeerJoinedMessage
  | PeerLeftMessage
  | RelayedSignalMessage
  | PongMessage
  | ErrorMessage;

// ---------------------------------------------------------------------------------------------------------------
// error codes (stable; clients may switch on them)

export const ERROR_CODES = [
  'ERR_MALFORMED', // not JSON, binary frame, invalid UTF-8, or wrong shape
  'ERR_TOO_LARGE', // frame > 64 KiB (the socket is closed with 1009)
  'ERR_RATE_LIMITED', // token bucket per connection exhausted; excess dropped, sustained abuse closes (1008)
  'ERR_NOT_JOINED', // signal/leave before join
  'ERR_ALREADY_JOINED', // second join on one connection (leave first)
  'ERR_ROOM_FULL', // room has maxPeersPerRoom members
  'ERR_TOO_MANY_ROOMS', // server has maxRooms rooms and this join would create one more
  'ERR_UNKNOWN_PEER', // signal to a node that is not (another member) in the room
  'ERR_DUPLICATE_NODE', // node id already present in the room
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && (ERROR_CODES as readonly string[]).includes(x);
}

export type ParseResult<T> = { ok: true; msg: T } | { ok: false; code: ErrorCode; message: string; ref?: Ref };

// ---------------------------------------------------------------------------------------------------------------
// validation helpers

type Obj = Record<string, unknown>;

function isPlainObject(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const has = (o: Obj, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export function isValidId(x: unknown): x is string {
  return typeof x === 'string' && ID_PATTERN.test(x);
}

// Control characters, lone surrogates, unassigned/private-use code points, line/paragraph separators,
// zero-width space and bidi-override characters (display spoofing). ZWJ/ZWNJ stay allowed (emoji, scripts).
const NON_PRINTABLE = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}\u2028\u2029\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/u;

export function isValidName(x: unknown): x is string {
  if (typeof x !== 'string') return false;
  if (x.length > MAX_NAME_CHARS * 2) return false; // cheap bound before counting code points
  if ([...x].length > MAX_NAME_CHARS) return false;
  // A lone surrogate is not matched by \p{Cs} under /u in every engine; check well-formedness explicitly.
  for (let i = 0; i < x.length; i++) {
    const c = x.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = x.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return !NON_PRINTABLE.test(x);
}

export function isValidRef(x: unknown): x is Ref {
  if (typeof x === 'string') return REF_PATTERN.test(x);
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** UTF-8 byte length of a string, without allocating when the answer is obvious. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function fail<T>(code: ErrorCode, message: string, ref?: Ref): ParseResult<T> {
  return ref === undefined ? { ok: false, code, message } : { ok: false, code, message, ref };
}

function checkKeys(o: Obj, allowed: readonly string[]): string | null {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return k;
  return null;
}

/** Short, safe rendering of a client-supplied key for an error message (never raw content beyond 24 chars). */
function show(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 24 ? `${clean.slice(0, 24)}…` : clean);
}

let decoder: TextDecoder | null = null;

function decodeText(raw: string | Uint8Array | ArrayBuffer): string | null {
  if (typeof raw === 'string') return raw;
  decoder ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return decoder.decode(raw);
  } catch {
    return null;
  }
}

export interface ParseOptions {
  /** Frame size limit in bytes; defaults to MAX_FRAME_BYTES. */
  maxBytes?: number;
}

/**
 * Validate one frame a client sent. Pure, never throws: every input yields either a typed message or a typed
 * error (`ERR_TOO_LARGE` for oversized input, `ERR_MALFORMED` for everything else that is wrong).
 * Unknown fields are rejected, so a typo does not silently change meaning.
 */
export function parseClientMessage(raw: string | Uint8Array | ArrayBuffer, opts: ParseOptions = {}): ParseResult<ClientMessage> {
  try {
    return parseClientMessageUnsafe(raw, opts.maxBytes ?? MAX_FRAME_BYTES);
  } catch {
    // Defensive only: nothing above is expected to throw.
    return fail('ERR_MALFORMED', 'message could not be parsed');
  }
}

function parseClientMessageUnsafe(raw: string | Uint8Array | ArrayBuffer, maxBytes: number): ParseResult<ClientMessage> {
  let bytes: number;
  if (typeof raw === 'string') {
    // UTF-8 length >= UTF-16 length, and <= 3 × UTF-16 length.
    bytes = raw.length > maxBytes ? maxBytes + 1 : raw.length * 3 <= maxBytes ? raw.length : utf8Length(raw);
  } else if (raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)) {
    bytes = raw.byteLength;
  } else {
    return fail('ERR_MALFORMED', 'frame must be text');
  }
  if (bytes > maxBytes) return fail('ERR_TOO_LARGE', `frame of ${bytes} bytes exceeds the ${maxBytes}-byte limit`);

  const text = decodeText(raw);
  if (text === null) return fail('ERR_MALFORMED', 'frame is not valid UTF-8');

  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return fail('ERR_MALFORMED', 'frame is not JSON');
  }
  if (!isPlainObject(v)) return fail('ERR_MALFORMED', 'message must be a JSON object');

  let ref: Ref | undefined;
  if (has(v, 'ref')) {
    if (!isValidRef(v.ref)) return fail('ERR_MALFORMED', 'ref must be 1-64 visible ASCII chars or an integer >= 0');
    ref = v.ref;
  }
  const withRef = <T extends object>(m: T): T => (ref === undefined ? m : { ...m, ref });

  if (!has(v, 't')) return fail('ERR_MALFORMED', 'missing message type "t"', ref);
  const t = v.t;
  switch (t) {
    case 'join': {
      const extra = checkKeys(v, ['t', 'ref', 'room', 'node', 'name']);
      if (extra !== null) return fail('ERR_MALFORMED', `join: unknown field ${show(extra)}`, ref);
      if (!isValidId(v.room)) return fail('ERR_MALFORMED', 'join: room must be 1-64 chars [A-Za-z0-9_-]', ref);
      if (!isValidId(v.node)) return fail('ERR_MALFORMED', 'join: node must be 1-64 chars [A-Za-z0-9_-]', ref);
      if (!isValidName(v.name)) return fail('ERR_MALFORMED', `join: name must be a string of at most ${MAX_NAME_CHARS} printable chars`, ref);
      return { ok: true, msg: withRef<JoinMessage>({ t: 'join', room: v.room, node: v.node, name: v.name }) };
    }
    case 'signal': {
      const extra = checkKeys(v, ['t', 'ref', 'to', 'kind', 'data']);
      if (extra !== null) return fail('ERR_MALFORMED', `signal: unknown field ${show(extra)}`, ref);
      if (!isValidId(v.to)) return fail('ERR_MALFORMED', 'signal: to must be 1-64 chars [A-Za-z0-9_-]', ref);
      if (v.kind !== 'intro' && v.kind !== 'resume') return fail('ERR_MALFORMED', 'signal: kind must be "intro" or "resume"', ref);
      if (!has(v, 'data')) return fail('ERR_MALFORMED', 'signal: missing data', ref);
      return { ok: true, msg: withRef<SignalMessage>({ t: 'signal', to: v.to, kind: v.kind, data: v.data }) };
    }
    case 'leave':
    case 'ping': {
      const extra = checkKeys(v, ['t', 'ref']);
      if (extra !== null) return fail('ERR_MALFORMED', `${t}: unknown field ${show(extra)}`, ref);
      return { ok: true, msg: withRef<LeaveMessage | PingMessage>({ t }) };
    }
    default:
      return fail('ERR_MALFORMED', typeof t === 'string' ? `unknown message type ${show(t)}` : 'message type "t" must be a string', ref);
  }
}

/**
 * Validate one frame the server sent (used by the client; lenient about extra fields so an older client keeps
 * working with a newer server). Never throws.
 */
export function parseServerMessage(raw: unknown): ServerMessage | null {
  let v: unknown;
  try {
    const text = typeof raw === 'string' ? raw : raw instanceof ArrayBuffer || ArrayBuffer.isView(raw) ? decodeText(raw as Uint8Array) : null;
    if (text === null) return null;
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isPlainObject(v)) return null;
  const isPeer = (p: unknown): p is PeerInfo => isPlainObject(p) && typeof p.node === 'string' && typeof p.name === 'string';
  const ref = isValidRef(v.ref) ? v.ref : undefined;
  switch (v.t) {
    case 'welcome':
      if (typeof v.room !== 'string' || typeof v.node !== 'string' || !Array.isArray(v.peers) || !v.peers.every(isPeer)) return null;
      return { t: 'welcome', room: v.room, node: v.node, peers: v.peers.map((p) => ({ node: p.node, name: p.name })) };
    case 'peer-joined':
      if (typeof v.node !== 'string' || typeof v.name !== 'string') return null;
      return { t: 'peer-joined', node: v.node, name: v.name };
    case 'peer-left':
      if (typeof v.node !== 'string') return null;
      return { t: 'peer-left', node: v.node };
    case 'signal':
      if (typeof v.from !== 'string' || (v.kind !== 'intro' && v.kind !== 'resume') || !has(v, 'data')) return null;
      return { t: 'signal', from: v.from, kind: v.kind, data: v.data };
    case 'pong':
      return ref === undefined ? { t: 'pong' } : { t: 'pong', ref };
    case 'error':
      if (!isErrorCode(v.code) || typeof v.message !== 'string') return null;
      return ref === undefined ? { t: 'error', code: v.code, message: v.message } : { t: 'error', code: v.code, message: v.message, ref };
    default:
      return null;
  }
}
