// RTT estimation (RFC 6298 / RFC 9002 §5): smoothed RTT and variation from ack samples.
import { INITIAL_RTT_MS, TIMER_GRANULARITY_MS } from './constants.ts';

export class RttEstimator {
  latest = 0;
  smoothed = INITIAL_RTT_MS;
  variation = INITIAL_RTT_MS / 2;
  min = Infinity;
  samples = 0;

  update(sampleMs: number, ackDelayMs = 0): void {
    const sample = Math.max(sampleMs, 0);
    this.latest = sample;
    this.min = Math.min(this.min, sample);
    // Subtract the peer's ack delay only if that does not go below the minimum seen (RFC 9002 §5.3).
    const adjusted = sample - ackDelayMs >= this.min ? sample - ackDelayMs : sample;
    if (this.samples === 0) {
      this.smoothed = adjusted;
      this.variation = adjusted / 2;
    } else {
      this.variation = 0.75 * this.variation + 0.25 * Math.abs(this.smoothed - adjusted);
      this.smoothed = 0.875 * this.smoothed + 0.125 * adjusted;
    }
    this.samples++;
  }

  exportState(): { latest: number; smoothed: number; variation: number; min: number; samples: number } {
    return { latest: this.latest, smoothed: this.smoothed, variation: this.variation, min: this.min, samples: this.samples };
  }

  importState(st: ReturnType<RttEstimator['exportState']>): void {
    Object.assign(this, st);
  }

  /** Probe timeout before backoff. */
  pto(maxAckDelayMs: number): number {
    return this.smoothed + Math.max(4 * this.variation, TIMER_GRANULARITY_MS) + maxAckDelayMs;
  }
}
