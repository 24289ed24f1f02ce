// Errors say whose fault (h11's habit): the peer sent garbage, or the application misused the API.

/** Why a received packet was dropped. Stable strings: counters, events and the UI use them. */
export type RejectReason =
  | 'malformed' // header or body does not parse
  | 'unknown-address' // no connection lives at that address
  | 'replay' // packet number already seen, or too old for the window
  | 'tag' // authentication failed: forged or tampered
  | 'handshake'; // a setup packet that failed its MAC or arrived out of place

export type WireErrorCode = 'truncated' | 'range' | 'encoding' | 'size' | 'kind' | 'tags' | 'frame';

/** Hostile or broken bytes. Codecs throw only this; callers count it as 'malformed'. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly code: WireErrorCode,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

export type LocalErrorCode =
  | 'ERR_SEND_BUFFER_FULL'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_SESSION_CLOSED'
  | 'ERR_NOT_ESTABLISHED'
  | 'ERR_UNKNOWN_PATH'
  | 'ERR_UNKNOWN_STATION'
  | 'ERR_INVALID_ARGUMENT';

/** The application used the API wrongly, or asked for something the session cannot do now. */
export class LocalProtocolError extends Error {
  override readonly name = 'LocalProtocolError';
  constructor(
    readonly code: LocalErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export type HandshakeErrorCode = 'ERR_WRONG_SECRET' | 'ERR_BAD_SIGNATURE' | 'ERR_HANDSHAKE_TIMEOUT';

/** The handshake failed: the peer holds another invite secret, signed wrongly, or never answered. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  constructor(
    readonly code: HandshakeErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
