// The handshake with the real libsodium adapter: init/reply derive matching, direction-separated keys; the
// invite MAC rejects a wrong secret and any tampered byte; signatures bind identity, role and transcript.
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual } from '../../src/net2o/bytes.ts';
import { HEADER_PATH_SIZE, HEADER_SIZE, SETUP_CONNECTION_TAG, TAG_STATELESS } from '../../src/net2o/constants.ts';
import { nonceFor, type Crypto, type KeyPair } from '../../src/net2o/crypto.ts';
import { WireError } from '../../src/net2o/errors.ts';
import {
  REJECT_WRONG_SECRET,
  deriveKeys,
  encodeInit,
  encodeReject,
  encodeReply,
  inviteKeys,
  openHandshake,
  signTranscript,
  transcript1,
  transcript2,
  verifyTranscript,
  type Init,
  type InviteKeys,
  type Reply,
} from '../../src/net2o/handshake.ts';
import { decodePacket, setPathField } from '../../src/net2o/wire.ts';
import { createSodiumCrypto } from '../../src/runtime/sodium-crypto.ts';

let c: Crypto;
beforeAll(async () => {
  c = await createSodiumCrypto();
});

const TAG_I = 0x123456;
const TAG_R = 0xabcdef;

interface Run {
  keys: InviteKeys;
  eI: KeyPair;
  idI: KeyPair;
  eR: KeyPair;
  idR: KeyPair;
  initPacket: Uint8Array;
  replyPacket: Uint8Array;
  h1: Uint8Array;
  h2: Uint8Array; // the responder's
  init: Init; // as the responder opened it
  reply: Reply; // as the initiator opened it
}

function open(keys: InviteKeys, packet: Uint8Array): ReturnType<typeof openHandshake> {
  return openHandshake(c, keys, decodePacket(packet));
}

function handshake(secret = c.randomBytes(32)): Run {
  const keys = inviteKeys(c, secret);
  const eI = c.dhKeyPair();
  const idI = c.signKeyPair();
  const { packet: initPacket, h1 } = encodeInit(c, keys, eI.publicKey, idI.publicKey, TAG_I);
  const init = open(keys, initPacket);
  if (init === 'bad-mac' || init.kind !== 'init') throw new Error(`init did not open: ${JSON.stringify(init)}`);
  const eR = c.dhKeyPair();
  const idR = c.signKeyPair();
  const { packet: replyPacket, h2 } = encodeReply(c, keys, init.tag, eR.publicKey, idR, TAG_R, transcript1(c, init));
  const reply = open(keys, replyPacket);
  if (reply === 'bad-mac' || reply.kind !== 'reply') throw new Error(`reply did not open: ${JSON.stringify(reply)}`);
  return { keys, eI, idI, eR, idR, initPacket, replyPacket, h1, h2, init, reply };
}

/** Every (byte, bit) of the packet body and MAC, flipped one at a time. */
function* flips(packet: Uint8Array): Generator<[number, Uint8Array]> {
  for (let i = HEADER_SIZE; i < packet.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const p = packet.slice();
      p[i] = p[i]! ^ (1 << bit);
      yield [i - HEADER_SIZE, p];
    }
  }
}

describe('round trip', () => {
  it('init and reply carry their fields to the right addresses', () => {
    const r = handshake();
    const initHdr = decodePacket(r.initPacket);
    expect(initHdr.connectionTag).toBe(SETUP_CONNECTION_TAG);
    expect(initHdr.packetNumber).toBe(0);
    expect(initHdr.tags).toBe(TAG_STATELESS);
    expect(r.init.ephemeral).toEqual(r.eI.publicKey);
    expect(r.init.identity).toEqual(r.idI.publicKey);
    expect(r.init.tag).toBe(TAG_I);

    const replyHdr = decodePacket(r.replyPacket);
    expect(replyHdr.connectionTag).toBe(TAG_I); // the reply goes to the address the initiator chose
    expect(replyHdr.packetNumber).toBe(0);
    expect(r.reply.ephemeral).toEqual(r.eR.publicKey);
    expect(r.reply.identity).toEqual(r.idR.publicKey);
    expect(r.reply.tag).toBe(TAG_R);
  });

  it('both sides compute the same transcript hashes', () => {
    const r = handshake();
    expect(transcript1(c, r.init)).toEqual(r.h1);
    expect(transcript2(c, r.h1, r.reply.signed)).toEqual(r.h2);
  });

  it('derived keys match: initiator send = responder receive and vice versa; directions differ', () => {
    const r = handshake();
    const h2I = transcript2(c, r.h1, r.reply.signed);
    const kI = deriveKeys(c, r.keys, r.eI, r.reply.ephemeral, h2I, true);
    const kR = deriveKeys(c, r.keys, r.eR, r.init.ephemeral, r.h2, false);
    expect(kI.send).toEqual(kR.receive);
    expect(kI.receive).toEqual(kR.send);
    expect(bytesEqual(kI.send, kI.receive)).toBe(false);
    expect(kI.send.length).toBe(32);

    // And they work: what one seals, the other opens.
    const ad = new Uint8Array([1, 2, 3]);
    const sealed = c.seal(kI.send, nonceFor(1), new Uint8Array([42]), ad);
    expect(c.open(kR.receive, nonceFor(1), sealed, ad)).toEqual(new Uint8Array([42]));
    expect(c.open(kR.send, nonceFor(1), sealed, ad)).toBeNull(); // the other direction's key
  });

  it('two handshakes with the same secret get unrelated keys (fresh ephemerals)', () => {
    const secret = c.randomBytes(32);
    const a = handshake(secret);
    const b = handshake(secret);
    const ka = deriveKeys(c, a.keys, a.eR, a.init.ephemeral, a.h2, false);
    const kb = deriveKeys(c, b.keys, b.eR, b.init.ephemeral, b.h2, false);
    expect(bytesEqual(ka.send, kb.send)).toBe(false);
  });

  it('the responder signature verifies; the initiator signature (hello) verifies', () => {
    const r = handshake();
    const h2I = transcript2(c, r.h1, r.reply.signed);
    expect(verifyTranscript(c, 'r', h2I, r.reply.signature, r.reply.identity)).toBe(true);
    const sigI = signTranscript(c, 'i', h2I, r.idI);
    expect(verifyTranscript(c, 'i', r.h2, sigI, r.init.identity)).toBe(true);
  });

  it('a reject opens without the invite key', () => {
    const p = encodeReject(c, TAG_I, REJECT_WRONG_SECRET);
    expect(decodePacket(p).connectionTag).toBe(TAG_I);
    const other = inviteKeys(c, c.randomBytes(32));
    expect(open(other, p)).toEqual({ kind: 'reject', reason: REJECT_WRONG_SECRET });
  });
});

describe('the invite MAC', () => {
  it('a different invite secret gives bad-mac for init and reply', () => {
    const r = handshake();
    const other = inviteKeys(c, c.randomBytes(32));
    expect(open(other, r.initPacket)).toBe('bad-mac');
    expect(open(other, r.replyPacket)).toBe('bad-mac');
  });

  it('a secret differing in one bit is a different secret', () => {
    const secret = c.randomBytes(32);
    const r = handshake(secret);
    const near = secret.slice();
    near[31] = near[31]! ^ 1;
    expect(open(inviteKeys(c, near), r.initPacket)).toBe('bad-mac');
  });

  it('mac and kdf keys are distinct derivations of the secret', () => {
    const k = inviteKeys(c, c.randomBytes(32));
    expect(bytesEqual(k.mac, k.kdf)).toBe(false);
  });

  it.each(['init', 'reply'] as const)('a flipped bit in any body or MAC byte of the %s is bad-mac', (which) => {
    const r = handshake();
    const packet = which === 'init' ? r.initPacket : r.replyPacket;
    let checked = 0;
    for (const [i, p] of flips(packet)) {
      // The MAC is checked before anything is parsed, the version byte included.
      expect(open(r.keys, p), `body byte ${i}`).toBe('bad-mac');
      checked++;
    }
    expect(checked).toBe((packet.length - HEADER_SIZE) * 8);
  });

  it('a flipped bit in the authenticated header (flags, addr) is bad-mac', () => {
    const r = handshake();
    for (const [i, mask] of [
      [0, 0x40], // qos
      [0, 0x80],
      ...Array.from({ length: 8 }, (_, k) => [18 + k, 0x01] as const),
      [1, 0x08], // tags: forwarded (still a valid tag)
    ] as const) {
      const p = r.initPacket.slice();
      p[i] = p[i]! ^ mask;
      expect(open(r.keys, p), `header byte ${i}`).toBe('bad-mac');
    }
  });

  it('the path is not authenticated: a forwarder may rewrite it', () => {
    const r = handshake();
    const p = r.initPacket.slice();
    setPathField(p, new Uint8Array(HEADER_PATH_SIZE).fill(0x5a));
    const m = open(r.keys, p);
    expect(m !== 'bad-mac' && m.kind).toBe('init');
  });

  it('a packet without the stateless tag is not a setup packet', () => {
    const r = handshake();
    const p = r.initPacket.slice();
    p[1] = 0;
    expect(() => open(r.keys, p)).toThrow(WireError);
  });
});

describe('signatures and transcript binding', () => {
  it('verifyTranscript fails with the wrong identity', () => {
    const r = handshake();
    expect(verifyTranscript(c, 'r', r.h2, r.reply.signature, r.idI.publicKey)).toBe(false);
    expect(verifyTranscript(c, 'r', r.h2, r.reply.signature, c.signKeyPair().publicKey)).toBe(false);
  });

  it('verifyTranscript fails with the wrong role: a reply signature is no hello signature', () => {
    const r = handshake();
    expect(verifyTranscript(c, 'i', r.h2, r.reply.signature, r.idR.publicKey)).toBe(false);
    const sigI = signTranscript(c, 'i', r.h2, r.idI);
    expect(verifyTranscript(c, 'r', r.h2, sigI, r.idI.publicKey)).toBe(false);
  });

  it('verifyTranscript fails for another transcript, a truncated or an empty signature', () => {
    const r = handshake();
    const other = r.h2.slice();
    other[0] = other[0]! ^ 1;
    expect(verifyTranscript(c, 'r', other, r.reply.signature, r.idR.publicKey)).toBe(false);
    expect(verifyTranscript(c, 'r', r.h2, r.reply.signature.subarray(0, 63), r.idR.publicKey)).toBe(false);
    expect(verifyTranscript(c, 'r', r.h2, new Uint8Array(0), r.idR.publicKey)).toBe(false);
  });

  it("changing the reply's ephemeral changes h2, so the keys and the signature no longer match", () => {
    const r = handshake();
    const swapped = r.reply.signed.slice();
    swapped.set(c.dhKeyPair().publicKey, 2); // type ‖ version ‖ eR …
    const h2x = transcript2(c, r.h1, swapped);
    expect(bytesEqual(h2x, r.h2)).toBe(false);
    expect(verifyTranscript(c, 'r', h2x, r.reply.signature, r.idR.publicKey)).toBe(false);
    const kR = deriveKeys(c, r.keys, r.eR, r.init.ephemeral, r.h2, false);
    const kx = deriveKeys(c, r.keys, r.eI, r.reply.ephemeral, h2x, true); // same DH, other transcript
    expect(bytesEqual(kx.send, kR.receive)).toBe(false);
  });

  it('h2 binds the init too: another h1 gives another h2 and other keys', () => {
    const r = handshake();
    const h1x = r.h1.slice();
    h1x[5] = h1x[5]! ^ 0x10;
    const h2x = transcript2(c, h1x, r.reply.signed);
    expect(bytesEqual(h2x, r.h2)).toBe(false);
    const a = deriveKeys(c, r.keys, r.eR, r.init.ephemeral, r.h2, false);
    const b = deriveKeys(c, r.keys, r.eR, r.init.ephemeral, h2x, false);
    expect(bytesEqual(a.send, b.send)).toBe(false);
  });

  it('the invite secret enters the keys: same DH and transcript, other secret → other keys', () => {
    const r = handshake();
    const other = inviteKeys(c, c.randomBytes(32));
    const a = deriveKeys(c, r.keys, r.eR, r.init.ephemeral, r.h2, false);
    const b = deriveKeys(c, other, r.eR, r.init.ephemeral, r.h2, false);
    expect(bytesEqual(a.send, b.send)).toBe(false);
  });
});
