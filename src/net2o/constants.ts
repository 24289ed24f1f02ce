// Every wire constant and protocol tunable, named and explained once (wireguard-go's constants.go habit).

// ---- Header (net2o's shape: classes.fs / net2o.fs) ----
export const HEADER_FLAGS_OFFSET = 0;
export const HEADER_TAGS_OFFSET = 1;
export const HEADER_PATH_OFFSET = 2;
export const HEADER_PATH_SIZE = 16; // source-routing path; rewritten by forwarders, so NOT authenticated
export const HEADER_ADDR_OFFSET = 18;
export const HEADER_ADDR_SIZE = 8; // 64-bit little-endian destination address, chosen by the receiver
export const HEADER_SIZE = 26;
export const MAC_SIZE = 16; // Poly1305 tag (or keyed BLAKE2b-128 for the two stateless handshake packets)
/** Associated data = flags ‖ tags ‖ addr: everything in the header except the rewritable path. */
export const AD_SIZE = 2 + HEADER_ADDR_SIZE;

/** Body = 64·2ⁿ bytes, n in the low 4 bits of flags. */
export const BODY_UNIT = 64;
export const SIZE_EXPONENT_MASK = 0x0f;
/** n ≤ 8: 16 KiB bodies. Chromium's SCTP takes 256 KiB messages, but 16 KiB is the portable data-channel size. */
export const MAX_SIZE_EXPONENT = 8;
export const MAX_BODY_SIZE = BODY_UNIT << MAX_SIZE_EXPONENT;
export const MIN_PACKET_SIZE = HEADER_SIZE + BODY_UNIT + MAC_SIZE;
export const MAX_PACKET_SIZE = HEADER_SIZE + MAX_BODY_SIZE + MAC_SIZE;

export const FLAGS_QOS_SHIFT = 6; // bits 7–6: QoS class (we send 0; authenticated as AD)
export const FLAGS_KIND_SHIFT = 4; // bits 5–4: header kind
export const FLAGS_KIND_MASK = 0x30;
export const HEADER_KIND_DATA = 0; // the only kind we send: 64-bit address header

// ---- Tags byte (net2o: broadcast, multicast, stateless, resend/b2b/ack toggles) ----
export const TAG_BROADCAST = 0x01; // never sent; rejected as malformed
export const TAG_MULTICAST = 0x02; // never sent; rejected as malformed
export const TAG_STATELESS = 0x04; // connection setup: the two handshake packets and the reject
export const TAG_FORWARDED = 0x08; // packet was relayed by an old host during a forwarding overlap
export const TAGS_KNOWN = TAG_STATELESS | TAG_FORWARDED;

// ---- Address = connection tag (high 24 bits, receiver-chosen) ‖ packet number (low 40 bits) ----
export const ADDR_PN_BITS = 40;
export const MAX_PACKET_NUMBER = 2 ** ADDR_PN_BITS - 1; // 10¹² packets per direction: never reached
export const CONNECTION_TAG_BITS = 24;
export const MAX_CONNECTION_TAG = 2 ** CONNECTION_TAG_BITS - 1;
/** Tag 0 is the setup address: the first handshake packet goes there, before the responder chose anything. */
export const SETUP_CONNECTION_TAG = 0;
/** Packet number 0 of every connection is the handshake reply; data packets start at 1. */
export const FIRST_DATA_PACKET_NUMBER = 1;

// ---- Replay window (RFC 6479) ----
export const REPLAY_BLOCK_BITS = 32;
export const REPLAY_BLOCKS = 64; // 2048-bit ring
export const REPLAY_WINDOW = (REPLAY_BLOCKS - 1) * REPLAY_BLOCK_BITS; // 2016 packets behind the highest

// ---- Crypto sizes (libsodium) ----
export const KEY_SIZE = 32;
export const AEAD_NONCE_SIZE = 12; // ChaCha20-Poly1305-IETF
export const X25519_KEY_SIZE = 32;
export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;
export const INVITE_SECRET_SIZE = 32;
export const PATH_CHALLENGE_SIZE = 8;

// ---- Recovery (QUIC RFC 9002 values unless said otherwise) ----
export const INITIAL_RTT_MS = 100;
export const PACKET_THRESHOLD = 3;
export const TIME_THRESHOLD = 9 / 8;
export const TIMER_GRANULARITY_MS = 1;
/** Acks are delayed at most this long; browsers' timers are ~1–4 ms coarse, so less buys nothing. */
export const MAX_ACK_DELAY_MS = 5;
/** Ack at once after this many ack-eliciting packets. */
export const ACK_ELICITING_THRESHOLD = 2;
export const MAX_ACK_RANGES = 32;
/** PTO backoff is capped so that a returning path is probed within this long (resumption speed). */
export const MAX_PTO_MS = 1_000;
export const HANDSHAKE_RESEND_MS = 250;
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A reject is unauthenticated (the responder does not share our secret): after one, a valid reply has this
 * long to arrive before the handshake fails with ERR_WRONG_SECRET. A forged reject cannot kill a handshake. */
export const REJECT_GRACE_MS = 1_000;

// ---- Paths and liveness ----
/**
 * A path with an ack-eliciting packet unacknowledged for max(3·RTT, floor) is suspected. The floor sits above
 * browser timer coarseness, GC pauses and data-channel scheduling (tens of ms) yet far below Chromium's own
 * 5.7 s ICE "disconnected" (DESIGN §5): a dead relay is left within a quarter second.
 */
export const LIVENESS_RTT_MULTIPLIER = 3;
export const LIVENESS_FLOOR_MS = 200;
/** Idle paths are pinged this often so that a dead one is noticed without application traffic. */
export const KEEPALIVE_MS = 250;
/** A challenge unanswered this long fails the path's validation (resent every VALIDATION_RESEND_MS). */
export const VALIDATION_TIMEOUT_MS = 3_000;
export const VALIDATION_RESEND_MS = 200;
/** An unvalidated path may carry at most this multiple of the bytes received on it (QUIC §8.1). */
export const AMPLIFICATION_FACTOR = 3;
/** A suspected path that stays silent this long is closed. */
export const PATH_DEAD_MS = 5_000;
/** Graceful detach keeps the old station's paths this long: several RTTs, enough for the peer to react. */
export const DEFAULT_OVERLAP_MS = 1_500;
/** The overlap is extended (checked every OVERLAP_RECHECK_MS) while a connection has no usable path on an active
 * station yet — make before break — but never beyond MAX_OVERLAP_MS after the detach. */
export const OVERLAP_RECHECK_MS = 50;
export const MAX_OVERLAP_MS = 10_000;
/** With no path at all, a session waits this long for one to return before it closes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

// ---- Streams and flow ----
export const STREAM_COMMANDS = 0; // in-band control: hello, stations, path setup
export const STREAM_MESSAGES = 1; // the application's ordered, reliable message stream
export const MAX_MESSAGE_SIZE = 1 << 20; // one application message, 1 MiB
/** Bytes in flight (sent, unacknowledged) per session. */
export const MAX_IN_FLIGHT_BYTES = 512 * 1024;
/** Bytes the application may queue (unsent + unacknowledged) before send() refuses. */
export const MAX_SEND_BUFFER_BYTES = 4 * 1024 * 1024;
/** The receiver buffers at most this many messages ahead of the next one it delivers. */
export const MAX_RECEIVE_AHEAD = 8_192;
