// The demo as a person uses it: everything here is clicked and read in the DOM of the real page (real
// runtime, WebRTC, stations), not driven through net2oDemo. Saves screenshots of the main states.
import { mkdir } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectConsoleErrors, launchBrowser, SCREENSHOTS_DIR, startTestStack, type TestBrowser, type TestStack } from './harness.ts';
import { sleep, waitFor } from './pages.ts';

const SHOTS = SCREENSHOTS_DIR;

const text = (p: Page, testid: string) => p.getByTestId(testid).first().innerText();
const counter = async (p: Page, name: string) => {
  const el = p.locator(`[data-testid^="counter-${name}-"]`).first();
  return (await el.innerText()).trim();
};

describe('the demo UI, clicked', () => {
  let stack: TestStack;
  let browser: TestBrowser;
  beforeAll(async () => {
    stack = await startTestStack({ web: 'dev' });
    browser = await launchBrowser();
    await mkdir(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('two tabs connect from the invite link; a clicked hop shows in the counters with nothing lost; attacks show as rejected', async () => {
    const p1 = await browser.newPage();
    const e1 = collectConsoleErrors(p1);
    await p1.setViewportSize({ width: 1280, height: 900 });
    await p1.goto(`${stack.webUrl.replace(/\/$/, '')}/?name=Ada&station=cell-a`);
    const link = await p1.getByTestId('invite-link').getAttribute('href');
    expect(link).toMatch(/#room=[\w-]+&secret=[\w-]+$/);
    const p2 = await browser.newPage();
    const e2 = collectConsoleErrors(p2);
    await p2.setViewportSize({ width: 1280, height: 900 });
    await p2.goto(link!.replace('#', '?name=Bernd&station=cell-b#'));
    for (const p of [p1, p2]) await p.locator('[data-testid^="peer-"][data-state="established"]').first().waitFor({ timeout: 15_000 });

    for (const p of [p1, p2]) {
      await p.getByTestId('stream-rate').fill('100');
      await p.getByTestId('start-stream').click();
    }
    await sleep(800);
    await p1.getByTestId('hop-wifi').click();
    await waitFor(() => counter(p1, 'hops'), (v) => v === '1', 5_000);
    // The active path now starts at Wi-Fi, and the peer's return address followed.
    await p1.locator('[data-testid="path-row"][data-active="true"][data-local="wifi"]').waitFor({ timeout: 5_000 });
    await p2.locator('[data-testid="path-row"][data-return="true"][data-remote="wifi"]').waitFor({ timeout: 5_000 });
    await sleep(800);
    await p1.screenshot({ path: `${SHOTS}/demo-after-hop.png` });
    for (const p of [p1, p2]) await p.getByTestId('stop-stream').click();
    await sleep(500);
    for (const p of [p1, p2]) {
      expect(await counter(p, 'lost')).toBe('0');
      expect(await counter(p, 'duplicated')).toBe('0');
      expect(Number(await counter(p, 'delivered'))).toBeGreaterThan(100);
    }
    // What an eavesdropper sees, and attacks that fail.
    for (const kind of ['forge', 'replay', 'hijack'] as const) {
      await p2.getByTestId(`attack-${kind}`).click();
      const r = p2.getByTestId('attack-result');
      await waitFor(() => r.getAttribute('data-kind'), (k) => k === kind, 5_000);
      expect(await r.getAttribute('data-rejected')).toBe('true');
      expect(await r.getAttribute('data-return-unchanged')).toBe('true');
    }
    // The counters follow at the UI's next refresh.
    await waitFor(() => counter(p2, 'rejected'), (v) => Number(v) >= 3, 3_000);
    expect(await p2.getByTestId('wire-row').count()).toBeGreaterThan(0);
    await p2.screenshot({ path: `${SHOTS}/demo-attacks.png` });
    // Take a station down for everyone and bring it back (through the signaling server's admin endpoint).
    const row = p1.getByTestId('station-row-cell-a');
    await p1.getByTestId('station-down-cell-a').click();
    await waitFor(() => row.getAttribute('data-up'), (v) => v === 'false', 5_000);
    expect(stack.stations.list().find((st) => st.id === 'cell-a')!.up).toBe(false);
    await p1.getByTestId('station-up-cell-a').click();
    await waitFor(() => row.getAttribute('data-up'), (v) => v === 'true', 5_000);
    expect(await p1.getByTestId('action-error').count()).toBe(0);
    // The event log says what happened, in words.
    expect(await text(p1, 'event-log')).toMatch(/hop to Wi-Fi finished/);
    expect(e1.errors).toEqual([]);
    expect(e2.errors).toEqual([]);
    // Phone width: nothing scrolls sideways.
    await p1.setViewportSize({ width: 375, height: 800 });
    expect(await p1.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await p1.screenshot({ path: `${SHOTS}/demo-phone.png` });

    // "Move to another tab": the button opens the new tab; the old one hands over and stops.
    const [tab2] = await Promise.all([p1.context().waitForEvent('page'), p1.getByTestId('start-move').click()]);
    await tab2.waitForLoadState();
    await waitFor(() => p1.getByTestId('move-panel').getAttribute('data-phase'), (ph) => ph === 'done', 15_000);
    await tab2.locator('[data-testid^="peer-"][data-state="established"]').first().waitFor({ timeout: 5_000 });
    for (const p of [p1, p2, tab2]) await p.close();
  }, 120_000);
});
