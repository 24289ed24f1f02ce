// Foundation: the page loads from the local stack, libsodium and simple-peer initialise in Chromium, every
// station grants a relay allocation, a station outage through the admin endpoint shows up in the self-check,
// and stopping the stack frees every port.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SelfCheck } from '../../src/runtime/selfcheck.ts';
import type { Net2oDemo } from '../../src/main.tsx';
import {
  collectConsoleErrors,
  isPortFree,
  launchBrowser,
  startTestStack,
  type ConsoleErrors,
  type TestBrowser,
  type TestStack,
} from './harness.ts';

const web = (process.env.NET2O_E2E_WEB as 'dev' | 'static' | undefined) ?? 'dev';

describe('foundation', () => {
  let stack: TestStack | undefined;
  let browser: TestBrowser | undefined;
  let page: Page;
  let consoleErrors: ConsoleErrors;

  beforeAll(async () => {
    stack = await startTestStack({ web });
    browser = await launchBrowser();
    page = await browser.newPage();
    consoleErrors = collectConsoleErrors(page);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const selfcheck = (): Promise<SelfCheck> =>
    page.evaluate(() => (window as unknown as { net2oDemo: Net2oDemo }).net2oDemo.selfcheck());

  it('loads the page and every building block initialises', async () => {
    const started = performance.now();
    await page.goto(stack!.webUrl);
    await expect.poll(() => page.getByTestId('title').textContent()).toBe('net2o handover');
    await page.evaluate(() => (window as unknown as { net2oDemo: Net2oDemo }).net2oDemo.ready);
    console.log(`page load to ready: ${Math.round(performance.now() - started)} ms (web: ${web})`);

    // The page's own first self-check, as rendered.
    await page.waitForSelector('[data-testid="selfcheck"][data-state="done"]');
    expect(await page.getByTestId('check-sodium').getAttribute('data-ok')).toBe('true');
    expect(await page.getByTestId('check-simple-peer').getAttribute('data-ok')).toBe('true');

    const result = await selfcheck();
    expect(result.sodium.ok, result.sodium.detail).toBe(true);
    expect(result.simplePeer.ok, result.simplePeer.detail).toBe(true);
    expect(result.stationsError).toBeUndefined();
    const ids = stack!.stations.list().map((s) => s.id);
    expect(result.stations.map((s) => s.id)).toEqual(ids);
    for (const s of result.stations) {
      expect(s.reachable, `${s.id}: ${s.detail}`).toBe(true);
      expect(await page.getByTestId(`station-${s.id}`).getAttribute('data-reachable')).toBe('true');
    }
    console.log(`relay allocation: ${result.stations.map((s) => `${s.id} ${s.ms} ms`).join(', ')}`);
    expect(consoleErrors.errors).toEqual([]);
  });

  it('reports a station taken down as unreachable, and reachable again once it is back', async () => {
    const [first, victim] = stack!.stations.list();
    expect(victim).toBeDefined();

    await stack!.stationAdmin(victim!.id, 'down');
    const down = await selfcheck();
    const downCheck = down.stations.find((s) => s.id === victim!.id)!;
    expect(downCheck.reachable, downCheck.detail).toBe(false);
    expect(downCheck.advertisedUp).toBe(false);
    expect(down.stations.find((s) => s.id === first!.id)?.reachable).toBe(true);
    expect(await page.getByTestId(`station-${victim!.id}-status`).textContent()).toBe('unreachable');
    console.log(`station down detected after ${downCheck.ms} ms (${downCheck.detail})`);

    await stack!.stationAdmin(victim!.id, 'up');
    const up = await selfcheck();
    const upCheck = up.stations.find((s) => s.id === victim!.id)!;
    expect(upCheck.reachable, upCheck.detail).toBe(true);
    expect(await page.getByTestId(`station-${victim!.id}-status`).textContent()).toBe('reachable');

    expect(consoleErrors.errors).toEqual([]);
  });

  it('stop() frees every port', async () => {
    await browser!.close();
    const ports = stack!.ports;
    await stack!.stop();
    await stack!.stop(); // idempotent
    for (const port of ports) expect(await isPortFree(port), `port ${port} still in use`).toBe(true);
  });
});
