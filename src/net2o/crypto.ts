// The crypto the core needs, injected (the core never imports libsodium). The runtime supplies
// src/runtime/sodium-crypto.ts; tests use the same libsodium adapter in Node.

export interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface Crypto {
  randomBytes(n: number): Uint8Array;
  /** X25519 */
  dhKeyPair(): KeyPair;
  dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** Ed25519 identity keys, detached signatures */
  signKeyPair(): KeyPair;
  sign(message: Uint8Array, privateKey: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** BLAKE2b (libsodium generichash), optionally keyed; outLen 16–64. */
  hash(data: Uint8Array, key: Uint8Array | null, outLen: number): Uint8Array;
  /** ChaCha20-Poly1305-IETF: returns ciphertext ‖ 16-byte tag. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  /** Returns the plaintext, or null when the tag does not verify (never throws for a bad tag). */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null;
}

/** Per-direction nonce: the 40-bit packet number, little-endian, zero-padded to 12 bytes. Keys differ per
 * direction, and a packet number is never reused (a resend is a new packet), so no nonce repeats. */
export function nonceFor(packetNumber: number, out = new Uint8Array(12)): Uint8Array {
  out.fill(0);
  new DataView(out.buffer, out.byteOffset, 12).setUint32(0, packetNumber >>> 0, true);
  out[4] = Math.floor(packetNumber / 2 ** 32) & 0xff;
  return out;
}
