// The demo page a person opens: who we are, the invite, the networks, every peer with its paths and counters,
// the live stream, chat, what an eavesdropper sees, the event log and the self-check. It renders a RuntimeApi
// through one bridge (state.ts), so it runs against the real runtime or the fake one (ui-preview.html).
//
// Mount:  <Demo runtime={runtime} selfcheck={{ state, onRecheck }} />
//   runtime    any RuntimeApi (NodeRuntime, FakeRuntime); the bridge subscribes on mount, unsubscribes on unmount
//   selfcheck  optional: main.tsx's AppState and its re-run action, shown as the collapsible Self-check card
//   options    optional UiStateOptions (clock, scheduler); the default clock is the runtime's now() if it has
//              one (LogEntry.at's clock), else performance.now()
//
// data-testids (stable; tests click and read these):
//   title                          h1 "net2o handover"
//   node-name, node-fingerprint, room
//   signaling-status               text = RuntimeSnapshot.signaling; data-state likewise
//   disconnect-signaling           button
//   move-panel                     data-phase = MoveProgress.phase; start-move (button), move-status, move-link, move-forwarded
//   action-error, dismiss-error    the last failed action (only while there is one)
//   invite-link                    <a>, text and href = the invite link
//   copy-invite                    button; data-state idle | copied | failed
//   qr                             the QR code (contains one <svg>)
//   networks                       the Networks card
//   station-row-<id>               data-attachment active|leaving|detached, data-up true|false
//   station-attachment-<id>, station-updown-<id>   the two badges
//   attach-<id> | detach-<id>      one of the two, by attachment (detached → attach-<id>)
//   hop-<id>                       "Hop here" (make-before-break)
//   lose-<id>                      "Lose coverage" (abrupt detach)
//   station-down-<id> | station-up-<id>   one of the two, by StationView.up
//   overlap, overlap-slider        number input and range (ms); both commit to runtime.setOverlapMs
//   stream-status                  "N msg/s" or "off"
//   stream-rate, start-stream, stop-stream
//   live-chart                     <figure>; data-markers = hop markers in view; chart-marker lines (data-kind)
//   peer-<peerId>                  one card per peer; data-state handshaking|established|closed
//   peer-state-<peerId>, no-paths-<peerId>, recovering-<peerId> (only while PeerView.recovering)
//   path-row                       one per path, inside peer-<peerId>; data-path-id, data-local, data-remote,
//                                  data-phase, data-active, data-return; return-mark inside the return path's row
//   stream-trace-<peerId>          scrolling trace; data-live true|false
//   counter-<name>-<peerId>        text = the value; name ∈ sent delivered lost duplicated reordered maxgap
//                                  latency hops failovers moves rejected (maxgap/latency read "N ms" or "–")
//   chat-log (chat-line items), chat-input, chat-send
//   eavesdropper, wire-table, wire-row (data-direction in|out)
//   attack-peer (select, only with 2+ peers), attack-forge, attack-replay, attack-hijack,
//                                  attack-relay-replay, attack-relay-forge
//   attack-result                  data-state none|done, data-kind, data-rejected, data-reason,
//                                  data-return-unchanged
//   event-log (log-entry items, data-kind), event-count, log-text, log-filter-<group>
//                                  (group ∈ hops paths return-address security session system)
//   selfcheck-details              the collapsible around the self-check card; inside it the card's own
//                                  testids (selfcheck, selfcheck-rerun, check-sodium, check-simple-peer, station-<id>…)

import { useEffect, useMemo } from 'preact/hooks';
import type { RuntimeApi } from '../runtime/api.ts';
import type { AppState } from './App.tsx';
import { Chat } from './Chat.tsx';
import { Eavesdropper } from './Eavesdropper.tsx';
import { EventLog } from './EventLog.tsx';
import { Invite } from './Invite.tsx';
import { MovePanel } from './MovePanel.tsx';
import { NetworksPanel } from './NetworksPanel.tsx';
import { PeerView } from './PeerView.tsx';
import { SelfCheckCard } from './SelfCheckCard.tsx';
import { createUiState, type UiState, type UiStateOptions } from './state.ts';
import { StreamPanel } from './StreamPanel.tsx';

export interface DemoProps {
  runtime: RuntimeApi;
  selfcheck?: { state: AppState; onRecheck: () => void };
  options?: UiStateOptions;
}

export function Demo({ runtime, selfcheck, options }: DemoProps) {
  // One bridge per runtime; options are read once (they configure clocks, not content).
  const ui = useMemo(() => createUiState(runtime, options), [runtime]);
  useEffect(() => () => ui.dispose(), [ui]);
  return <DemoView ui={ui} selfcheck={selfcheck} />;
}

export function DemoView({ ui, selfcheck }: { ui: UiState; selfcheck?: DemoProps['selfcheck'] | undefined }) {
  const snap = ui.snapshot.value;
  return (
    <main class="page demo">
      <Header ui={ui} />
      <ErrorBanner ui={ui} />
      <div class="grid">
        <Invite link={ui.inviteLink.value} />
        <NetworksPanel ui={ui} />
      </div>
      <StreamPanel ui={ui} />
      {snap.peers.length === 0 ? (
        <section class="card" data-testid="no-peers">
          <h2>Peers</h2>
          <p class="muted">No peer yet. Open the invite link in another tab or on a phone.</p>
        </section>
      ) : (
        <div class="grid peers">
          {snap.peers.map((p, i) => (
            <PeerView key={p.peerId} ui={ui} peer={p} index={i} />
          ))}
        </div>
      )}
      <div class="grid">
        <Chat ui={ui} />
        <Eavesdropper ui={ui} />
      </div>
      <MovePanel ui={ui} />
      <EventLog ui={ui} />
      {selfcheck && (
        <details class="selfcheck-details" data-testid="selfcheck-details" open>
          <summary>Self-check</summary>
          <SelfCheckCard state={selfcheck.state} onRecheck={selfcheck.onRecheck} />
        </details>
      )}
    </main>
  );
}

function Header({ ui }: { ui: UiState }) {
  const snap = ui.snapshot.value;
  const connected = snap.signaling === 'connected' || snap.signaling === 'connecting';
  return (
    <header class="demo-header">
      <div>
        <h1 data-testid="title">net2o handover</h1>
        <p class="identity">
          You are <strong data-testid="node-name">{snap.name}</strong>
          <span class="sep"> · </span>
          fingerprint <code data-testid="node-fingerprint">{snap.fingerprint}</code>
          <span class="sep"> · </span>
          room <code data-testid="room">{snap.room}</code>
        </p>
      </div>
      <div class="signaling">
        <span class="muted small">signaling</span>
        <span class={`badge ${snap.signaling === 'connected' ? 'ok' : 'warn'}`} data-testid="signaling-status" data-state={snap.signaling}>
          {snap.signaling}
        </span>
        <button
          type="button"
          onClick={() => ui.actions.disconnectSignaling()}
          disabled={!connected}
          title="Open sessions and hops must keep working without the signaling server"
          data-testid="disconnect-signaling"
        >
          Disconnect signaling
        </button>
      </div>
    </header>
  );
}

function ErrorBanner({ ui }: { ui: UiState }) {
  const error = ui.lastError.value;
  if (!error) return null;
  return (
    <div class="error-banner" role="alert">
      <span data-testid="action-error">{error}</span>
      <button type="button" onClick={() => ui.actions.clearError()} data-testid="dismiss-error" aria-label="Dismiss">
        ×
      </button>
    </div>
  );
}
