// Page bootstrap: load the runtime config, render the app, run the first self-check, expose `window.net2oDemo`.

import { signal } from '@preact/signals';
import { render } from 'preact';
import type { ClientConfig } from '../signaling-server/contracts.ts';
import { loadConfig, loadStations } from './runtime/config.ts';
import { automation, type Net2oDemoApi } from './runtime/automation.ts';
import type { NodeRuntime } from './runtime/node-runtime.ts';
import { startPageRuntime } from './runtime/page.ts';
import { checkSodium, runSelfCheck, type SelfCheck } from './runtime/selfcheck.ts';
import { App, type AppState } from './ui/App.tsx';
import { Demo } from './ui/Demo.tsx';
import './ui/styles.css';

/** What tests and the console can drive (README: "Automation surface"). */
export type Net2oDemo = Partial<Net2oDemoApi> & {
  /** Resolves once the config is loaded, libsodium is initialised and the node joined its room. */
  ready: Promise<void>;
  /** Runs a fresh self-check; the page shows its result too. */
  selfcheck(): Promise<SelfCheck>;
};

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
/** The running node, once it joined its room (the demo UI renders it). */
export const runtimeSignal = signal<NodeRuntime | null>(null);

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

const demo: Net2oDemo = { ready: Promise.resolve(), selfcheck };
demo.ready = (async () => {
  const cfg = await config();
  state.config.value = cfg;
  await checkSodium();
  const runtime = await startPageRuntime(cfg);
  Object.assign(demo, automation(runtime));
  runtimeSignal.value = runtime;
})();
window.net2oDemo = demo;

/** Before the node has joined its room: the introduction and the self-check; then the live demo. */
/** `?ui=0` keeps the page to the self-check (benchmarks measure the protocol, not the rendering). */
const showDemo = new URLSearchParams(location.search).get('ui') !== '0';

function Root() {
  const rt = runtimeSignal.value;
  const onRecheck = () => void selfcheck();
  return rt && showDemo ? <Demo runtime={rt} selfcheck={{ state, onRecheck }} /> : <App state={state} onRecheck={onRecheck} />;
}

render(<Root />, document.getElementById('app')!);

void demo.ready.then(() => selfcheck());
