// One peer: its session (tags, state, RTT), its paths with the return address and the active path marked, the
// counters of the demo stream, and a live trace that scrolls while messages arrive.

import type { PathView, PeerView as Peer } from '../runtime/api.ts';
import { ms, peerColor, stationLabel } from './format.ts';
import type { SeriesBucket } from './series.ts';
import type { UiState } from './state.ts';

/** The trace shows the last few seconds: enough to see a hop's gap (or its absence). */
export const TRACE_MS = 6000;

const PHASE_TEXT: Record<PathView['phase'], string> = {
  validating: 'validating',
  validated: 'validated',
  suspected: 'suspected',
  closed: 'closed',
};

export function PeerView({ ui, peer, index }: { ui: UiState; peer: Peer; index: number }) {
  const snap = ui.snapshot.value;
  const id = peer.peerId;
  const s = peer.stats;
  const counters: [name: string, label: string, value: string | number, bad?: boolean][] = [
    ['sent', 'sent', s.sent],
    ['delivered', 'delivered', s.delivered],
    ['lost', 'lost', s.lost, s.lost > 0],
    ['duplicated', 'duplicated', s.duplicated, s.duplicated > 0],
    ['reordered', 'reordered', s.reordered],
    ['maxgap', 'max gap', ms(s.maxGapMs)],
    ['latency', 'latency', ms(s.lastLatencyMs)],
    ['hops', 'hops survived', peer.hopsSurvived],
    ['failovers', 'failovers', peer.failovers],
    ['moves', 'return-address moves', peer.returnAddressMoves],
    ['rejected', 'rejected packets', peer.rejected],
  ];
  return (
    <section class="card peer" data-testid={`peer-${id}`} data-state={peer.state} aria-label={`Peer ${peer.name}`}>
      <div class="card-head">
        <h2>
          <span class="swatch" style={{ background: peerColor(index) }} aria-hidden="true" />
          {peer.name}
        </h2>
        <span class={`badge ${peer.state === 'established' ? 'ok' : peer.state === 'closed' ? 'bad' : ''}`} data-testid={`peer-state-${id}`}>
          {peer.state}
        </span>
      </div>
      <p class="muted small mono-wrap">
        fingerprint <code>{peer.fingerprint}</code> · RTT {ms(peer.rttMs)}
        <br />
        we receive at tag <code>{peer.connectionTag}</code>, send to <code>{peer.peerTag}</code>
      </p>

      <h3>Paths</h3>
      {peer.recovering && (
        <p class="recovering small" data-testid={`recovering-${id}`} role="status">
          No usable path: the session waits for one and keeps its commands moving through the signaling relay.
        </p>
      )}
      {peer.paths.length === 0 ? (
        <p class="muted small" data-testid={`no-paths-${id}`}>
          No path: messages wait for the next station.
        </p>
      ) : (
        <ul class="paths">
          {peer.paths.map((p) => (
            <li
              key={p.pathId}
              class={`path ${p.phase}${p.isActive ? ' active' : ''}`}
              data-testid="path-row"
              data-path-id={p.pathId}
              data-local={p.localStation ?? ''}
              data-remote={p.remoteStation ?? ''}
              data-phase={p.phase}
              data-active={String(p.isActive)}
              data-return={String(p.isReturn)}
            >
              <span class="path-name">
                {stationLabel(snap, p.localStation)} ⇄ {stationLabel(snap, p.remoteStation)}
              </span>
              <span class={`badge phase-${p.phase}`}>{PHASE_TEXT[p.phase]}</span>
              <span class="path-rtt">{ms(p.rttMs)}</span>
              <span class="path-marks">
                {p.isActive && (
                  <span class="mark active" title="carries our traffic">
                    ● active
                  </span>
                )}
                {p.isReturn && (
                  <span class="mark return" title="replies go here: the return address" data-testid="return-mark">
                    ↩ return address
                  </span>
                )}
              </span>
            </li>
          ))}
        </ul>
      )}

      <h3>Stream from {peer.name}</h3>
      <StreamTrace series={ui.series.value.get(id) ?? []} now={ui.now.value} color={peerColor(index)} peerId={id} />
      <dl class="counters">
        {counters.map(([name, label, value, bad]) => (
          <div key={name} class={bad ? 'bad' : ''}>
            <dt>{label}</dt>
            <dd data-testid={`counter-${name}-${id}`}>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/** Deliveries per 100 ms over the last TRACE_MS, newest at the right: it scrolls as long as messages arrive. */
function StreamTrace({ series, now, color, peerId }: { series: readonly SeriesBucket[]; now: number; color: string; peerId: string }) {
  const from = now - TRACE_MS;
  const recent = series.filter((b) => b.t >= from);
  const max = Math.max(1, ...recent.map((b) => b.delivered));
  const bucketMs = recent.length > 1 ? recent[1]!.t - recent[0]!.t : 100;
  const live = recent.slice(-5).some((b) => b.delivered > 0);
  const perSecond = (recent.slice(-10).reduce((n, b) => n + b.delivered, 0) * 1000) / (10 * bucketMs);
  return (
    <div class="trace" data-testid={`stream-trace-${peerId}`} data-live={String(live)}>
      <svg viewBox={`0 0 ${TRACE_MS} 100`} preserveAspectRatio="none" aria-hidden="true">
        {recent.map((b) =>
          b.delivered > 0 ? (
            <rect
              key={b.t}
              x={b.t - from}
              width={bucketMs * 0.8}
              y={100 - (b.delivered / max) * 92}
              height={(b.delivered / max) * 92}
              fill={color}
            />
          ) : null,
        )}
      </svg>
      <span class={`live-dot ${live ? 'on' : ''}`} aria-hidden="true" />
      <span class="trace-label">{live ? `${Math.round(perSecond)}/s` : 'idle'}</span>
    </div>
  );
}
