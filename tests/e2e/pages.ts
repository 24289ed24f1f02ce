// Helpers for tests that drive pages through `window.net2oDemo`.
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Net2oDemo } from '../../src/main.tsx';
import type { TestBrowser, TestStack } from './harness.ts';

export type Demo = Required<Net2oDemo>;

/** Opens a node page: `name` and starting `station` as query parameters, `hash` an invite fragment. */
export async function openNode(browser: TestBrowser, stack: TestStack, name: string, station: string, hash = '', query = ''): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${stack.webUrl.replace(/\/$/, '')}/?name=${name}&station=${station}${query ? `&${query}` : ''}${hash}`);
  await page.evaluate(() => (window as unknown as { net2oDemo: Net2oDemo }).net2oDemo.ready);
  return page;
}

/** Runs `fn` against the page's net2oDemo. */
export function demo<T>(page: Page, fn: (d: Demo, arg: unknown) => T | Promise<T>, arg?: unknown): Promise<T> {
  return page.evaluate(
    ([src, a]) => {
      const f = new Function(`return (${src})`)() as (d: unknown, arg: unknown) => unknown;
      return f((window as unknown as { net2oDemo: unknown }).net2oDemo, a);
    },
    [fn.toString(), arg] as const,
  ) as Promise<T>;
}

export async function inviteHash(page: Page): Promise<string> {
  const link = await demo(page, (d) => d.inviteLink());
  return link.slice(link.indexOf('#'));
}

/** Polls `cond` every 50 ms for at most `timeoutMs`; returns the last value and whether it held. */
export async function waitFor<T>(read: () => Promise<T>, cond: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await read();
  while (!cond(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  if (!cond(v)) throw new Error(`timed out after ${timeoutMs} ms; last value ${JSON.stringify(v).slice(0, 800)}`);
  return v;
}

export const established = (page: Page, n: number) =>
  waitFor(
    () => demo(page, (d) => d.peers().filter((p) => p.state === 'established').length),
    (c) => c >= n,
    15_000,
  );

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops every page's stream, waits until each page delivered what every other page sent it, and checks
 * exactly once, in order: nothing lost, duplicated or reordered.
 */
export async function expectExactlyOnce(pages: Page[]): Promise<void> {
  for (const p of pages) await demo(p, (d) => d.stopStream());
  for (const p of pages) {
    const myId = await demo(p, (d) => d.nodeId);
    for (const other of pages) {
      if (other === p) continue;
      const otherId = await demo(other, (d) => d.nodeId);
      const sent = await demo(other, (d, id) => d.stats(id as string).sent, myId);
      await waitFor(() => demo(p, (d, id) => d.stats(id as string).delivered, otherId), (n) => n >= sent, 10_000);
      const got = await demo(p, (d, id) => d.stats(id as string), otherId);
      expect(got.delivered).toBe(sent);
      expect({ lost: got.lost, duplicated: got.duplicated, reordered: got.reordered }).toEqual({ lost: 0, duplicated: 0, reordered: 0 });
    }
  }
}

/** Two nodes: `a` creates the room, `b` joins through its invite link; resolves once both sessions are up. */
export async function openPair(
  env: { browser: TestBrowser; stack: TestStack },
  a: [name: string, station: string],
  b: [name: string, station: string],
  query = '',
): Promise<[Page, Page]> {
  const p1 = await openNode(env.browser, env.stack, a[0], a[1], '', query);
  const p2 = await openNode(env.browser, env.stack, b[0], b[1], await inviteHash(p1), query);
  await established(p1, 1);
  await established(p2, 1);
  return [p1, p2];
}
