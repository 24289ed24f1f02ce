// The core's Crypto interface on libsodium (browser and Node). Call after `await sodium.ready`.
import sodium from 'libsodium-wrappers';
import type { Crypto } from '../net2o/crypto.ts';

/** `random` replaces the system RNG (keys included): the deterministic simulator passes a seeded one. */
export async function createSodiumCrypto(opts: { random?: (n: number) => Uint8Array } = {}): Promise<Crypto> {
  await sodium.ready;
  const random = opts.random ?? ((n: number) => sodium.randombytes_buf(n));
  return {
    randomBytes: random,
    dhKeyPair: () => {
      const kp = sodium.crypto_kx_seed_keypair(random(32));
      return { publicKey: kp.publicKey, privateKey: kp.privateKey };
    },
    dh: (priv, pub) => {
      try {
        return sodium.crypto_scalarmult(priv, pub);
      } catch {
        return new Uint8Array(32); // low-order point: the keys derived from it match nobody's
      }
    },
    signKeyPair: () => {
      const kp = sodium.crypto_sign_seed_keypair(random(32));
      return { publicKey: kp.publicKey, privateKey: kp.privateKey };
    },
    sign: (m, sk) => sodium.crypto_sign_detached(m, sk),
    verify: (sig, m, pk) => {
      try {
        return sodium.crypto_sign_verify_detached(sig, m, pk);
      } catch {
        return false; // wrong-length key or signature: not valid
      }
    },
    hash: (data, key, outLen) => sodium.crypto_generichash(outLen, data, key),
    seal: (key, nonce, plaintext, ad) => sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key),
    open: (key, nonce, sealed, ad) => {
      try {
        return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, ad, nonce, key);
      } catch {
        return null; // libsodium throws on a bad tag (DESIGN §5): a forged or tampered packet
      }
    },
  };
}
