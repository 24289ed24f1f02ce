// Read-only introspection for leak tests: how many transports, setups and paths a NodeRuntime holds, and a
// factory wrapper that counts transports from creation to onClose. Nothing here changes behaviour.
import type { PathId, SessionId } from '../../src/net2o/events.ts';
import type { NodeRuntime } from '../../src/runtime/node-runtime.ts';
import type { PathTransport, TransportEvents, TransportFactory } from '../../src/runtime/transport.ts';

export interface RuntimeCounts {
  /** Transports registered as paths (NodeRuntime.transports). */
  transports: number;
  /** Of those, how many report isOpen. */
  openTransports: number;
  /** In-band path setup records (NodeRuntime.setups): kept until their transport closes. */
  setups: number;
  /** Of those, the ones whose transport is not (yet) a path: setups in progress, or left over. */
  pendingSetups: number;
  /** Introductions in progress (NodeRuntime.intro). */
  intro: number;
  sessions: number;
  /** Per session: paths the core holds (real transports only), relay paths, and path setups in progress. */
  perSession: Array<{ session: SessionId; state: string; paths: number; relayPaths: number; setups: number }>;
  /** Transport ids registered in the runtime that no session has as a path. */
  orphanTransports: PathId[];
}

interface RuntimeInternals {
  transports: Map<PathId, PathTransport>;
  setups: Map<string, { transport: PathTransport }>;
  intro: Map<string, unknown>;
}

export function debugCounts(rt: NodeRuntime): RuntimeCounts {
  const i = rt as unknown as RuntimeInternals;
  const perSession: RuntimeCounts['perSession'] = [];
  const inSessions = new Set<PathId>();
  for (const [id, s] of rt.node.sessions) {
    const states = s.pathStates() as Array<{ id: PathId; relay?: boolean }>;
    for (const p of states) inSessions.add(p.id);
    perSession.push({
      session: id,
      state: s.state,
      paths: states.filter((p) => !p.relay).length,
      relayPaths: states.filter((p) => p.relay).length,
      setups: s.setups.size,
    });
  }
  return {
    transports: i.transports.size,
    openTransports: [...i.transports.values()].filter((t) => t.isOpen).length,
    setups: i.setups.size,
    pendingSetups: [...i.setups.values()].filter((x) => !i.transports.has(x.transport.id)).length,
    intro: i.intro.size,
    sessions: rt.node.sessions.size,
    perSession,
    orphanTransports: [...i.transports.keys()].filter((id) => !inSessions.has(id)),
  };
}

/** Wraps a factory: counts every transport from create() to its onClose. */
export class CountingFactory implements TransportFactory {
  readonly kind: string;
  created = 0;
  opened = 0;
  closed = 0;
  /** Transports created whose onClose has not fired yet. */
  readonly live = new Set<PathTransport>();

  constructor(private readonly inner: TransportFactory) {
    this.kind = inner.kind;
  }

  create(opts: { initiator: boolean; station: Parameters<TransportFactory['create']>[0]['station'] }, events: TransportEvents): PathTransport {
    this.created++;
    let t: PathTransport | undefined;
    let closedOnce = false;
    t = this.inner.create(opts, {
      onSignal: (d) => events.onSignal(d),
      onOpen: () => {
        this.opened++;
        events.onOpen();
      },
      onData: (d) => events.onData(d),
      onClose: (r) => {
        if (!closedOnce) {
          closedOnce = true;
          this.closed++;
          if (t) this.live.delete(t);
        }
        events.onClose(r);
      },
      onDrain: () => events.onDrain(),
    });
    if (!closedOnce) this.live.add(t);
    return t;
  }

  /** Live transports by station id. */
  liveByStation(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.live) out[t.station.id] = (out[t.station.id] ?? 0) + 1;
    return out;
  }
}
