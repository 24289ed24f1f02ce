// Browser self-check: are the building blocks of a session present and is every station reachable?
// - libsodium initialises and an XChaCha20-Poly1305 round trip works (tamper is rejected);
// - simple-peer loads and reports WebRTC support;
// - each station grants a TURN allocation: a relay-only RTCPeerConnection gathers a `typ relay` candidate.

import sodium from 'libsodium-wrappers';
import SimplePeer from 'simple-peer';
import type { StationInfo } from '../../signaling-server/contracts.ts';

/** How long a station may take to hand out a relay candidate before it counts as unreachable. */
export const STATION_CHECK_TIMEOUT_MS = 5000;

export interface CheckResult {
  ok: boolean;
  detail: string;
}

export interface StationCheck {
  id: string;
  label: string;
  /** The station list's own view (false while taken down by the admin endpoint). */
  advertisedUp: boolean;
  /** A relay candidate was gathered within STATION_CHECK_TIMEOUT_MS. */
  reachable: boolean;
  /** Time to the first relay candidate (reachable) or until giving up. */
  ms: number;
  detail: string;
}

export interface SelfCheck {
  sodium: CheckResult;
  simplePeer: CheckResult;
  /** Set when the station list itself could not be fetched. */
  stationsError?: string;
  stations: StationCheck[];
  totalMs: number;
}

export async function checkSodium(): Promise<CheckResult> {
  try {
    await sodium.ready;
    const key = sodium.crypto_aead_xchacha20poly1305_ietf_keygen();
    const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const message = sodium.from_string('net2o handover self-check');
    const ad = new Uint8Array([0x01, 0x02, 0x03]);
    const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, ad, null, nonce, key);
    const opened = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, ad, nonce, key);
    if (sodium.to_string(opened) !== 'net2o handover self-check') return { ok: false, detail: 'round trip mismatch' };
    // A flipped bit must be rejected (libsodium throws on a bad tag).
    const tampered = sealed.slice();
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, tampered, ad, nonce, key);
      return { ok: false, detail: 'tampered ciphertext was accepted' };
    } catch {
      // expected
    }
    return { ok: true, detail: `libsodium ${sodium.sodium_version_string()}, XChaCha20-Poly1305 ok` };
  } catch (err) {
    return { ok: false, detail: errorMessage(err) };
  }
}

export function checkSimplePeer(): CheckResult {
  try {
    return SimplePeer.WEBRTC_SUPPORT
      ? { ok: true, detail: 'WebRTC supported' }
      : { ok: false, detail: 'simple-peer reports no WebRTC support' };
  } catch (err) {
    return { ok: false, detail: errorMessage(err) };
  }
}

/** Asks one station for a TURN allocation and waits for the relay candidate. Never throws. */
export async function checkStation(
  station: StationInfo,
  timeoutMs: number = STATION_CHECK_TIMEOUT_MS,
): Promise<StationCheck> {
  const base = { id: station.id, label: station.label, advertisedUp: station.up };
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  let pc: RTCPeerConnection | undefined;
  try {
    pc = new RTCPeerConnection({ iceServers: [station.iceServer], iceTransportPolicy: 'relay' });
    const conn = pc;
    let lastError = '';
    const outcome = new Promise<{ reachable: boolean; detail: string }>((done) => {
      const timer = setTimeout(
        () => done({ reachable: false, detail: lastError || `no relay candidate within ${timeoutMs} ms` }),
        timeoutMs,
      );
      conn.onicecandidate = (ev) => {
        if (ev.candidate && / typ relay( |$)/.test(ev.candidate.candidate)) {
          clearTimeout(timer);
          done({ reachable: true, detail: ev.candidate.address ? `relay ${ev.candidate.address}:${ev.candidate.port}` : 'relay candidate' });
        } else if (!ev.candidate) {
          // Gathering finished without a relay candidate: the station refused or did not answer.
          clearTimeout(timer);
          done({ reachable: false, detail: lastError || 'gathering ended without a relay candidate' });
        }
      };
      conn.onicecandidateerror = (ev) => {
        lastError = `${ev.errorCode} ${ev.errorText}`.trim();
      };
    });
    conn.createDataChannel('selfcheck');
    await conn.setLocalDescription(await conn.createOffer());
    const { reachable, detail } = await outcome;
    return { ...base, reachable, ms: elapsed(), detail };
  } catch (err) {
    return { ...base, reachable: false, ms: elapsed(), detail: errorMessage(err) };
  } finally {
    pc?.close();
  }
}

export async function runSelfCheck(loadStations: () => Promise<StationInfo[]>): Promise<SelfCheck> {
  const started = performance.now();
  const sodiumResult = await checkSodium();
  const simplePeer = checkSimplePeer();
  let stations: StationCheck[] = [];
  let stationsError: string | undefined;
  try {
    // Stations are independent: check them in parallel so the whole check takes at most one timeout.
    stations = await Promise.all((await loadStations()).map((s) => checkStation(s)));
  } catch (err) {
    stationsError = errorMessage(err);
  }
  return {
    sodium: sodiumResult,
    simplePeer,
    ...(stationsError === undefined ? {} : { stationsError }),
    stations,
    totalMs: Math.round(performance.now() - started),
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
