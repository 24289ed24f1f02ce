import type { Signal } from '@preact/signals';
import type { ClientConfig } from '../../signaling-server/contracts.ts';
import type { CheckResult, SelfCheck, StationCheck } from '../runtime/selfcheck.ts';

export interface AppState {
  config: Signal<ClientConfig | null>;
  selfcheck: Signal<SelfCheck | null>;
  checking: Signal<boolean>;
}

export function App({ state, onRecheck }: { state: AppState; onRecheck: () => void }) {
  const result = state.selfcheck.value;
  const checking = state.checking.value;
  return (
    <main class="page">
      <header>
        <h1 data-testid="title">net2o handover</h1>
        <p class="lead">
          A live, encrypted session between two browser tabs that keeps running while <em>both</em> ends change
          networks. Each tab is a mobile node; a <strong>station</strong> is a TURN relay it attaches to, so
          switching stations really changes its address. As in net2o, a connection is named by an address the
          receiver chose, replies go to the return address of the last authentic packet, and a node that changes
          station pings its peers from the new address, with the old one kept open until the new one works.
        </p>
      </header>

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
    </main>
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
