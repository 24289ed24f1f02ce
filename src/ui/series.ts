// A small rolling time series for the live chart: deliveries per bucket and the latest latency in that bucket.
// Pure (time is an argument), so the bridge and the tests feed it the same way.

/** Width of one bucket: the chart shows deliveries per 100 ms. */
export const SERIES_BUCKET_MS = 100;
/** How much history the chart keeps. */
export const SERIES_WINDOW_MS = 30_000;

export interface SeriesBucket {
  /** Start of the bucket (ms, same clock as LogEntry.at). */
  t: number;
  delivered: number;
  /** Latency of the last delivery seen in this bucket; null when nothing arrived. */
  latencyMs: number | null;
}

export class TimeSeries {
  private buckets: SeriesBucket[] = [];

  constructor(
    readonly bucketMs: number = SERIES_BUCKET_MS,
    readonly windowMs: number = SERIES_WINDOW_MS,
  ) {}

  /** Records `delivered` new deliveries at `now`; `latencyMs` is the newest latency (kept only if delivered > 0). */
  add(now: number, delivered: number, latencyMs: number | null): void {
    const b = this.bucketAt(now);
    b.delivered += delivered;
    if (delivered > 0 && latencyMs !== null) b.latencyMs = latencyMs;
  }

  /** Pads empty buckets up to `now` and drops the ones older than the window. */
  advance(now: number): void {
    this.bucketAt(now);
  }

  /** Oldest first, contiguous, one bucket per bucketMs. A copy. */
  values(): SeriesBucket[] {
    return this.buckets.map((b) => ({ ...b }));
  }

  private bucketAt(now: number): SeriesBucket {
    const t = Math.floor(now / this.bucketMs) * this.bucketMs;
    let last = this.buckets[this.buckets.length - 1];
    if (last && t < last.t) {
      // The clock never runs backwards; a late sample goes to the bucket it belongs to, or the oldest one.
      return this.buckets.find((b) => b.t === t) ?? this.buckets[0]!;
    }
    if (!last || t - last.t > this.windowMs) {
      this.buckets = [];
      last = undefined;
    }
    for (let next = last ? last.t + this.bucketMs : t; next <= t; next += this.bucketMs) {
      this.buckets.push({ t: next, delivered: 0, latencyMs: null });
    }
    const oldest = t - this.windowMs;
    const drop = this.buckets.findIndex((b) => b.t > oldest);
    if (drop > 0) this.buckets.splice(0, drop);
    return this.buckets[this.buckets.length - 1]!;
  }
}
