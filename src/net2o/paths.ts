// One session's view of one path (a transport between one of our stations and one of the peer's).
// Validation state, liveness, RTT and the anti-amplification budget live here; the session decides.
import { AMPLIFICATION_FACTOR, LIVENESS_FLOOR_MS, LIVENESS_RTT_MULTIPLIER } from './constants.ts';
import type { PathId } from './events.ts';
import { RttEstimator } from './rtt.ts';

export type PathPhase = 'validating' | 'validated' | 'suspected' | 'closed';

export class PathState {
  validated = false;
  suspected = false;
  suspectedAt = 0;
  closed = false;
  /** Our outstanding challenge on this path, and when we first / last sent it. */
  challenge: Uint8Array | null = null;
  challengeStartedAt = 0;
  challengeSentAt = -Infinity;
  /** Resend the challenge at once (the peer's end just showed it is open). */
  challengeResendNow = false;
  /** Responses we owe the peer, to be sent on this same path. */
  readonly responses: Uint8Array[] = [];
  bytesReceived = 0;
  bytesSent = 0;
  packetsSent = 0;
  packetsReceived = 0;
  lastReceiveAt = -Infinity;
  lastAckElicitingSentAt = -Infinity;
  lastAckAt = -Infinity;
  validatedAt = -Infinity;
  /** Highest packet number that would have moved the return address here, pending validation. */
  pendingReturn = -1;
  /** Send one ack-eliciting PING here as soon as possible (after validation: the hop's ping). */
  pingWanted = false;
  readonly rtt = new RttEstimator();

  constructor(
    readonly id: PathId,
    public key: string | null,
    public localStation: string | null,
    public remoteStation: string | null,
    readonly addedAt: number,
    /** Registered by our runtime (a transport we opened), rather than first seen as a packet's arrival path. */
    public registered: boolean,
    /**
     * A relay through the signaling server: used only for recovery, when no real path is left. It carries the
     * command stream (path setup) and acks, never application data; it is never the return address.
     */
    readonly relay = false,
  ) {}

  get phase(): PathPhase {
    if (this.closed) return 'closed';
    if (this.suspected) return 'suspected';
    return this.validated ? 'validated' : 'validating';
  }

  get usable(): boolean {
    return !this.relay && !this.closed && this.validated && !this.suspected;
  }

  /** QUIC §8.1: before validation, send at most 3× what arrived on a path we did not open ourselves. */
  amplificationBudget(): number {
    return this.validated || this.registered ? Infinity : AMPLIFICATION_FACTOR * this.bytesReceived - this.bytesSent;
  }

  /** How long an ack-eliciting packet may stay unacknowledged before the path is suspected. */
  livenessTimeout(): number {
    const rtt = this.rtt.samples > 0 ? this.rtt.smoothed + this.rtt.variation : 0;
    return Math.max(LIVENESS_RTT_MULTIPLIER * rtt, LIVENESS_FLOOR_MS);
  }
}
