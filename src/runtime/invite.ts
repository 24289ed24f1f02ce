// The invite: room and secret in the URL fragment (never sent to any server), name and station as parameters.
import { INVITE_SECRET_SIZE } from '../net2o/constants.ts';
import { base64url, fromBase64url } from './base64.ts';

export interface Invite {
  room: string;
  secret: Uint8Array;
  /** True when this page created the room (no invite in the URL). */
  created: boolean;
}

const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function parseInvite(hash: string, random: (n: number) => Uint8Array): Invite {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const room = params.get('room');
  const secret = params.get('secret');
  if (room && ROOM_RE.test(room) && secret) {
    try {
      const s = fromBase64url(secret);
      if (s.length === INVITE_SECRET_SIZE) return { room, secret: s, created: false };
    } catch {
      // fall through: a broken link starts a new room rather than failing
    }
  }
  return { room: base64url(random(9)), secret: random(INVITE_SECRET_SIZE), created: true };
}

export function inviteHash(inv: Invite): string {
  return `#room=${encodeURIComponent(inv.room)}&secret=${base64url(inv.secret)}`;
}
