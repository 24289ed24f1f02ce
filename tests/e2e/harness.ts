// e2e harness: a headless Chromium (playwright-core, system browser), a full stack on free loopback ports,
// and console-error collection. Every byte a test sends goes to 127.0.0.1.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createTcpServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { DEFAULT_STATIONS, type StationSpec } from '../../signaling-server/stations.ts';
import { startStack, type Stack, type StackOptions } from '../../signaling-server/stack.ts';

export const LOOPBACK = '127.0.0.1';
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Measured on this kind of machine (shared/DESIGN.md §5): what headless Chromium needs here. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Background tabs must keep their timers and WebRTC running.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  /** Closes the browser and removes its profile directory. Idempotent. */
  close(): Promise<void>;
}

/** A fresh headless Chromium with a throwaway profile. */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it or set CHROMIUM_PATH`);
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'net2o-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    newPage: () => context.newPage(),
    close: () =>
      (closing ??= (async () => {
        await context.close().catch(() => {});
        await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
      })()),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Free ports

/** Is `port` free for both TCP and UDP on `host`? (TURN stations listen on both.) */
export async function isPortFree(port: number, host: string = LOOPBACK): Promise<boolean> {
  const tcp = await new Promise<boolean>((done) => {
    const srv = createTcpServer();
    srv.once('error', () => done(false));
    srv.listen(port, host, () => srv.close(() => done(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((done) => {
    const sock = createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      done(false);
    });
    sock.bind(port, host, () => sock.close(() => done(true)));
  });
}

/** `count` distinct ports that are free (TCP and UDP) on 127.0.0.1, from the kernel's ephemeral range. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await new Promise<number>((done, fail) => {
      const srv = createTcpServer();
      srv.once('error', fail);
      srv.listen(0, LOOPBACK, () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => done(p));
      });
    });
    if (!ports.includes(port) && (await isPortFree(port))) ports.push(port);
  }
  return ports;
}

/** True when nothing accepts TCP connections on `port` any more. */
export function isTcpClosed(port: number, host: string = LOOPBACK): Promise<boolean> {
  return isPortFree(port, host);
}

// ---------------------------------------------------------------------------------------------------------------
// Stack

export interface TestStack extends Stack {
  /** Every port the stack listens on (web, signaling, stations). */
  ports: number[];
  /** POSTs to the signaling server's admin endpoint: a simulated station outage or recovery. */
  stationAdmin(id: string, action: 'down' | 'up'): Promise<void>;
}

/** The full stack on free loopback ports, so tests never collide with a running `npm start`. */
export async function startTestStack(
  opts: Pick<StackOptions, 'web' | 'stationKind' | 'staticDir' | 'log'> & { stations?: StationSpec[] } = {},
): Promise<TestStack> {
  const specs = opts.stations ?? DEFAULT_STATIONS;
  // Retry once: a free port can be taken between the check and the bind.
  for (let attempt = 1; ; attempt++) {
    const [signalingPort, webPort, ...stationPorts] = await freePorts(2 + specs.length);
    const stations = specs.map((s, i) => ({ ...s, port: stationPorts[i]! }));
    try {
      const stack = await startStack({
        host: LOOPBACK,
        advertiseHost: LOOPBACK,
        signalingPort: signalingPort!,
        webPort: webPort!,
        stations,
        web: opts.web ?? 'dev',
        ...(opts.stationKind ? { stationKind: opts.stationKind } : {}),
        ...(opts.staticDir ? { staticDir: opts.staticDir } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
      const ports = [stack.signaling.port, ...stations.map((s) => s.port)];
      if (stack.webUrl) ports.push(Number(new URL(stack.webUrl).port));
      return {
        ...stack,
        ports,
        async stationAdmin(id, action) {
          const url = new URL(`/admin/stations/${encodeURIComponent(id)}/${action}`, stack.signaling.httpUrl);
          const res = await fetch(url, { method: 'POST' });
          if (!res.ok) throw new Error(`admin ${action} ${id}: HTTP ${res.status} ${await res.text()}`);
        },
      };
    } catch (err) {
      if (attempt >= 2 || !/in use/i.test(String(err))) throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Console errors

export interface ConsoleErrors {
  /** Errors seen so far: console.error messages, uncaught exceptions, failed requests. */
  readonly errors: string[];
}

/** Collects everything on `page` that a user would see as an error in DevTools. */
export function collectConsoleErrors(page: Page): ConsoleErrors {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  return { errors };
}

/**
 * Where tests save screenshots: test-results/screenshots (ignored by git). To refresh the committed pictures
 * the README shows, run the tests with NET2O_SCREENSHOTS_DIR=docs/screenshots.
 */
export const SCREENSHOTS_DIR = process.env.NET2O_SCREENSHOTS_DIR ?? 'test-results/screenshots';

/** One stack and one browser for a describe block: started in beforeAll, stopped in afterAll. */
export function useStackAndBrowser(opts: Parameters<typeof startTestStack>[0] = { web: 'dev' }): { stack: TestStack; browser: TestBrowser } {
  const env = {} as { stack: TestStack; browser: TestBrowser };
  beforeAll(async () => {
    env.stack = await startTestStack(opts);
    env.browser = await launchBrowser();
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.stack?.stop();
  });
  return env;
}
