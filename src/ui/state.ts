// The one bridge between a RuntimeApi and the UI: runtime changes become signal writes (coalesced to one read per
// animation frame), and every user action is a named function that calls the runtime. Components only render
// these signals and call these actions, so the UI is tested against a fake runtime.

import { batch, computed, signal, type ReadonlySignal, type Signal } from '@preact/signals';
import type { AttackKind, AttackResult, LogEntry, RuntimeApi, RuntimeSnapshot, WireSighting } from '../runtime/api.ts';
import { ALL_LOG_GROUPS, filterLog, type LogGroup } from './log-filter.ts';
import { SERIES_BUCKET_MS, SERIES_WINDOW_MS, TimeSeries, type SeriesBucket } from './series.ts';

export type ChatLine = ReturnType<RuntimeApi['chat']>[number];

/** Log kinds that get a vertical marker in the live chart. */
export const HOP_MARKER_KINDS = ['hop-finished', 'failover', 'return-address-moved'] as const;
export type HopMarkerKind = (typeof HOP_MARKER_KINDS)[number];

export interface HopMarker {
  at: number;
  kind: HopMarkerKind;
  text: string;
  peerId?: string;
}

/** How often the chart's clock moves when nothing else changes (ms). */
export const UI_TICK_MS = 100;
/** If no animation frame comes (hidden tab), the bridge reads the runtime after this long anyway. */
export const UI_FLUSH_FALLBACK_MS = 100;
/** Attack results kept for display. */
export const ATTACK_HISTORY = 10;
export const OVERLAP_MAX_MS = 5000;

export interface UiStateOptions {
  /** The clock of LogEntry.at (default: runtime.now()). */
  now?: () => number;
  /** Coalesces runtime notifications (default: next animation frame, or UI_FLUSH_FALLBACK_MS if none comes). */
  schedule?: (run: () => void) => void;
  /** Chart clock period; 0 = no timer (tests call tick()). */
  tickMs?: number;
  windowMs?: number;
}

export interface UiActions {
  attach(stationId: string): Promise<void>;
  detach(stationId: string): Promise<void>;
  /** Make-before-break: attach to `stationId`, move every session there, leave the others after the overlap. */
  hop(stationId: string): Promise<void>;
  /** Abrupt detach: the station vanishes without a goodbye. */
  loseCoverage(stationId: string): Promise<void>;
  setStationUp(stationId: string, up: boolean): Promise<void>;
  setOverlapMs(ms: number): void;
  startStream(perSecond: number): void;
  stopStream(): void;
  /** Sends a chat line to every peer; returns false for an empty line. */
  sendChat(text: string): boolean;
  attack(kind: AttackKind, peerId?: string): Promise<AttackResult | null>;
  disconnectSignaling(): void;
  /** Moves the node to another tab: opens it (the browser may ask to allow the pop-up). */
  startMove(open?: (url: string) => void): Promise<string | null>;
  clearError(): void;
}

export interface UiState {
  snapshot: ReadonlySignal<RuntimeSnapshot>;
  log: ReadonlySignal<readonly LogEntry[]>;
  wire: ReadonlySignal<readonly WireSighting[]>;
  chat: ReadonlySignal<readonly ChatLine[]>;
  inviteLink: ReadonlySignal<string>;
  overlapMs: ReadonlySignal<number>;
  /** The chart's clock (same clock as LogEntry.at). */
  now: ReadonlySignal<number>;
  /** Per peer: deliveries per bucket and latency, oldest first, over the last windowMs. */
  series: ReadonlySignal<ReadonlyMap<string, readonly SeriesBucket[]>>;
  hopMarkers: ReadonlySignal<readonly HopMarker[]>;
  /** Keys of actions in flight ('hop:wifi', 'attack:forge', …), for disabling buttons. */
  busy: ReadonlySignal<ReadonlySet<string>>;
  /** The last action that failed, for people. */
  lastError: ReadonlySignal<string | null>;
  /** Newest first. */
  attackResults: ReadonlySignal<readonly AttackResult[]>;
  logFilter: { groups: Signal<ReadonlySet<LogGroup>>; text: Signal<string> };
  /** Newest first, filtered. */
  filteredLog: ReadonlySignal<readonly LogEntry[]>;
  windowMs: number;
  actions: UiActions;
  /** Reads the runtime now (instead of at the next frame). */
  flush(): void;
  /** Moves the chart clock to now() (the timer calls it every tickMs). */
  tick(): void;
  dispose(): void;
}

/** The UI reads the runtime at most this often: the counters stay live, the page stays light (a busy main
 * thread delays the protocol's own timers and packets). */
export const UI_MIN_FLUSH_INTERVAL_MS = 150;
let lastFlushAt = -Infinity;

export function defaultSchedule(run: () => void): void {
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    lastFlushAt = performance.now();
    run();
  };
  const wait = Math.max(0, lastFlushAt + UI_MIN_FLUSH_INTERVAL_MS - performance.now());
  setTimeout(() => {
    if (typeof requestAnimationFrame === 'function') requestAnimationFrame(once);
    setTimeout(once, UI_FLUSH_FALLBACK_MS);
  }, wait);
}

export function createUiState(runtime: RuntimeApi, opts: UiStateOptions = {}): UiState {
  const now = opts.now ?? (() => runtime.now());
  const schedule = opts.schedule ?? defaultSchedule;
  const windowMs = opts.windowMs ?? SERIES_WINDOW_MS;
  const tickMs = opts.tickMs ?? UI_TICK_MS;

  const first = runtime.snapshot();
  const snapshot = signal(first);
  const log = signal<readonly LogEntry[]>(runtime.log());
  const wire = signal<readonly WireSighting[]>(runtime.wire());
  const chat = signal<readonly ChatLine[]>(runtime.chat());
  const inviteLink = signal(runtime.inviteLink());
  const overlapMs = signal(runtime.overlapMs());
  const clock = signal(now());
  const series = signal<ReadonlyMap<string, readonly SeriesBucket[]>>(new Map());
  const hopMarkers = signal<readonly HopMarker[]>([]);
  const busy = signal<ReadonlySet<string>>(new Set());
  const lastError = signal<string | null>(null);
  const attackResults = signal<readonly AttackResult[]>([]);
  const logFilter = { groups: signal<ReadonlySet<LogGroup>>(new Set(ALL_LOG_GROUPS)), text: signal('') };
  const filteredLog = computed(() => filterLog(log.value, logFilter.groups.value, logFilter.text.value));

  // ---- time series, fed from snapshot deltas ----
  const buffers = new Map<string, TimeSeries>();
  const lastDelivered = new Map<string, number>();
  for (const p of first.peers) lastDelivered.set(p.peerId, p.stats.delivered);

  function sample(snap: RuntimeSnapshot, t: number): void {
    const alive = new Set<string>();
    for (const p of snap.peers) {
      alive.add(p.peerId);
      let buf = buffers.get(p.peerId);
      if (!buf) buffers.set(p.peerId, (buf = new TimeSeries(SERIES_BUCKET_MS, windowMs)));
      const before = lastDelivered.get(p.peerId) ?? p.stats.delivered;
      // A counter that went backwards (runtime restarted the session) counts from its new value.
      const delta = p.stats.delivered >= before ? p.stats.delivered - before : p.stats.delivered;
      lastDelivered.set(p.peerId, p.stats.delivered);
      buf.add(t, delta, p.stats.lastLatencyMs);
    }
    for (const id of [...buffers.keys()]) {
      if (!alive.has(id)) {
        buffers.delete(id);
        lastDelivered.delete(id);
      }
    }
  }

  function publishSeries(t: number): void {
    const out = new Map<string, readonly SeriesBucket[]>();
    for (const [id, buf] of buffers) {
      buf.advance(t);
      out.set(id, buf.values());
    }
    series.value = out;
  }

  // ---- hop markers, from new log entries ----
  let seenAt = -Infinity;
  let seenAtCount = 0; // entries with at === seenAt already handled (several events share a timestamp)

  function collectMarkers(entries: readonly LogEntry[], t: number): void {
    const fresh: HopMarker[] = [];
    let sameAt = 0;
    let maxAt = seenAt;
    for (const e of entries) {
      maxAt = Math.max(maxAt, e.at);
      if (e.at < seenAt) continue;
      if (e.at === seenAt && sameAt++ < seenAtCount) continue;
      if ((HOP_MARKER_KINDS as readonly string[]).includes(e.kind)) {
        const m: HopMarker = { at: e.at, kind: e.kind as HopMarkerKind, text: e.text };
        if (e.peerId !== undefined) m.peerId = e.peerId;
        fresh.push(m);
      }
    }
    if (entries.length > 0) {
      seenAtCount = entries.filter((e) => e.at === maxAt).length;
      seenAt = maxAt;
    }
    const oldest = t - windowMs;
    const kept = hopMarkers.value.filter((m) => m.at >= oldest);
    if (fresh.length > 0 || kept.length !== hopMarkers.value.length) hopMarkers.value = [...kept, ...fresh];
  }

  // ---- the bridge ----
  let disposed = false;
  let pending = false;

  function flush(): void {
    pending = false;
    if (disposed) return;
    const t = now();
    const snap = runtime.snapshot();
    const entries = runtime.log();
    // Fresh containers every time: a runtime may hand out its own (mutated) arrays and objects, and a signal
    // set to the same reference would not notify.
    batch(() => {
      snapshot.value = { ...snap };
      log.value = entries.slice();
      wire.value = runtime.wire().slice();
      chat.value = runtime.chat().slice();
      inviteLink.value = runtime.inviteLink();
      overlapMs.value = runtime.overlapMs();
      sample(snap, t);
      collectMarkers(entries, t);
      clock.value = t;
      publishSeries(t);
    });
  }

  function tick(): void {
    if (disposed) return;
    const t = now();
    batch(() => {
      clock.value = t;
      publishSeries(t);
      collectMarkers([], t);
    });
  }

  const unsubscribe = runtime.subscribe(() => {
    if (pending || disposed) return;
    pending = true;
    schedule(flush);
  });
  // Entries already in the log at start are history: they get markers too, if still in the window.
  sample(first, now());
  collectMarkers(log.value, now());
  publishSeries(now());
  const timer = tickMs > 0 ? setInterval(tick, tickMs) : undefined;

  // ---- actions ----
  async function run(key: string, label: string, action: () => Promise<void>): Promise<boolean> {
    busy.value = new Set(busy.value).add(key);
    try {
      await action();
      return true;
    } catch (err) {
      lastError.value = `${label}: ${err instanceof Error ? err.message : String(err)}`;
      return false;
    } finally {
      const next = new Set(busy.value);
      next.delete(key);
      busy.value = next;
    }
  }
  const label = (id: string): string => snapshot.value.stations.find((s) => s.id === id)?.label ?? id;

  const actions: UiActions = {
    attach: async (id) => void (await run(`attach:${id}`, `Attach to ${label(id)}`, () => runtime.attach(id))),
    detach: async (id) => void (await run(`detach:${id}`, `Detach from ${label(id)}`, () => runtime.detach(id))),
    hop: async (id) => void (await run(`hop:${id}`, `Hop to ${label(id)}`, () => runtime.hop(id))),
    loseCoverage: async (id) =>
      void (await run(`lose:${id}`, `Lose coverage of ${label(id)}`, () => runtime.detach(id, { abrupt: true }))),
    setStationUp: async (id, up) =>
      void (await run(`admin:${id}`, `Take ${label(id)} ${up ? 'up' : 'down'}`, () =>
        runtime.stationAdmin(id, up ? 'up' : 'down'),
      )),
    setOverlapMs(ms) {
      if (!Number.isFinite(ms)) return;
      const clamped = Math.min(OVERLAP_MAX_MS, Math.max(0, Math.round(ms)));
      runtime.setOverlapMs(clamped);
      overlapMs.value = runtime.overlapMs();
    },
    startStream(perSecond) {
      if (!Number.isFinite(perSecond) || perSecond <= 0) return;
      runtime.startStream(perSecond);
    },
    stopStream: () => runtime.stopStream(),
    sendChat(text) {
      const line = text.trim();
      if (!line) return false;
      runtime.send(line);
      return true;
    },
    async attack(kind, peerId) {
      let result: AttackResult | null = null;
      await run(`attack:${kind}`, `Attack (${kind})`, async () => {
        result = await runtime.attack(kind, peerId);
        attackResults.value = [result, ...attackResults.value].slice(0, ATTACK_HISTORY);
      });
      return result;
    },
    disconnectSignaling: () => runtime.disconnectSignaling(),
    async startMove(open) {
      let url: string | null = null;
      await run('move', 'Move to another tab', async () => {
        url = await runtime.startMove();
        open?.(url);
      });
      return url;
    },
    clearError: () => void (lastError.value = null),
  };

  return {
    snapshot,
    log,
    wire,
    chat,
    inviteLink,
    overlapMs,
    now: clock,
    series,
    hopMarkers,
    busy,
    lastError,
    attackResults,
    logFilter,
    filteredLog,
    windowMs,
    actions,
    flush,
    tick,
    dispose() {
      if (disposed) return;
      disposed = true;
      unsubscribe();
      if (timer !== undefined) clearInterval(timer);
    },
  };
}
