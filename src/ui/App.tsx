import type { Signal } from '@preact/signals';
import type { ClientConfig } from '../../signaling-server/contracts.ts';
import type { SelfCheck } from '../runtime/selfcheck.ts';
import { SelfCheckCard } from './SelfCheckCard.tsx';

export interface AppState {
  config: Signal<ClientConfig | null>;
  selfcheck: Signal<SelfCheck | null>;
  checking: Signal<boolean>;
}

/** The page before a runtime exists: the introduction and the self-check. */
export function App({ state, onRecheck }: { state: AppState; onRecheck: () => void }) {
  return (
    <main class="page">
      <header>
        <h1 data-testid="title">net2o handover</h1>
        <Lead />
      </header>
      <SelfCheckCard state={state} onRecheck={onRecheck} />
    </main>
  );
}

export function Lead() {
  return (
    <p class="lead">
      A live, encrypted session between two browser tabs that keeps running while <em>both</em> ends change
      networks. Each tab is a mobile node; a <strong>station</strong> is a TURN relay it attaches to, so
      switching stations really changes its address. As in net2o, a connection is named by an address the
      receiver chose, replies go to the return address of the last authentic packet, and a node that changes
      station pings its peers from the new address, with the old one kept open until the new one works.
    </p>
  );
}
