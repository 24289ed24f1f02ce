// Dev page: the demo UI against the deterministic fake runtime (no WebRTC, no stations). Vite serves it at
// /ui-preview.html. `window.net2oPreview.runtime` lets a test or the console drive the fake directly.

import { render } from 'preact';
import { Demo } from './Demo.tsx';
import { FakeRuntime, startFakeClock } from './fake-runtime.ts';
import './styles.css';

declare global {
  interface Window {
    net2oPreview?: { runtime: FakeRuntime };
  }
}

const runtime = new FakeRuntime({ streaming: 50 });
startFakeClock(runtime);
window.net2oPreview = { runtime };

render(<Demo runtime={runtime} />, document.getElementById('app')!);
