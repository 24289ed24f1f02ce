// Every protocol and runtime event, newest first, filterable by kind group and by text.

import { ALL_LOG_GROUPS, LOG_GROUPS, groupOf, type LogGroup } from './log-filter.ts';
import { peerName, seconds } from './format.ts';
import type { UiState } from './state.ts';

/** Rendering thousands of rows would cost more than it tells; the filter finds older entries. */
export const LOG_ROWS_SHOWN = 150;

/** A stable key per log entry (the runtime keeps the same objects): a new entry inserts one row, and the
 * rows below it are not rebuilt. */
const keys = new WeakMap<object, number>();
let nextKey = 0;
function entryKey(e: object): number {
  let k = keys.get(e);
  if (k === undefined) keys.set(e, (k = nextKey++));
  return k;
}

export function EventLog({ ui }: { ui: UiState }) {
  const { groups, text } = ui.logFilter;
  const entries = ui.filteredLog.value;
  const snap = ui.snapshot.value;
  const toggle = (g: LogGroup, on: boolean): void => {
    const next = new Set(groups.value);
    if (on) next.add(g);
    else next.delete(g);
    groups.value = next;
  };
  return (
    <section class="card" aria-labelledby="log-heading">
      <div class="card-head">
        <h2 id="log-heading">Event log</h2>
        <span class="muted small" data-testid="event-count">
          {entries.length} of {ui.log.value.length}
        </span>
      </div>
      <fieldset class="log-filter">
        <legend class="sr-only">Show kinds</legend>
        {ALL_LOG_GROUPS.map((g) => (
          <label key={g} class="check-label">
            <input
              type="checkbox"
              checked={groups.value.has(g)}
              onChange={(e) => toggle(g, (e.currentTarget as HTMLInputElement).checked)}
              data-testid={`log-filter-${g}`}
            />
            {LOG_GROUPS[g].label}
          </label>
        ))}
      </fieldset>
      <input
        type="search"
        class="full"
        placeholder="Filter text (e.g. path 3, rejected, Bob)"
        value={text.value}
        onInput={(e) => (text.value = (e.currentTarget as HTMLInputElement).value)}
        aria-label="Filter the event log"
        data-testid="log-text"
      />
      <ol class="log" data-testid="event-log" reversed>
        {entries.slice(0, LOG_ROWS_SHOWN).map((e) => (
          <li key={entryKey(e)} class={`log-entry group-${groupOf(e.kind)}`} data-kind={e.kind} data-testid="log-entry">
            <span class="log-at">{seconds(e.at)}</span>
            <span class="log-kind">{e.kind}</span>
            <span class="log-text">
              {e.peerId && <span class="log-peer">{peerName(snap, e.peerId)}: </span>}
              {e.text}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
