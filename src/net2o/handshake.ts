// The handshake: two stateless packets over the first path, then the initiator's signed hello under the new
// keys. Ephemeral X25519 + Ed25519 identities + the invite secret (known only to the two nodes: it travels in
// the URL fragment). The responder allocates nothing until the first packet proves the secret.
//
//   init  (I→R, addr = setup tag 0, pn 0):  1 ‖ v ‖ eI ‖ idI ‖ tagI            MAC_invite
//   reply (R→I, addr = tagI,  pn 0):        2 ‖ v ‖ eR ‖ idR ‖ tagR ‖ sigR      MAC_invite
//   reject(R→I, addr = tagI,  pn 0):        3 ‖ v ‖ reason                       (no key: advisory, see REJECT_GRACE_MS)
//   hello (I→R, first encrypted packet):    command 'hello' with sigI
//
//   h1 = H(init body), h2 = H(h1 ‖ reply body without sigR)
//   prk = H(DH(eI, eR) ‖ h2; key = K_kdf);  k_i2r = H("net2o i2r"; prk), k_r2i = H("net2o r2i"; prk)
//   sigR = Sign_idR("net2o-r" ‖ h2), sigI = Sign_idI("net2o-i" ‖ h2)
import { bytesEqual, concatBytes, Reader, utf8, Writer } from './bytes.ts';
import {
  ED25519_PUBLIC_KEY_SIZE,
  ED25519_SIGNATURE_SIZE,
  KEY_SIZE,
  MAC_SIZE,
  SETUP_CONNECTION_TAG,
  TAG_STATELESS,
  X25519_KEY_SIZE,
} from './constants.ts';
import type { Crypto, KeyPair } from './crypto.ts';
import { WireError } from './errors.ts';
import { packetSize, sizeExponentFor, writeHeader, type DecodedPacket } from './wire.ts';

export const HANDSHAKE_VERSION = 1;
const MSG_INIT = 1;
const MSG_REPLY = 2;
const MSG_REJECT = 3;
export const REJECT_WRONG_SECRET = 1;

export interface InviteKeys {
  mac: Uint8Array;
  kdf: Uint8Array;
}

export function inviteKeys(c: Crypto, secret: Uint8Array): InviteKeys {
  return {
    mac: c.hash(utf8('net2o invite mac'), secret, KEY_SIZE),
    kdf: c.hash(utf8('net2o invite kdf'), secret, KEY_SIZE),
  };
}

export interface Init {
  kind: 'init';
  ephemeral: Uint8Array;
  identity: Uint8Array;
  tag: number;
  body: Uint8Array; // the exact fields, for the transcript
}
export interface Reply {
  kind: 'reply';
  ephemeral: Uint8Array;
  identity: Uint8Array;
  tag: number;
  signature: Uint8Array;
  signed: Uint8Array; // body without the signature, for the transcript
}
export interface Reject {
  kind: 'reject';
  reason: number;
}
export type HandshakeMessage = Init | Reply | Reject;

function seal(c: Crypto, macKey: Uint8Array | null, toTag: number, fields: Uint8Array): Uint8Array {
  const e = sizeExponentFor(fields.length);
  const pkt = new Uint8Array(packetSize(e));
  const ad = writeHeader(pkt, { qos: 0, sizeExponent: e, tags: TAG_STATELESS, connectionTag: toTag, packetNumber: 0 });
  const bodyStart = pkt.length - MAC_SIZE - (64 << e);
  pkt.set(fields, bodyStart);
  const body = pkt.subarray(bodyStart, pkt.length - MAC_SIZE);
  pkt.set(c.hash(concatBytes(ad, body), macKey, MAC_SIZE), pkt.length - MAC_SIZE);
  return pkt;
}

export function encodeInit(
  c: Crypto,
  keys: InviteKeys,
  eph: Uint8Array,
  identity: Uint8Array,
  tag: number,
): { packet: Uint8Array; h1: Uint8Array } {
  const fields = new Writer(80).u8(MSG_INIT).u8(HANDSHAKE_VERSION).bytes(eph).bytes(identity).bytes(tagBytes(tag)).finish();
  return { packet: seal(c, keys.mac, SETUP_CONNECTION_TAG, fields), h1: c.hash(fields, null, 32) };
}

export function encodeReply(
  c: Crypto,
  keys: InviteKeys,
  toTag: number,
  eph: Uint8Array,
  identity: KeyPair,
  tag: number,
  h1: Uint8Array,
): { packet: Uint8Array; h2: Uint8Array } {
  const signed = new Writer(80).u8(MSG_REPLY).u8(HANDSHAKE_VERSION).bytes(eph).bytes(identity.publicKey).bytes(tagBytes(tag)).finish();
  const h2 = transcript2(c, h1, signed);
  const sig = c.sign(concatBytes(utf8('net2o-r'), h2), identity.privateKey);
  return { packet: seal(c, keys.mac, toTag, concatBytes(signed, sig)), h2 };
}

export function encodeReject(c: Crypto, toTag: number, reason: number): Uint8Array {
  return seal(c, null, toTag, new Uint8Array([MSG_REJECT, HANDSHAKE_VERSION, reason]));
}

export function transcript1(c: Crypto, init: Init): Uint8Array {
  return c.hash(init.body, null, 32);
}
export function transcript2(c: Crypto, h1: Uint8Array, replySigned: Uint8Array): Uint8Array {
  return c.hash(concatBytes(h1, replySigned), null, 32);
}

/** Verifies a stateless packet's MAC (with the invite key, or unkeyed for a reject) and parses it. */
export function openHandshake(c: Crypto, keys: InviteKeys, pkt: DecodedPacket): HandshakeMessage | 'bad-mac' {
  if ((pkt.tags & TAG_STATELESS) === 0) throw new WireError('tags', 'not a setup packet');
  const body = pkt.sealed.subarray(0, pkt.sealed.length - MAC_SIZE);
  const mac = pkt.sealed.subarray(pkt.sealed.length - MAC_SIZE);
  const r = new Reader(body);
  const type = r.u8();
  const key = type === MSG_REJECT ? null : keys.mac;
  // The MAC first: nothing unauthenticated is acted upon, not even the version byte.
  if (!bytesEqual(c.hash(concatBytes(pkt.ad, body), key, MAC_SIZE), mac)) return 'bad-mac';
  const version = r.u8();
  if (version !== HANDSHAKE_VERSION) throw new WireError('range', `handshake version ${version}`);
  switch (type) {
    case MSG_INIT: {
      const ephemeral = r.bytes(X25519_KEY_SIZE).slice();
      const identity = r.bytes(ED25519_PUBLIC_KEY_SIZE).slice();
      const tag = readTag(r);
      return { kind: 'init', ephemeral, identity, tag, body: body.slice(0, r.pos) };
    }
    case MSG_REPLY: {
      const ephemeral = r.bytes(X25519_KEY_SIZE).slice();
      const identity = r.bytes(ED25519_PUBLIC_KEY_SIZE).slice();
      const tag = readTag(r);
      const signed = body.slice(0, r.pos);
      const signature = r.bytes(ED25519_SIGNATURE_SIZE).slice();
      return { kind: 'reply', ephemeral, identity, tag, signature, signed };
    }
    case MSG_REJECT:
      return { kind: 'reject', reason: r.u8() };
    default:
      throw new WireError('frame', `handshake message ${type}`);
  }
}

export interface SessionKeys {
  send: Uint8Array;
  receive: Uint8Array;
}

export function deriveKeys(
  c: Crypto,
  keys: InviteKeys,
  myEphemeral: KeyPair,
  theirEphemeral: Uint8Array,
  h2: Uint8Array,
  initiator: boolean,
): SessionKeys {
  const prk = c.hash(concatBytes(c.dh(myEphemeral.privateKey, theirEphemeral), h2), keys.kdf, KEY_SIZE);
  const i2r = c.hash(utf8('net2o i2r'), prk, KEY_SIZE);
  const r2i = c.hash(utf8('net2o r2i'), prk, KEY_SIZE);
  return initiator ? { send: i2r, receive: r2i } : { send: r2i, receive: i2r };
}

export function signTranscript(c: Crypto, role: 'i' | 'r', h2: Uint8Array, identity: KeyPair): Uint8Array {
  return c.sign(concatBytes(utf8(`net2o-${role}`), h2), identity.privateKey);
}
export function verifyTranscript(c: Crypto, role: 'i' | 'r', h2: Uint8Array, sig: Uint8Array, id: Uint8Array): boolean {
  return sig.length === ED25519_SIGNATURE_SIZE && c.verify(sig, concatBytes(utf8(`net2o-${role}`), h2), id);
}

function tagBytes(tag: number): Uint8Array {
  return new Uint8Array([tag & 0xff, (tag >>> 8) & 0xff, (tag >>> 16) & 0xff]);
}
function readTag(r: Reader): number {
  const b = r.bytes(3);
  const tag = b[0]! | (b[1]! << 8) | (b[2]! << 16);
  if (tag === SETUP_CONNECTION_TAG) throw new WireError('range', 'connection tag 0 is the setup address');
  return tag;
}

