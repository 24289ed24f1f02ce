// The demo UI against the fake runtime (/ui-preview.html, Vite dev): clicking hop, lose coverage, an attack and
// chat changes what the page shows; no console errors; no horizontal scrolling at 375 px; screenshots in light
// and dark at desktop and phone width go to SCREENSHOTS_DIR (harness.ts).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectConsoleErrors, launchBrowser, SCREENSHOTS_DIR, startTestStack, type ConsoleErrors, type TestBrowser, type TestStack } from './harness.ts';

const SCREENSHOTS = SCREENSHOTS_DIR;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };

const attr = (l: Locator, name: string) => l.getAttribute(name);
const text = (l: Locator) => l.textContent();

async function pathLocals(page: Page, peerId: string): Promise<string[]> {
  return page
    .getByTestId(`peer-${peerId}`)
    .getByTestId('path-row')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-local') ?? ''));
}

async function returnPath(page: Page, peerId: string): Promise<string | null> {
  const rows = page.getByTestId(`peer-${peerId}`).locator('[data-testid="path-row"][data-return="true"]');
  return (await rows.count()) === 1 ? rows.getAttribute('data-local') : null;
}

describe('demo UI on the fake runtime', () => {
  let stack: TestStack | undefined;
  let browser: TestBrowser | undefined;
  let page: Page;
  let consoleErrors: ConsoleErrors;

  beforeAll(async () => {
    stack = await startTestStack({ web: 'dev' });
    browser = await launchBrowser();
    page = await browser.newPage();
    consoleErrors = collectConsoleErrors(page);
    await page.setViewportSize(DESKTOP);
    await page.goto(new URL('/ui-preview.html', stack.webUrl).href);
    await page.getByTestId('peer-peer-bob').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('renders who we are, the invite with its QR code, stations and peers', async () => {
    expect(await text(page.getByTestId('title'))).toBe('net2o handover');
    expect(await text(page.getByTestId('node-name'))).toBe('Alice');
    expect(await text(page.getByTestId('signaling-status'))).toBe('connected');
    const link = await text(page.getByTestId('invite-link'));
    expect(link).toMatch(/^http:\/\/.+#room=demo-room&invite=/);
    expect(await page.getByTestId('qr').locator('svg path').count()).toBe(1);
    await page.getByTestId('copy-invite').click();
    await expect.poll(() => attr(page.getByTestId('copy-invite'), 'data-state')).not.toBe('idle');
    for (const id of ['cell-a', 'cell-b', 'wifi']) await page.getByTestId(`station-row-${id}`).waitFor();
    expect(await attr(page.getByTestId('station-row-cell-a'), 'data-attachment')).toBe('active');
    expect(await pathLocals(page, 'peer-bob')).toEqual(['cell-a']);
    expect(await returnPath(page, 'peer-bob')).toBe('cell-a');
    // The stream is live: the counter grows and the trace says so.
    const first = Number(await text(page.getByTestId('counter-delivered-peer-bob')));
    await expect.poll(async () => Number(await text(page.getByTestId('counter-delivered-peer-bob')))).toBeGreaterThan(first);
    await expect.poll(() => attr(page.getByTestId('stream-trace-peer-bob'), 'data-live')).toBe('true');
    expect(await page.getByTestId('wire-row').count()).toBeGreaterThan(0);
  });

  it('"Hop here" moves the paths and the return address, and counts the hop', async () => {
    await page.getByTestId('hop-wifi').click();
    await expect.poll(() => attr(page.getByTestId('station-row-wifi'), 'data-attachment')).toBe('active');
    await expect.poll(() => pathLocals(page, 'peer-bob')).toEqual(['wifi']);
    expect(await returnPath(page, 'peer-bob')).toBe('wifi');
    await expect.poll(() => text(page.getByTestId('counter-hops-peer-bob'))).toBe('1');
    expect(await text(page.getByTestId('counter-moves-peer-bob'))).toBe('1');
    expect(await text(page.getByTestId('counter-lost-peer-bob'))).toBe('0');
    expect(await attr(page.getByTestId('station-row-cell-a'), 'data-attachment')).toBe('detached');
    await expect.poll(async () => Number(await attr(page.getByTestId('live-chart'), 'data-markers'))).toBeGreaterThanOrEqual(3);
  });

  it('"Lose coverage" fails over to the other station', async () => {
    await page.getByTestId('attach-cell-b').click();
    await expect.poll(() => pathLocals(page, 'peer-carol')).toEqual(['wifi', 'cell-b']);
    await page.getByTestId('lose-wifi').click();
    await expect.poll(() => attr(page.getByTestId('station-row-wifi'), 'data-attachment')).toBe('detached');
    await expect.poll(() => text(page.getByTestId('counter-failovers-peer-carol'))).toBe('1');
    expect(await pathLocals(page, 'peer-carol')).toEqual(['cell-b']);
    expect(await returnPath(page, 'peer-carol')).toBe('cell-b');
    await page.getByTestId('log-text').fill('failover');
    await expect.poll(() => page.getByTestId('log-entry').evaluateAll((es) => es.map((e) => e.getAttribute('data-kind')))).toEqual([
      'failover',
      'failover',
    ]);
    await page.getByTestId('log-text').fill('');
  });

  it('station outage, overlap, signaling', async () => {
    await page.getByTestId('station-down-cell-a').click();
    await expect.poll(() => attr(page.getByTestId('station-row-cell-a'), 'data-up')).toBe('false');
    expect(await page.getByTestId('hop-cell-a').isDisabled()).toBe(true);
    await page.getByTestId('station-up-cell-a').click();
    await expect.poll(() => attr(page.getByTestId('station-row-cell-a'), 'data-up')).toBe('true');

    await page.getByTestId('overlap').fill('800');
    await page.getByTestId('overlap').press('Enter');
    await expect.poll(() => page.evaluate(() => window.net2oPreview!.runtime.overlapMs())).toBe(800);

    await page.getByTestId('disconnect-signaling').click();
    await expect.poll(() => text(page.getByTestId('signaling-status'))).toBe('closed');
    expect(await page.getByTestId('disconnect-signaling').isDisabled()).toBe(true);
  });

  it('an attack is rejected and the result says so', async () => {
    await page.getByTestId('attack-forge').click();
    const result = page.getByTestId('attack-result');
    await expect.poll(() => attr(result, 'data-state')).toBe('done');
    expect(await attr(result, 'data-rejected')).toBe('true');
    expect(await attr(result, 'data-reason')).toBe('tag');
    expect(await attr(result, 'data-return-unchanged')).toBe('true');
    await expect.poll(() => text(page.getByTestId('counter-rejected-peer-bob'))).toBe('1');
    await page.getByTestId('attack-replay').click();
    await expect.poll(() => attr(result, 'data-reason')).toBe('replay');
    await page.getByTestId('attack-relay-forge').click();
    await expect.poll(() => attr(result, 'data-kind')).toBe('relay-forge');
    expect(await attr(result, 'data-rejected')).toBe('true');
  });

  it('chat lines go out and replies come back', async () => {
    await page.getByTestId('chat-input').fill('hello across the hop');
    await page.getByTestId('chat-send').click();
    expect(await page.getByTestId('chat-input').inputValue()).toBe('');
    const log = page.getByTestId('chat-log');
    await expect.poll(() => text(log)).toContain('hello across the hop');
    await expect.poll(() => page.getByTestId('chat-line').count()).toBe(3);
    expect(await text(log)).toContain('Bob');
  });

  it('stream stop and start', async () => {
    await page.getByTestId('stop-stream').click();
    await expect.poll(() => text(page.getByTestId('stream-status'))).toBe('off');
    await page.getByTestId('stream-rate').fill('80');
    await page.getByTestId('start-stream').click();
    await expect.poll(() => text(page.getByTestId('stream-status'))).toBe('80 msg/s');
  });

  it('fits a 375 px phone without horizontal scrolling', async () => {
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(200);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(375);
    await page.setViewportSize(DESKTOP);
  });

  it('saves screenshots (light and dark, desktop and phone) with no console errors', async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    // A hop in view of the chart makes the screenshots show markers.
    await page.getByTestId('hop-wifi').click();
    await expect.poll(() => attr(page.getByTestId('station-row-wifi'), 'data-attachment')).toBe('active');
    await page.waitForTimeout(1500);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [name, size] of [
        ['desktop', DESKTOP],
        ['phone', PHONE],
      ] as const) {
        await page.setViewportSize(size);
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.waitForTimeout(150);
        if (name === 'phone') expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
        const path = join(SCREENSHOTS, `ui-${name}-${scheme}.png`);
        if (name === 'desktop') {
          await page.screenshot({ path, fullPage: true });
        } else {
          // The phone page is long; keep the PNG small: from the networks card through the first peer.
          const top = await page.getByTestId('networks').evaluate((el) => el.getBoundingClientRect().top + window.scrollY);
          await page.screenshot({ path, fullPage: true, clip: { x: 0, y: top, width: PHONE.width, height: 1700 } });
        }
      }
    }
    await page.emulateMedia({ colorScheme: null });
    await page.setViewportSize(DESKTOP);
    expect(consoleErrors.errors).toEqual([]);
  });
});
