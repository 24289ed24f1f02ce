// Networks: one row per station with its state, attach/detach, "Hop here" (make-before-break), "Lose coverage"
// (abrupt), a simulated outage switch, and the make-before-break overlap.

import type { StationView } from '../runtime/api.ts';
import { OVERLAP_MAX_MS, type UiState } from './state.ts';

const ATTACHMENT_TEXT: Record<StationView['attachment'], string> = {
  active: 'attached',
  leaving: 'leaving (overlap)',
  detached: 'detached',
};

export function NetworksPanel({ ui }: { ui: UiState }) {
  const stations = ui.snapshot.value.stations;
  return (
    <section class="card" aria-labelledby="networks-heading" data-testid="networks">
      <div class="card-head">
        <h2 id="networks-heading">Networks</h2>
      </div>
      <p class="muted small">
        Each station is a TURN relay. <strong>Hop here</strong> attaches first and leaves the old station after the
        overlap; <strong>Lose coverage</strong> drops a station without warning.
      </p>
      <ul class="stations">
        {stations.map((s) => (
          <StationRow key={s.id} ui={ui} station={s} />
        ))}
      </ul>
      <Overlap ui={ui} />
    </section>
  );
}

function StationRow({ ui, station: s }: { ui: UiState; station: StationView }) {
  const busy = ui.busy.value;
  const a = ui.actions;
  const attached = s.attachment !== 'detached';
  const onlyHere = s.attachment === 'active' && ui.snapshot.value.stations.every((x) => x.id === s.id || x.attachment === 'detached');
  return (
    <li
      class={`station ${s.attachment} ${s.up ? 'up' : 'down'}`}
      data-testid={`station-row-${s.id}`}
      data-attachment={s.attachment}
      data-up={String(s.up)}
    >
      <div class="station-head">
        <span class="dot" aria-hidden="true" />
        <span class="name">{s.label}</span>
        <span class="badge" data-testid={`station-attachment-${s.id}`}>
          {ATTACHMENT_TEXT[s.attachment]}
        </span>
        <span class={`badge ${s.up ? 'ok' : 'bad'}`} data-testid={`station-updown-${s.id}`}>
          {s.up ? 'up' : 'down'}
        </span>
      </div>
      <div class="station-actions">
        {attached ? (
          <button type="button" onClick={() => void a.detach(s.id)} disabled={busy.has(`detach:${s.id}`)} data-testid={`detach-${s.id}`}>
            Detach
          </button>
        ) : (
          <button
            type="button"
            onClick={() => void a.attach(s.id)}
            disabled={!s.up || busy.has(`attach:${s.id}`)}
            data-testid={`attach-${s.id}`}
          >
            Attach
          </button>
        )}
        <button
          type="button"
          class="primary"
          onClick={() => void a.hop(s.id)}
          disabled={!s.up || onlyHere || busy.has(`hop:${s.id}`)}
          data-testid={`hop-${s.id}`}
        >
          {busy.has(`hop:${s.id}`) ? 'Hopping…' : 'Hop here'}
        </button>
        <button
          type="button"
          class="danger"
          onClick={() => void a.loseCoverage(s.id)}
          disabled={!attached || busy.has(`lose:${s.id}`)}
          data-testid={`lose-${s.id}`}
        >
          Lose coverage
        </button>
        {s.up ? (
          <button type="button" onClick={() => void a.setStationUp(s.id, false)} disabled={busy.has(`admin:${s.id}`)} data-testid={`station-down-${s.id}`}>
            Take down
          </button>
        ) : (
          <button type="button" onClick={() => void a.setStationUp(s.id, true)} disabled={busy.has(`admin:${s.id}`)} data-testid={`station-up-${s.id}`}>
            Bring up
          </button>
        )}
      </div>
    </li>
  );
}

function Overlap({ ui }: { ui: UiState }) {
  const value = ui.overlapMs.value;
  const set = (e: Event): void => ui.actions.setOverlapMs(Number((e.currentTarget as HTMLInputElement).value));
  return (
    <div class="overlap">
      <label for="overlap-input">Overlap (make-before-break)</label>
      <div class="row">
        <input
          type="range"
          min={0}
          max={OVERLAP_MAX_MS}
          step={50}
          value={value}
          onInput={set}
          aria-label="Overlap in milliseconds"
          data-testid="overlap-slider"
        />
        <input id="overlap-input" type="number" min={0} max={OVERLAP_MAX_MS} step={50} value={value} onChange={set} data-testid="overlap" />
        <span class="muted">ms</span>
      </div>
    </div>
  );
}
