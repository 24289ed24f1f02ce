import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// simple-peer's CommonJS entry needs Node globals (`global`, `events`, `process`) that Vite does not
// polyfill; its prebuilt browser bundle needs none (measured: shared/DESIGN.md §5).
export default defineConfig({
  plugins: [preact()],
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
