// The live stream: start/stop the demo stream (messages per second to every peer) and watch it in the chart.

import { useSignal } from '@preact/signals';
import { LiveChart } from './LiveChart.tsx';
import type { UiState } from './state.ts';

export const DEFAULT_STREAM_RATE = 50;
export const MAX_STREAM_RATE = 1000;

export function StreamPanel({ ui }: { ui: UiState }) {
  const snap = ui.snapshot.value;
  const rate = useSignal(snap.streaming || DEFAULT_STREAM_RATE);
  const streaming = snap.streaming > 0;
  return (
    <section class="card" aria-labelledby="stream-heading">
      <div class="card-head">
        <h2 id="stream-heading">Live stream</h2>
        <span class={`badge ${streaming ? 'ok' : ''}`} data-testid="stream-status">
          {streaming ? `${snap.streaming} msg/s` : 'off'}
        </span>
      </div>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          ui.actions.startStream(rate.value);
        }}
      >
        <label class="row small" for="stream-rate">
          messages / s
        </label>
        <input
          id="stream-rate"
          type="number"
          min={1}
          max={MAX_STREAM_RATE}
          value={rate.value}
          onInput={(e) => (rate.value = Math.min(MAX_STREAM_RATE, Number((e.currentTarget as HTMLInputElement).value)))}
          data-testid="stream-rate"
        />
        <button type="submit" class="primary" disabled={!(rate.value > 0)} data-testid="start-stream">
          {streaming ? 'Set rate' : 'Start'}
        </button>
        <button type="button" onClick={() => ui.actions.stopStream()} disabled={!streaming} data-testid="stop-stream">
          Stop
        </button>
      </form>
      <LiveChart
        series={ui.series.value}
        markers={ui.hopMarkers.value}
        now={ui.now.value}
        windowMs={ui.windowMs}
        peers={snap.peers.map((p, index) => ({ peerId: p.peerId, name: p.name, index }))}
      />
    </section>
  );
}
