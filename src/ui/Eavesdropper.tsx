// "What an eavesdropper sees": only the clear header of each packet (size, flags, tags, the 64-bit address as
// connection tag ‖ packet number), and the three attacks an on-path attacker can try, each rejected.

import type { AttackKind, AttackResult } from '../runtime/api.ts';
import { hex2, peerName, seconds, splitAddress } from './format.ts';
import type { UiState } from './state.ts';
import { useSignal } from '@preact/signals';

export const WIRE_ROWS_SHOWN = 12;

const ATTACKS: { kind: AttackKind; label: string; what: string }[] = [
  { kind: 'forge', label: 'Forge', what: 'a packet to a live address with a made-up body and tag' },
  { kind: 'replay', label: 'Replay', what: 'an authentic packet sent again' },
  { kind: 'hijack', label: 'Hijack', what: 'a packet from a new path, claiming to be the peer, to steal the return address' },
  { kind: 'relay-replay', label: 'Relay replay', what: 'a malicious signaling server replays an earlier resumption' },
  { kind: 'relay-forge', label: 'Relay forge', what: 'a malicious signaling server delivers a resumption under the wrong keys' },
];

export function Eavesdropper({ ui }: { ui: UiState }) {
  const snap = ui.snapshot.value;
  const rows = ui.wire.value.slice(-WIRE_ROWS_SHOWN).reverse();
  const target = useSignal<string>('');
  const peerId = target.value || snap.peers[0]?.peerId;
  const last = ui.attackResults.value[0];
  return (
    <section class="card" aria-labelledby="eaves-heading" data-testid="eavesdropper">
      <div class="card-head">
        <h2 id="eaves-heading">What an eavesdropper sees</h2>
      </div>
      <p class="muted small">
        The address travels in clear: an observer learns which connections are live and how many packets they carry.
        Everything else is encrypted; flags, tags and address are authenticated, so only the keys let a packet in.
      </p>
      <div class="table-wrap">
        <table class="wire" data-testid="wire-table">
          <thead>
            <tr>
              <th class="wide-only">time</th>
              <th>dir</th>
              <th class="wide-only">peer</th>
              <th>size</th>
              <th title="flags / tags byte">fl/tg</th>
              <th>address: tag ‖ packet number</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((w, i) => {
              const a = splitAddress(w.address, w.connectionTag, w.packetNumber);
              return (
                <tr key={`${w.at}-${i}`} data-testid="wire-row" data-direction={w.direction}>
                  <td class="wide-only">{seconds(w.at)}</td>
                  <td>{w.direction === 'in' ? '← in' : '→ out'}</td>
                  <td class="wide-only">{peerName(snap, w.peerId) ?? '?'}</td>
                  <td>{w.size}</td>
                  <td class="mono">
                    {hex2(w.flags)}/{hex2(w.tags)}
                  </td>
                  <td class="mono addr">
                    <span class="tag">{a.tag}</span>
                    <span class="sep"> ‖ </span>
                    <span class="pn">{a.pn}</span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {rows.length === 0 && <p class="muted small">No packets yet.</p>}
      </div>

      <h3>Try an attack</h3>
      {snap.peers.length > 1 && (
        <label class="row small">
          against
          <select value={peerId} onChange={(e) => (target.value = (e.currentTarget as HTMLSelectElement).value)} data-testid="attack-peer">
            {snap.peers.map((p) => (
              <option key={p.peerId} value={p.peerId}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <div class="row attacks">
        {ATTACKS.map((a) => (
          <button
            key={a.kind}
            type="button"
            class="danger"
            title={a.what}
            disabled={!peerId || ui.busy.value.has(`attack:${a.kind}`)}
            onClick={() => void ui.actions.attack(a.kind, peerId)}
            data-testid={`attack-${a.kind}`}
          >
            {a.label}
          </button>
        ))}
      </div>
      <AttackOutcome result={last} />
    </section>
  );
}

function AttackOutcome({ result }: { result: AttackResult | undefined }) {
  if (!result) {
    return (
      <p class="attack-result muted small" data-testid="attack-result" data-state="none">
        No attack tried yet.
      </p>
    );
  }
  const safe = result.rejected && result.returnAddressUnchanged;
  return (
    <p
      class={`attack-result ${safe ? 'ok' : 'bad'}`}
      data-testid="attack-result"
      data-state="done"
      data-kind={result.kind}
      data-rejected={String(result.rejected)}
      data-reason={result.reason}
      data-return-unchanged={String(result.returnAddressUnchanged)}
      role="status"
    >
      <strong>{result.kind}</strong>: {result.rejected ? `rejected (${result.reason})` : 'ACCEPTED'} ·{' '}
      {result.returnAddressUnchanged ? 'return address unchanged' : 'return address MOVED'}
    </p>
  );
}
