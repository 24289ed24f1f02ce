// Lose coverage entirely, then come back: the same session resumes through the signaling server's relay,
// with no new handshake and nothing lost.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useStackAndBrowser } from './harness.ts';
import { demo, expectExactlyOnce, openPair, sleep, waitFor } from './pages.ts';

const RATE = 200;

async function roomOf(p: Page): Promise<string> {
  const link = await demo(p, (d) => d.inviteLink());
  return new URLSearchParams(link.slice(link.indexOf('#') + 1)).get('room')!;
}

describe('resumption after losing coverage', () => {
  const env = useStackAndBrowser();

  it('a node on a single station loses it, attaches another 2 s later: both streams resume, nothing lost; the server saw only the resumption', async () => {
    const [p1, p2] = await openPair(env, ['alice', 'cell-a'], ['bob', 'cell-b']);
    const room = await roomOf(p1);
    const before = { ...env.stack.signaling.roomStats(room)!.received };
    await demo(p1, (d, r) => d.startStream(r as number), RATE);
    await demo(p2, (d, r) => d.startStream(r as number), RATE);
    await sleep(500);
    await demo(p1, (d) => d.detach('cell-a', { abrupt: true }));
    await waitFor(() => demo(p1, (d) => d.peers()[0]!.recovering), (r) => r, 2_000);
    await sleep(2_000);
    const t0 = Date.now();
    await demo(p1, (d) => d.attach('wifi'));
    const delivered0 = await demo(p2, (d) => d.stats().delivered);
    await waitFor(() => demo(p2, (d) => d.stats().delivered), (n) => n > delivered0 + 20, 10_000);
    console.info(`[figures] resume: stream flowing again ${Date.now() - t0} ms after attaching the new station`);
    await sleep(500);
    // A malicious signaling server replays an earlier resumption packet, or forges one: both are rejected
    // (replay window, authentication), the return address stays, the streams are undisturbed.
    for (const p of [p1, p2]) {
      const replay = await demo(p, (d) => d.attack('relay-replay'));
      expect(replay).toEqual({ kind: 'relay-replay', rejected: true, reason: 'replay', returnAddressUnchanged: true });
      const forge = await demo(p, (d) => d.attack('relay-forge'));
      expect(forge).toEqual({ kind: 'relay-forge', rejected: true, reason: 'tag', returnAddressUnchanged: true });
    }
    await sleep(300);
    await expectExactlyOnce([p1, p2]);
    const after = env.stack.signaling.roomStats(room)!.received;
    expect(after['signal-resume']).toBeGreaterThan(before['signal-resume']);
    expect({ ...after, 'signal-resume': 0 }).toEqual({ ...before, 'signal-resume': 0 });
    // No new handshake: one handshake-done each, ever.
    for (const p of [p1, p2]) expect(await demo(p, (d) => d.events().filter((e) => e.kind === 'handshake-done').length)).toBe(1);
    await p1.close();
    await p2.close();
  }, 60_000);

  it('both ends lose coverage at once and come back on new stations: the session resumes', async () => {
    const [p1, p2] = await openPair(env, ['carla', 'cell-a'], ['dmitri', 'cell-b']);
    await demo(p1, (d, r) => d.startStream(r as number), RATE);
    await demo(p2, (d, r) => d.startStream(r as number), RATE);
    await sleep(500);
    await Promise.all([demo(p1, (d) => d.detach('cell-a', { abrupt: true })), demo(p2, (d) => d.detach('cell-b', { abrupt: true }))]);
    await sleep(1_500);
    await Promise.all([demo(p1, (d) => d.attach('wifi')), demo(p2, (d) => d.attach('cell-a'))]);
    await waitFor(
      () => demo(p1, (d) => d.peers()[0]!.paths.find((p) => p.isActive)),
      (p) => p?.localStation === 'wifi' && p.remoteStation === 'cell-a',
      10_000,
    );
    await sleep(500);
    await expectExactlyOnce([p1, p2]);
    await p1.close();
    await p2.close();
  }, 60_000);


  it('with the signaling server unreachable, a node without paths says so, retries with backoff, and closes cleanly at the idle timeout', async () => {
    const [p1, p2] = await openPair(env, ['grace', 'cell-a'], ['hiro', 'cell-b'], 'idle=4000');
    await env.stack.signaling.close(); // last test in this file: nothing after it needs the server
    await demo(p1, (d) => d.detach('cell-a', { abrupt: true }));
    await demo(p1, (d) => d.attach('wifi'));
    // Sends while no path exists are queued (no error), within the send buffer's bound.
    await demo(p1, (d) => d.send('are you there?'));
    const closed = await waitFor(
      () => demo(p1, (d) => d.events().filter((e) => e.kind === 'session-closed').map((e) => e.text)),
      (t) => t.length > 0,
      10_000,
    );
    expect(closed[0]).toMatch(/idle for 4000 ms/);
    const signalingLog = await demo(p1, (d) => d.events().filter((e) => e.kind === 'signaling').map((e) => e.text));
    expect(signalingLog.filter((t) => /unreachable/.test(t)).length).toBeGreaterThanOrEqual(2); // retried
    expect(signalingLog.some((t) => /no path left/.test(t))).toBe(true);
    expect(await demo(p1, (d) => d.peers()[0]!.state)).toBe('closed');
    await waitFor(() => demo(p2, (d) => d.peers()[0]!.state), (s) => s === 'closed', 10_000);
    await p1.close();
    await p2.close();
  }, 60_000);
});
