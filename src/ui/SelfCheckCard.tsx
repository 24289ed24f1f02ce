// The self-check as a card: libsodium, simple-peer and every station's relay allocation. Its data-testids are
// read by tests/e2e/foundation.test.ts: selfcheck, selfcheck-rerun, check-sodium, check-simple-peer,
// check-stations-error, station-<id>, station-<id>-status.

import type { CheckResult, StationCheck } from '../runtime/selfcheck.ts';
import type { AppState } from './App.tsx';

export function SelfCheckCard({ state, onRecheck }: { state: AppState; onRecheck: () => void }) {
  const result = state.selfcheck.value;
  const checking = state.checking.value;
  return (
    <section class="card" aria-labelledby="selfcheck-heading" data-testid="selfcheck" data-state={checking ? 'running' : result ? 'done' : 'pending'}>
      <div class="card-head">
        <h2 id="selfcheck-heading">Self-check</h2>
        <button type="button" onClick={onRecheck} disabled={checking} data-testid="selfcheck-rerun">
          {checking ? 'Checking…' : 'Check again'}
        </button>
      </div>
      {result ? (
        <ul class="checks">
          <CheckRow testid="check-sodium" name="libsodium" check={result.sodium} />
          <CheckRow testid="check-simple-peer" name="simple-peer" check={result.simplePeer} />
          {result.stationsError !== undefined && (
            <li class="check bad" data-testid="check-stations-error">
              <span class="name">Stations</span>
              <span class="status">unavailable</span>
              <span class="detail">{result.stationsError}</span>
            </li>
          )}
          {result.stations.map((s) => (
            <StationRow key={s.id} station={s} />
          ))}
        </ul>
      ) : (
        <p class="muted">Running…</p>
      )}
    </section>
  );
}

function CheckRow({ testid, name, check }: { testid: string; name: string; check: CheckResult }) {
  return (
    <li class={`check ${check.ok ? 'ok' : 'bad'}`} data-testid={testid} data-ok={String(check.ok)}>
      <span class="name">{name}</span>
      <span class="status">{check.ok ? 'ok' : 'failed'}</span>
      <span class="detail">{check.detail}</span>
    </li>
  );
}

function StationRow({ station }: { station: StationCheck }) {
  return (
    <li
      class={`check ${station.reachable ? 'ok' : 'bad'}`}
      data-testid={`station-${station.id}`}
      data-reachable={String(station.reachable)}
      data-ms={station.ms}
    >
      <span class="name">{station.label}</span>
      <span class="status" data-testid={`station-${station.id}-status`}>
        {station.reachable ? 'reachable' : 'unreachable'}
      </span>
      <span class="detail">
        {station.reachable ? `${station.ms} ms` : station.detail}
        {!station.advertisedUp && ' (taken down)'}
      </span>
    </li>
  );
}
