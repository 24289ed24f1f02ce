// The UI bridge against the deterministic fake runtime: runtime changes reach the signals (coalesced), actions
// call the runtime, the live chart's time series and hop markers follow snapshot deltas and log entries, and
// dispose() unsubscribes.

import { effect } from '@preact/signals';
import { describe, expect, it, vi } from 'vitest';
import type { RuntimeApi } from '../../src/runtime/api.ts';
import { FAKE_FAILOVER_MS, FAKE_VALIDATION_MS, FakeRuntime } from '../../src/ui/fake-runtime.ts';
import { filterLog } from '../../src/ui/log-filter.ts';
import { TimeSeries } from '../../src/ui/series.ts';
import { createUiState, type UiState } from '../../src/ui/state.ts';

/** A fake runtime, a bridge on its clock, and a manual scheduler: flushes happen only when the test says so. */
function setup(opts: { streaming?: number; overlapMs?: number } = {}) {
  const rt = new FakeRuntime(opts);
  const queued: (() => void)[] = [];
  const ui = createUiState(rt, { now: () => rt.now(), schedule: (run) => queued.push(run), tickMs: 0 });
  const frame = (): void => {
    for (const run of queued.splice(0)) run();
  };
  /** Advances the fake and runs the coalesced flush, like one animation frame after `ms`. */
  const step = (ms: number): void => {
    rt.advance(ms);
    frame();
  };
  return { rt, ui, queued, frame, step };
}

const peer = (ui: UiState, id: string) => ui.snapshot.value.peers.find((p) => p.peerId === id)!;
const station = (ui: UiState, id: string) => ui.snapshot.value.stations.find((s) => s.id === id)!;

describe('ui state bridge', () => {
  it('starts from the runtime snapshot', () => {
    const { ui, rt } = setup();
    expect(ui.snapshot.value.name).toBe('Alice');
    expect(ui.snapshot.value.peers.map((p) => p.peerId)).toEqual(['peer-bob', 'peer-carol']);
    expect(ui.inviteLink.value).toBe(rt.inviteLink());
    expect(ui.overlapMs.value).toBe(500);
    expect(station(ui, 'cell-a').attachment).toBe('active');
    ui.dispose();
  });

  it('coalesces runtime notifications into one read per frame', () => {
    const { ui, rt, queued, frame } = setup();
    const snap = vi.spyOn(rt, 'snapshot');
    rt.startStream(10);
    rt.send('one');
    rt.setOverlapMs(800);
    expect(queued).toHaveLength(1); // three notifications, one scheduled flush
    expect(ui.snapshot.value.streaming).toBe(0); // not read yet
    frame();
    expect(snap).toHaveBeenCalledTimes(1);
    expect(ui.snapshot.value.streaming).toBe(10);
    expect(ui.overlapMs.value).toBe(800);
    expect(ui.chat.value.map((c) => c.text)).toEqual(['one']);
    ui.dispose();
  });

  it('snapshot changes reach the signals: counters, paths, log, wire and chat', () => {
    const { ui, step } = setup({ streaming: 50 });
    step(1000);
    const bob = peer(ui, 'peer-bob');
    expect(bob.stats.sent).toBe(50);
    expect(bob.stats.delivered).toBe(50);
    expect(bob.stats.lastLatencyMs).toBeGreaterThan(0);
    expect(ui.wire.value.length).toBeGreaterThan(0);
    const w = ui.wire.value.at(-1)!;
    expect(w.address.startsWith(w.connectionTag)).toBe(true);
    expect(BigInt(`0x${w.address}`) & ((1n << 40n) - 1n)).toBe(BigInt(w.packetNumber));
    ui.actions.sendChat('hello');
    step(200);
    expect(ui.chat.value.map((c) => [c.from, c.text, c.mine])).toEqual([
      ['Alice', 'hello', true],
      ['Bob', 'got "hello"', false],
      ['Carol', 'got "hello"', false],
    ]);
    expect(ui.actions.sendChat('   ')).toBe(false);
    ui.dispose();
  });

  it('hop: the path changes, the return address moves, hops survived counts, busy clears', async () => {
    const { ui, rt, step } = setup({ streaming: 20, overlapMs: 400 });
    step(100);
    const before = peer(ui, 'peer-bob').paths.map((p) => p.localStation);
    expect(before).toEqual(['cell-a']);
    const hop = ui.actions.hop('wifi');
    expect(ui.busy.value.has('hop:wifi')).toBe(true);
    step(0);
    expect(station(ui, 'wifi').attachment).toBe('active');
    expect(station(ui, 'cell-a').attachment).toBe('leaving');
    // During the overlap both paths exist; after validation the new one carries traffic and is the return address.
    step(FAKE_VALIDATION_MS + 10);
    const mid = peer(ui, 'peer-bob').paths;
    expect(mid.map((p) => p.localStation)).toEqual(['cell-a', 'wifi']);
    expect(mid.find((p) => p.isReturn)?.localStation).toBe('wifi');
    expect(mid.find((p) => p.isActive)?.localStation).toBe('wifi');
    step(400);
    await hop;
    expect(ui.busy.value.has('hop:wifi')).toBe(false);
    const bob = peer(ui, 'peer-bob');
    expect(bob.paths.map((p) => p.localStation)).toEqual(['wifi']);
    expect(bob.hopsSurvived).toBe(1);
    expect(bob.returnAddressMoves).toBe(1);
    expect(bob.stats.lost).toBe(0);
    expect(station(ui, 'cell-a').attachment).toBe('detached');
    expect(ui.hopMarkers.value.map((m) => m.kind)).toEqual([
      'return-address-moved',
      'return-address-moved',
      'hop-finished',
    ]);
    expect(rt.listenerCount()).toBe(1);
    ui.dispose();
  });

  it('lose coverage fails over to a surviving path; station admin down/up', async () => {
    const { ui, rt, step } = setup({ streaming: 20 });
    await Promise.all([ui.actions.attach('cell-b'), (step(FAKE_VALIDATION_MS + 10), Promise.resolve())]);
    expect(peer(ui, 'peer-carol').paths).toHaveLength(2);
    const lose = ui.actions.loseCoverage('cell-a');
    step(0);
    await lose;
    expect(station(ui, 'cell-a').attachment).toBe('detached');
    step(FAKE_FAILOVER_MS + 10);
    const carol = peer(ui, 'peer-carol');
    expect(carol.failovers).toBe(1);
    expect(carol.paths.map((p) => p.localStation)).toEqual(['cell-b']);
    expect(carol.paths[0]!.isReturn).toBe(true);
    expect(ui.hopMarkers.value.some((m) => m.kind === 'failover' && m.peerId === 'peer-carol')).toBe(true);

    const down = vi.spyOn(rt, 'stationAdmin');
    await ui.actions.setStationUp('wifi', false);
    step(0);
    expect(down).toHaveBeenCalledWith('wifi', 'down');
    expect(station(ui, 'wifi').up).toBe(false);
    // Hopping to a station that is down fails; the error is shown, not thrown.
    await ui.actions.hop('wifi');
    expect(ui.lastError.value).toMatch(/Hop to Wi-Fi: Wi-Fi is down/);
    ui.actions.clearError();
    expect(ui.lastError.value).toBeNull();
    await ui.actions.setStationUp('wifi', true);
    step(0);
    expect(station(ui, 'wifi').up).toBe(true);
    ui.dispose();
  });

  it('actions call the runtime', async () => {
    const { ui, rt, step } = setup();
    const spies = {
      detach: vi.spyOn(rt, 'detach'),
      startStream: vi.spyOn(rt, 'startStream'),
      stopStream: vi.spyOn(rt, 'stopStream'),
      setOverlapMs: vi.spyOn(rt, 'setOverlapMs'),
      disconnectSignaling: vi.spyOn(rt, 'disconnectSignaling'),
      send: vi.spyOn(rt, 'send'),
    };
    await ui.actions.detach('cell-a');
    expect(spies.detach).toHaveBeenCalledWith('cell-a');
    const lose = ui.actions.loseCoverage('cell-b');
    await lose;
    expect(spies.detach).toHaveBeenLastCalledWith('cell-b', { abrupt: true });
    ui.actions.startStream(25);
    ui.actions.startStream(0); // ignored
    expect(spies.startStream.mock.calls).toEqual([[25]]);
    ui.actions.stopStream();
    expect(spies.stopStream).toHaveBeenCalledOnce();
    ui.actions.setOverlapMs(99_999);
    expect(spies.setOverlapMs).toHaveBeenLastCalledWith(5000);
    expect(ui.overlapMs.value).toBe(5000);
    ui.actions.sendChat('  hi  ');
    expect(spies.send).toHaveBeenCalledWith('hi');
    ui.actions.disconnectSignaling();
    step(0);
    expect(spies.disconnectSignaling).toHaveBeenCalledOnce();
    expect(ui.snapshot.value.signaling).toBe('closed');
    ui.dispose();
  });

  it('attacks are rejected and the result is kept, newest first', async () => {
    const { ui, step } = setup();
    const forge = ui.actions.attack('forge');
    expect(ui.busy.value.has('attack:forge')).toBe(true);
    step(50);
    expect(await forge).toEqual({ kind: 'forge', rejected: true, reason: 'tag', returnAddressUnchanged: true });
    const replay = ui.actions.attack('replay', 'peer-carol');
    step(50);
    await replay;
    expect(ui.attackResults.value.map((r) => [r.kind, r.reason])).toEqual([
      ['replay', 'replay'],
      ['forge', 'tag'],
    ]);
    expect(peer(ui, 'peer-bob').rejected).toBe(1);
    expect(peer(ui, 'peer-carol').rejected).toBe(1);
    expect(ui.log.value.filter((e) => e.kind === 'packet-rejected')).toHaveLength(2);
    ui.dispose();
  });

  it('time series: deliveries per 100 ms and latency from snapshot deltas', () => {
    const { ui, step } = setup({ streaming: 50 });
    for (let i = 0; i < 20; i++) step(100); // 2 s, one flush per 100 ms
    const s = ui.series.value.get('peer-bob')!;
    expect(s.length).toBeGreaterThanOrEqual(20);
    const total = s.reduce((n, b) => n + b.delivered, 0);
    expect(total).toBe(peer(ui, 'peer-bob').stats.delivered);
    // 50/s = 5 per 100 ms bucket, every bucket after the first.
    expect(s.slice(-10).map((b) => b.delivered)).toEqual(Array(10).fill(5));
    expect(s.at(-1)!.latencyMs).toBe(peer(ui, 'peer-bob').stats.lastLatencyMs);
    // Stream off: the chart keeps scrolling with empty buckets on tick().
    ui.actions.stopStream();
    step(0);
    const stoppedAt = s.at(-1)!.t;
    for (let i = 0; i < 5; i++) {
      step(100);
      ui.tick();
    }
    const after = ui.series.value.get('peer-bob')!;
    expect(after.at(-1)!.t).toBe(stoppedAt + 500);
    expect(after.slice(-4).every((b) => b.delivered === 0 && b.latencyMs === null)).toBe(true);
    expect(ui.now.value).toBe(2500);
    ui.dispose();
  });

  it('time series buffer: contiguous buckets, bounded window', () => {
    const ts = new TimeSeries(100, 1000);
    ts.add(50, 3, 12);
    ts.add(420, 2, 15);
    ts.add(430, 1, 17);
    expect(ts.values()).toEqual([
      { t: 0, delivered: 3, latencyMs: 12 },
      { t: 100, delivered: 0, latencyMs: null },
      { t: 200, delivered: 0, latencyMs: null },
      { t: 300, delivered: 0, latencyMs: null },
      { t: 400, delivered: 3, latencyMs: 17 },
    ]);
    ts.advance(5000);
    expect(ts.values()).toHaveLength(1);
    ts.advance(5950);
    const v = ts.values();
    expect(v[0]!.t).toBe(5000);
    expect(v.at(-1)!.t).toBe(5900);
    expect(v).toHaveLength(10);
  });

  it('hop markers: each log entry once, even when several share a timestamp; old ones expire', async () => {
    const { ui, step } = setup({ overlapMs: 200 });
    const hop = ui.actions.hop('cell-b');
    step(300);
    await hop;
    const kinds = ui.hopMarkers.value.map((m) => m.kind);
    expect(kinds.filter((k) => k === 'hop-finished')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'return-address-moved')).toHaveLength(2); // one per peer, same instant
    ui.flush(); // re-reading the same log adds nothing
    expect(ui.hopMarkers.value).toHaveLength(3);
    step(ui.windowMs + 1000);
    ui.tick();
    expect(ui.hopMarkers.value).toHaveLength(0);
    ui.dispose();
  });

  it('log filter: groups and text, newest first', () => {
    const { ui, step } = setup();
    ui.actions.disconnectSignaling();
    step(0);
    const all = ui.filteredLog.value;
    expect(all[0]!.text).toMatch(/signaling disconnected/);
    ui.logFilter.groups.value = new Set(['security']);
    expect(ui.filteredLog.value.every((e) => e.kind === 'handshake-done')).toBe(true);
    expect(ui.filteredLog.value).toHaveLength(2);
    ui.logFilter.text.value = 'CAROL';
    expect(ui.filteredLog.value.map((e) => e.peerId)).toEqual(['peer-carol']);
    expect(filterLog(ui.log.value, new Set(), '')).toEqual([]);
    ui.dispose();
  });

  it('dispose unsubscribes and stops reading the runtime', () => {
    const { ui, rt, queued } = setup({ streaming: 10 });
    expect(rt.listenerCount()).toBe(1);
    ui.dispose();
    expect(rt.listenerCount()).toBe(0);
    rt.advance(1000);
    expect(queued).toHaveLength(0);
    ui.flush();
    expect(ui.snapshot.value.peers[0]!.stats.delivered).toBe(0);
    ui.dispose(); // idempotent
  });

  it('with the default options it reads the runtime without an animation frame (node), and ticks', async () => {
    vi.useFakeTimers();
    try {
      const rt = new FakeRuntime({ streaming: 10 });
      const ui = createUiState(rt as RuntimeApi);
      rt.advance(1000);
      expect(ui.snapshot.value.streaming).toBe(10);
      expect(ui.snapshot.value.peers[0]!.stats.delivered).toBe(0);
      await vi.advanceTimersByTimeAsync(150);
      expect(ui.snapshot.value.peers[0]!.stats.delivered).toBe(10);
      ui.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it('notices changes when the runtime hands out the same (mutated) arrays and objects', () => {
    const { rt, ui, step } = setup();
    const entries = [...rt.log()];
    const snap = rt.snapshot();
    vi.spyOn(rt, 'log').mockImplementation(() => entries);
    vi.spyOn(rt, 'snapshot').mockImplementation(() => snap);
    const seen: number[] = [];
    const stop = effect(() => void seen.push(ui.filteredLog.value.length));
    entries.push({ at: 1, kind: 'runtime', text: 'in place' });
    snap.streaming = 7;
    rt.startStream(7); // notifies
    step(0);
    expect(ui.filteredLog.value[0]!.text).toBe('in place');
    expect(ui.snapshot.value.streaming).toBe(7);
    expect(seen.at(-1)).toBe(entries.length);
    stop();
    ui.dispose();
  });

  it('recovering while no usable path is left; relay attacks are rejected too', async () => {
    const { ui, step } = setup();
    expect(peer(ui, 'peer-bob').recovering).toBe(false);
    const lose = ui.actions.loseCoverage('cell-a');
    step(FAKE_FAILOVER_MS + 10);
    await lose;
    expect(peer(ui, 'peer-bob').paths).toEqual([]);
    expect(peer(ui, 'peer-bob').recovering).toBe(true);
    const attach = ui.actions.attach('wifi');
    step(FAKE_VALIDATION_MS + 10);
    await attach;
    expect(peer(ui, 'peer-bob').recovering).toBe(false);
    const relay = ui.actions.attack('relay-replay');
    step(50);
    expect(await relay).toMatchObject({ kind: 'relay-replay', rejected: true, reason: 'replay', returnAddressUnchanged: true });
    ui.dispose();
  });
});
