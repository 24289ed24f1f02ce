// Page bootstrap: load the runtime config, render the app, run the first self-check, expose `window.net2oDemo`.

import { signal } from '@preact/signals';
import { render } from 'preact';
import type { ClientConfig } from '../signaling-server/contracts.ts';
import { loadConfig, loadStations } from './runtime/config.ts';
import { checkSodium, runSelfCheck, type SelfCheck } from './runtime/selfcheck.ts';
import { App, type AppState } from './ui/App.tsx';
import './ui/styles.css';

/** What tests and the console can drive. Later issues extend it. */
export interface Net2oDemo {
  /** Resolves once the config is loaded and libsodium is initialised. */
  ready: Promise<void>;
  /** Runs a fresh self-check; the page shows its result too. */
  selfcheck(): Promise<SelfCheck>;
}

declare global {
  interface Window {
    net2oDemo: Net2oDemo;
  }
}

const state: AppState = {
  config: signal<ClientConfig | null>(null),
  selfcheck: signal<SelfCheck | null>(null),
  checking: signal(false),
};

let configLoaded: Promise<ClientConfig> | undefined;
const config = (): Promise<ClientConfig> => (configLoaded ??= loadConfig());

async function runCheck(): Promise<SelfCheck> {
  const cfg = await config();
  state.checking.value = true;
  try {
    const result = await runSelfCheck(() => loadStations(cfg));
    state.selfcheck.value = result;
    return result;
  } finally {
    state.checking.value = false;
  }
}

// One check at a time: a call made while a check runs starts a fresh one after it.
let lastCheck: Promise<unknown> = Promise.resolve();
function selfcheck(): Promise<SelfCheck> {
  const next = lastCheck.then(runCheck, runCheck);
  lastCheck = next.catch(() => {});
  return next;
}

const ready = (async () => {
  state.config.value = await config();
  await checkSodium();
})();

window.net2oDemo = { ready, selfcheck };

render(<App state={state} onRecheck={() => void selfcheck()} />, document.getElementById('app')!);

void ready.then(() => selfcheck());
