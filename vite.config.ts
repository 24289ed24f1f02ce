import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// simple-peer's CommonJS entry needs Node globals (`global`, `events`, `process`) that Vite does not
// polyfill; its prebuilt browser bundle needs none (measured: shared/DESIGN.md §5).
export default defineConfig({
  // preact/debug (the devtools hook) costs the page main-thread time on every render; the demo renders live
  // counters ~7 times a second while the protocol runs on the same thread. Measured with a CPU profile: ~5% of
  // the page's time at 200 msg/s. Enable it when debugging components: NET2O_PREACT_DEBUG=1 npm start.
  plugins: [preact({ devToolsEnabled: process.env.NET2O_PREACT_DEBUG === '1' })],
  resolve: {
    alias: { 'simple-peer': 'simple-peer/simplepeer.min.js' },
  },
  build: {
    target: 'es2022',
    sourcemap: true,
    // The demo, and the UI preview on the fake runtime (no stations needed).
    rolldownOptions: {
      input: {
        main: fileURLToPath(new URL('index.html', import.meta.url)),
        'ui-preview': fileURLToPath(new URL('ui-preview.html', import.meta.url)),
      },
    },
  },
  // Pre-bundle every browser dependency up front: a dependency discovered while a page runs makes Vite reload
  // the page, which would drop that tab's node and its sessions.
  optimizeDeps: {
    include: ['preact', 'preact/hooks', 'preact/jsx-runtime', '@preact/signals', 'libsodium-wrappers', 'simple-peer', 'uqr'],
  },
  server: { strictPort: true },
  preview: { strictPort: true },
});
