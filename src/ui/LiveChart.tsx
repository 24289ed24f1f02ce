// The live chart: deliveries per 100 ms (solid) and latency (dashed) per peer over the last ~30 s, with a
// vertical marker at every finished hop, failover and return-address move. Plain SVG; the axes' labels are HTML
// so they stay readable when the SVG stretches to the card's width.

import type { SeriesBucket } from './series.ts';
import type { HopMarker, HopMarkerKind } from './state.ts';
import { peerColor } from './format.ts';

const W = 1000;
const H = 100;

export const MARKER_TEXT: Record<HopMarkerKind, string> = {
  'hop-finished': 'hop',
  failover: 'failover',
  'return-address-moved': 'return address moved',
};

export interface ChartPeer {
  peerId: string;
  name: string;
  index: number;
}

export interface LiveChartProps {
  series: ReadonlyMap<string, readonly SeriesBucket[]>;
  markers: readonly HopMarker[];
  now: number;
  windowMs: number;
  peers: readonly ChartPeer[];
}

export function LiveChart({ series, markers, now, windowMs, peers }: LiveChartProps) {
  const from = now - windowMs;
  const x = (t: number): number => ((t - from) / windowMs) * W;
  const all = peers.flatMap((p) => series.get(p.peerId) ?? []);
  const maxDelivered = niceCeil(Math.max(1, ...all.map((b) => b.delivered)));
  const maxLatency = niceCeil(Math.max(10, ...all.map((b) => b.latencyMs ?? 0)));
  const yD = (v: number): number => H - (v / maxDelivered) * (H - 4);
  const yL = (v: number): number => H - (v / maxLatency) * (H - 4);
  const visibleMarkers = markers.filter((m) => m.at >= from && m.at <= now + 1000);

  return (
    <figure class="chart" data-testid="live-chart" data-markers={visibleMarkers.length}>
      <div class="chart-scale">
        <span>deliveries / 100 ms (max {maxDelivered})</span>
        <span>latency (dashed, max {maxLatency} ms)</span>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label="Deliveries and latency over the last 30 seconds">
        {[0.25, 0.5, 0.75].map((f) => (
          <line key={f} class="grid" x1={0} x2={W} y1={H * f} y2={H * f} vector-effect="non-scaling-stroke" />
        ))}
        {visibleMarkers.map((m, i) => (
          <line
            key={`${m.at}-${i}`}
            class={`marker marker-${m.kind}`}
            x1={x(m.at)}
            x2={x(m.at)}
            y1={0}
            y2={H}
            vector-effect="non-scaling-stroke"
            data-testid="chart-marker"
            data-kind={m.kind}
          >
            <title>{m.text}</title>
          </line>
        ))}
        {peers.map((p) => {
          const buckets = (series.get(p.peerId) ?? []).filter((b) => b.t >= from);
          const color = peerColor(p.index);
          return (
            <g key={p.peerId}>
              <path
                d={linePath(buckets.map((b) => [x(b.t + 50), yD(b.delivered)]))}
                fill="none"
                stroke={color}
                stroke-width={1.5}
                vector-effect="non-scaling-stroke"
              />
              <path
                d={brokenPath(buckets.map((b) => (b.latencyMs === null ? null : [x(b.t + 50), yL(b.latencyMs)])))}
                fill="none"
                stroke={color}
                stroke-width={1.5}
                stroke-dasharray="4 3"
                opacity={0.75}
                vector-effect="non-scaling-stroke"
              />
            </g>
          );
        })}
      </svg>
      <div class="chart-axis" aria-hidden="true">
        <span>−{Math.round(windowMs / 1000)} s</span>
        <span>−{Math.round(windowMs / 2000)} s</span>
        <span>now</span>
      </div>
      <figcaption class="chart-legend">
        {peers.map((p) => (
          <span key={p.peerId}>
            <span class="swatch" style={{ background: peerColor(p.index) }} /> {p.name}
          </span>
        ))}
        {(Object.keys(MARKER_TEXT) as HopMarkerKind[]).map((k) => (
          <span key={k}>
            <span class={`swatch marker-swatch marker-${k}`} /> {MARKER_TEXT[k]}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

function linePath(points: [number, number][]): string {
  return points.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${px.toFixed(1)} ${py.toFixed(1)}`).join('');
}

/** A line that breaks where a value is missing (no delivery, no latency). */
function brokenPath(points: ([number, number] | null)[]): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (!p) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${p[0].toFixed(1)} ${p[1].toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** 1, 2, 5, 10, 20, 50 … at or above v. */
export function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
