// The event log's filter: kinds grouped the way a person thinks about them, plus free text.

import type { LogEntry } from '../runtime/api.ts';

export type LogKind = LogEntry['kind'];

export const LOG_GROUPS = {
  hops: { label: 'Hops', kinds: ['hop-started', 'hop-finished', 'ping-all'] },
  paths: {
    label: 'Paths',
    kinds: [
      'path-wanted',
      'path-signal',
      'path-abandoned',
      'path-added',
      'path-validated',
      'path-promoted',
      'path-suspected',
      'path-recovered',
      'path-closed',
    ],
  },
  'return-address': { label: 'Return address', kinds: ['return-address-moved', 'failover'] },
  security: { label: 'Security', kinds: ['packet-rejected', 'attack', 'handshake-done', 'handshake-failed'] },
  session: { label: 'Session', kinds: ['message', 'writable', 'session-closed'] },
  system: { label: 'Signaling & runtime', kinds: ['signaling', 'runtime'] },
} as const satisfies Record<string, { label: string; kinds: readonly LogKind[] }>;

export type LogGroup = keyof typeof LOG_GROUPS;
export const ALL_LOG_GROUPS = Object.keys(LOG_GROUPS) as LogGroup[];

const GROUP_OF = new Map<LogKind, LogGroup>(
  ALL_LOG_GROUPS.flatMap((g) => LOG_GROUPS[g].kinds.map((k) => [k, g] as [LogKind, LogGroup])),
);

export function groupOf(kind: LogKind): LogGroup {
  return GROUP_OF.get(kind) ?? 'system';
}

/** Newest first; only entries of the chosen groups whose kind or text contains `text` (case-insensitive). */
export function filterLog(log: readonly LogEntry[], groups: ReadonlySet<LogGroup>, text: string): LogEntry[] {
  const needle = text.trim().toLowerCase();
  const out: LogEntry[] = [];
  for (let i = log.length - 1; i >= 0; i--) {
    const e = log[i]!;
    if (!groups.has(groupOf(e.kind))) continue;
    if (needle && !e.text.toLowerCase().includes(needle) && !e.kind.includes(needle)) continue;
    out.push(e);
  }
  return out;
}
