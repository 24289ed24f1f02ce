// The whole local stack behind `npm start` and the e2e tests: stations (TURN relays), the signaling server,
// and the web app (Vite dev server, a static server for `dist/`, or nothing).
//
// Start order is stations → signaling → web; a failure stops what already started, in reverse, and rethrows
// one clear message that names the port and the flag/env var that changes it.

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin, ViteDevServer } from 'vite';
import type { ClientConfig } from './contracts.ts';
import { startSignalingServer, type SignalingServer } from './server.ts';
import { startStations, type StationSpec, type Stations } from './stations.ts';

export const DEFAULT_SIGNALING_PORT = 8787;
export const DEFAULT_WEB_PORT = 5173;
export const DEFAULT_HOST = '127.0.0.1';
/** Where the page looks for its runtime config (next to index.html), so the build needs no config baked in. */
export const CLIENT_CONFIG_PATH = '/net2o-config.json';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type WebMode = 'dev' | 'static' | 'none';

export interface StackOptions {
  /** Listen host for every server. Default 127.0.0.1; '0.0.0.0' to let other machines (a phone) in. */
  host?: string;
  /** Host written into URLs handed to browsers. Default: `host`, or the first LAN IPv4 when `host` is a wildcard. */
  advertiseHost?: string;
  signalingPort?: number;
  webPort?: number;
  stations?: StationSpec[];
  stationKind?: 'embedded' | 'coturn' | 'auto';
  web?: WebMode;
  /** Directory served when `web: 'static'`. Default `dist/` in the repository. */
  staticDir?: string;
  log?: (line: string) => void;
}

export interface Stack {
  /** The URL to open; '' when `web: 'none'`. */
  webUrl: string;
  signaling: SignalingServer;
  stations: Stations;
  config: ClientConfig;
  /** Stops web, signaling and stations. Idempotent; resolves when every port is closed. */
  stop(): Promise<void>;
}

/** Where each port is configured, so errors can say what to change. */
const PORT_KNOBS = {
  web: '--port / NET2O_WEB_PORT',
  signaling: '--signaling-port / NET2O_SIGNALING_PORT',
  stations: '--station-ports / NET2O_STATION_PORTS',
} as const;

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const host = opts.host ?? DEFAULT_HOST;
  const advertiseHost = opts.advertiseHost ?? (isWildcard(host) ? (lanIPv4() ?? DEFAULT_HOST) : host);
  const signalingPort = opts.signalingPort ?? DEFAULT_SIGNALING_PORT;
  const webPort = opts.webPort ?? DEFAULT_WEB_PORT;
  const web = opts.web ?? 'dev';
  const log = opts.log ?? (() => {});

  // Stop actions for what has started, run in reverse.
  const stoppers: Array<() => Promise<void>> = [];
  const stopStarted = async (): Promise<void> => {
    while (stoppers.length > 0) {
      const stop = stoppers.pop()!;
      try {
        await stop();
      } catch (err) {
        log(`stack: error while stopping: ${errorMessage(err)}`);
      }
    }
  };

  try {
    let stations: Stations;
    try {
      stations = await startStations({
        ...(opts.stations ? { specs: opts.stations } : {}),
        ...(opts.stationKind ? { kind: opts.stationKind } : {}),
        listenHost: host,
        advertiseHost,
        log,
      });
    } catch (err) {
      throw startError('stations', err, PORT_KNOBS.stations);
    }
    stoppers.push(() => stations.stop());

    let signaling: SignalingServer;
    try {
      signaling = await startSignalingServer({
        port: signalingPort,
        host,
        stations: () => stations.list(),
        onStationAdmin: (id, action) => (action === 'down' ? stations.down(id) : stations.up(id)),
        log,
      });
    } catch (err) {
      throw startError('signaling server', err, PORT_KNOBS.signaling, signalingPort);
    }
    stoppers.push(() => signaling.close());

    const signalingHost = `${urlHost(advertiseHost)}:${signaling.port}`;
    const config: ClientConfig = {
      signalingUrl: `ws://${signalingHost}/signal`,
      stationsUrl: `http://${signalingHost}/stations`,
    };

    let webUrl = '';
    if (web !== 'none') {
      try {
        const server =
          web === 'dev'
            ? await startViteDev({ host, port: webPort, config })
            : await startStatic({ host, port: webPort, config, dir: opts.staticDir ?? join(REPO_ROOT, 'dist') });
        stoppers.push(server.close);
        webUrl = `http://${urlHost(advertiseHost)}:${server.port}/`;
      } catch (err) {
        throw startError('web server', err, PORT_KNOBS.web, webPort);
      }
    }

    let stopping: Promise<void> | undefined;
    return {
      webUrl,
      signaling,
      stations,
      config,
      stop: () => (stopping ??= stopStarted()),
    };
  } catch (err) {
    await stopStarted();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Web: Vite dev server

interface WebServer {
  port: number;
  close(): Promise<void>;
}

/** Serves the runtime config at CLIENT_CONFIG_PATH from inside the Vite dev server. */
function clientConfigPlugin(config: ClientConfig): Plugin {
  return {
    name: 'net2o-client-config',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if (req.url?.split('?')[0] !== CLIENT_CONFIG_PATH) return next();
        sendConfig(res, config);
      });
    },
  };
}

async function startViteDev(o: { host: string; port: number; config: ClientConfig }): Promise<WebServer> {
  // Imported lazily: `web: 'none'` and 'static' must not pay for loading Vite.
  const { createServer } = await import('vite');
  // Middleware mode on our own http server: Vite's standalone server installs a SIGTERM handler that calls
  // process.exit(), which would skip stopping the stations. We own the process lifecycle, so we own the socket.
  const httpServer = createHttpServer();
  const vite: ViteDevServer = await createServer({
    configFile: join(REPO_ROOT, 'vite.config.ts'),
    root: REPO_ROOT,
    clearScreen: false,
    logLevel: 'warn',
    appType: 'spa',
    plugins: [clientConfigPlugin(o.config)],
    server: { middlewareMode: true, ws: { server: httpServer } },
  });
  httpServer.on('request', vite.middlewares);
  const close = async (): Promise<void> => {
    await vite.close();
    await closeHttp(httpServer);
  };
  try {
    await listen(httpServer, o.port, o.host);
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return { port: (httpServer.address() as AddressInfo).port, close };
}

// ---------------------------------------------------------------------------------------------------------------
// Web: static server for the `vite build` output

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

async function startStatic(o: { host: string; port: number; config: ClientConfig; dir: string }): Promise<WebServer> {
  const root = resolve(o.dir);
  if (!existsSync(join(root, 'index.html'))) {
    throw new Error(`${join(root, 'index.html')} not found: run \`npm run build\` first`);
  }
  const server = createHttpServer((req, res) => serveStatic(root, o.config, req, res));
  await listen(server, o.port, o.host);
  return {
    port: (server.address() as AddressInfo).port,
    close: () => closeHttp(server),
  };
}

function serveStatic(root: string, config: ClientConfig, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  if (pathname === CLIENT_CONFIG_PATH) return sendConfig(res, config);

  let file = normalize(join(root, pathname));
  if (file !== root && !file.startsWith(root + sep)) {
    res.writeHead(403).end();
    return;
  }
  if (!isFile(file)) {
    // Single-page app: unknown paths without an extension get index.html; missing assets are 404s.
    if (extname(pathname) !== '') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
      return;
    }
    file = join(root, 'index.html');
  }
  const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
  // Hashed assets may be cached forever; index.html must always be revalidated.
  const cache = file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
  res.writeHead(200, { 'content-type': type, 'cache-control': cache });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

function sendConfig(res: ServerResponse, config: ClientConfig): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(config));
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (err: Error): void => fail(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      done();
    });
  });
}

/** Closes `server` without waiting for idle keep-alive connections (an open browser tab). */
function closeHttp(server: Server): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    server.close(() => done());
    server.closeAllConnections();
  });
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** The first non-internal IPv4 address: what a phone on the same Wi-Fi can reach. */
export function lanIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return undefined;
}

/** A host as it appears in a URL: IPv6 literals need brackets. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isPortInUse(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EADDRINUSE' || /EADDRINUSE|already in use|in use/i.test(errorMessage(err));
}

/** One clear message: what failed, and for a taken port, which port and which flag/env var changes it. */
function startError(what: string, err: unknown, knob: string, port?: number): Error {
  const msg = errorMessage(err);
  if (!isPortInUse(err)) return new Error(`Cannot start the ${what}: ${msg}`, { cause: err });
  // The stations name their own port; drop any advice of theirs, ours names the flag.
  const problem = port === undefined ? msg.replace(/\s+—.*$|\.$/, '') : `port ${port} is already in use`;
  return new Error(
    `Cannot start the ${what}: ${problem}. Stop whatever is using it, or choose another port with ${knob}.`,
    { cause: err },
  );
}
