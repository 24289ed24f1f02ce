// Moving a live node to another tab: the session (keys, packet numbers, streams, peers) goes to tab 2, tab 1
// forwards during the overlap and then stops; the peer streams on, losing and duplicating nothing.
import { describe, expect, it } from 'vitest';
import { collectConsoleErrors, useStackAndBrowser } from './harness.ts';
import { demo, openPair, sleep, waitFor } from './pages.ts';

describe('move a live session to another tab', () => {
  const env = useStackAndBrowser();

  it('a peer streams at 200/s while the node moves tabs: nothing lost or duplicated, the return address ends on tab 2, tab 1 stops', async () => {
    const [tab1, bob] = await openPair(env, ['alice', 'cell-a'], ['bob', 'cell-b']);
    const aliceId = await demo(tab1, (d) => d.nodeId);
    await demo(tab1, (d) => d.startStream(200));
    await demo(bob, (d) => d.startStream(200));
    await sleep(700);
    const pnBefore = await demo(bob, (d) => d.peers()[0]!.paths.length);
    expect(pnBefore).toBeGreaterThan(0);

    const url = await demo(tab1, (d) => d.startMove());
    expect(url).toContain('move=');
    const tab2 = await env.browser.newPage();
    const errors2 = collectConsoleErrors(tab2);
    await tab2.goto(url);
    await tab2.evaluate(() => (window as unknown as { net2oDemo: { ready: Promise<void> } }).net2oDemo.ready);
    expect(await demo(tab2, (d) => d.nodeId)).toBe(aliceId);
    expect(await demo(tab1, (d) => d.mode())).toBe('forwarding');
    // Tab 2 builds its own path in-band through tab 1; then tab 1's paths close and it stops forwarding.
    const done = await waitFor(() => demo(tab1, (d) => d.moveProgress()), (p) => p.phase === 'done', 15_000);
    expect(done.forwardedIn).toBeGreaterThan(0);
    expect(done.forwardedOut).toBeGreaterThan(0);
    expect(await demo(tab1, (d) => d.mode())).toBe('moved');
    // Bob's return address is on tab 2's own path (its attachment is named for its incarnation: `cell-a~1`).
    await waitFor(
      () => demo(bob, (d) => d.peers()[0]!.paths.find((p) => p.isReturn)?.remoteStation ?? ''),
      (st) => st.endsWith('~1'),
      5_000,
    );
    await sleep(700);
    await demo(tab2, (d) => d.stopStream());
    await demo(bob, (d) => d.stopStream());
    // Bob got every tick alice sent, from either tab, exactly once and in order.
    const sentByAlice = await demo(tab2, (d) => d.stats().sent);
    await waitFor(() => demo(bob, (d) => d.stats().delivered), (n) => n >= sentByAlice, 5_000);
    const atBob = await demo(bob, (d) => d.stats());
    expect(atBob.delivered).toBe(sentByAlice);
    expect([atBob.lost, atBob.duplicated, atBob.reordered]).toEqual([0, 0, 0]);
    // And alice (now tab 2) got every tick of bob's.
    const sentByBob = await demo(bob, (d) => d.stats().sent);
    await waitFor(() => demo(tab2, (d) => d.stats().delivered), (n) => n >= sentByBob, 5_000);
    const atAlice = await demo(tab2, (d) => d.stats());
    expect(atAlice.delivered).toBe(sentByBob);
    expect([atAlice.lost, atAlice.duplicated, atAlice.reordered]).toEqual([0, 0, 0]);
    expect(errors2.errors).toEqual([]);
    // One handshake ever: the session moved, it was not rebuilt.
    expect(await demo(bob, (d) => d.events().filter((e) => e.kind === 'handshake-done').length)).toBe(1);
    console.info(`[figures] move: tab 1 forwarded ${done.forwardedIn} packets in, ${done.forwardedOut} out; max gap at bob ${atBob.maxGapMs.toFixed(1)} ms`);
    for (const p of [tab1, tab2, bob]) await p.close();
  }, 90_000);

  it('a new tab that closes mid-move leaves exactly one live sender', async () => {
    const [tab1, peer] = await openPair(env, ['carla', 'cell-a'], ['dmitri', 'cell-b']);
    await demo(tab1, (d) => d.startStream(100));
    // Starting a move alone changes nothing: tab 1 stays the node until a new tab answers.
    const url = await demo(tab1, (d) => d.startMove());
    await sleep(300);
    expect(await demo(tab1, (d) => d.mode())).toBe('node');
    const tab2 = await env.browser.newPage();
    void tab2.goto(url).catch(() => {});
    await sleep(400); // somewhere in the hand-over, or before it
    await tab2.close({ runBeforeUnload: true });
    await sleep(6_000); // past MOVE_TIMEOUT_MS: the move either completed or was cancelled
    const mode = await demo(tab1, (d) => d.mode());
    const phase = await demo(tab1, (d) => d.moveProgress().phase);
    if (mode === 'node') {
      expect(['waiting', 'aborted']).toContain(phase); // closed before saying hello, or cancelled mid-hand-over
      // Tab 1 is still the only sender: the peer keeps receiving, in order, no duplicates.
      const before = await demo(peer, (d) => d.stats().delivered);
      await sleep(500);
      expect(await demo(peer, (d) => d.stats().delivered)).toBeGreaterThan(before);
    } else {
      // The move committed before tab 2 closed: tab 1 holds no session and sends nothing of its own.
      expect(['forwarding', 'moved']).toContain(mode);
      expect(await demo(tab1, (d) => d.peers().filter((p) => p.state === 'established').length)).toBe(0);
    }
    const st = await demo(peer, (d) => d.stats());
    expect([st.duplicated, st.reordered]).toEqual([0, 0]);
    for (const p of [tab1, peer]) await p.close();
  }, 60_000);
});
