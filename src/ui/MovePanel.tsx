// "Move to another tab": net2o's forwarding overlap, as when a virtual machine moves to a new host.
import type { UiState } from './state.ts';

const PHASE_TEXT: Record<string, string> = {
  idle: 'This node lives in this tab.',
  waiting: 'Waiting for the new tab to open the link below…',
  'handing-over': 'Handing the sessions over (keys, packet numbers, streams)…',
  forwarding: 'The node now lives in the new tab; this tab forwards what still reaches it during the overlap.',
  done: 'Moved. This tab is no longer part of any session.',
  aborted: 'The move was cancelled; this tab is still the node.',
};

export function MovePanel({ ui }: { ui: UiState }) {
  const snap = ui.snapshot.value;
  const move = snap.move;
  const busy = ui.busy.value.has('move');
  const canStart = snap.mode === 'node' && (move.phase === 'idle' || move.phase === 'aborted');
  return (
    <section class="card" data-testid="move-panel" data-phase={move.phase} aria-labelledby="move-heading">
      <div class="card-head">
        <h2 id="move-heading">Move to another tab</h2>
        <button
          type="button"
          data-testid="start-move"
          disabled={!canStart || busy}
          onClick={() => void ui.actions.startMove((url) => window.open(url, '_blank'))}
          title="Moves this node's live sessions to a new tab; the peers keep streaming"
        >
          Move to another tab
        </button>
      </div>
      <p data-testid="move-status">{PHASE_TEXT[move.phase] ?? move.phase}</p>
      {move.url && move.phase === 'waiting' && (
        <p class="small">
          <a href={move.url} target="_blank" rel="noopener" data-testid="move-link">
            Open the new tab
          </a>
        </p>
      )}
      {(move.forwardedIn > 0 || move.forwardedOut > 0) && (
        <p class="small muted" data-testid="move-forwarded">
          forwarded: {move.forwardedIn} in, {move.forwardedOut} out
        </p>
      )}
    </section>
  );
}
