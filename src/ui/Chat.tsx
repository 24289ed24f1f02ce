// Chat: reliable, ordered lines to every peer over the same session that survives the hops.

import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { seconds } from './format.ts';
import type { UiState } from './state.ts';

export function Chat({ ui }: { ui: UiState }) {
  const draft = useSignal('');
  const lines = ui.chat.value;
  const logRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight; // newest last, kept in view
  }, [lines.length]);
  const submit = (e: Event): void => {
    e.preventDefault();
    if (ui.actions.sendChat(draft.value)) draft.value = '';
  };
  return (
    <section class="card" aria-labelledby="chat-heading">
      <div class="card-head">
        <h2 id="chat-heading">Chat</h2>
      </div>
      <ol class="chat-log" data-testid="chat-log" ref={logRef} aria-live="polite">
        {lines.length === 0 && <li class="muted small">Say something, then hop: the line still arrives, once.</li>}
        {lines.map((l, i) => (
          <li key={i} class={l.mine ? 'mine' : 'theirs'} data-testid="chat-line">
            <span class="chat-from">{l.from}</span> <span class="chat-text">{l.text}</span>
            <span class="chat-at muted">{seconds(l.at)}</span>
          </li>
        ))}
      </ol>
      <form class="row chat-form" onSubmit={submit}>
        <input
          type="text"
          class="grow"
          value={draft.value}
          onInput={(e) => (draft.value = (e.currentTarget as HTMLInputElement).value)}
          placeholder="Message to every peer"
          aria-label="Chat message"
          maxLength={500}
          data-testid="chat-input"
        />
        <button type="submit" disabled={!draft.value.trim()} data-testid="chat-send">
          Send
        </button>
      </form>
    </section>
  );
}
