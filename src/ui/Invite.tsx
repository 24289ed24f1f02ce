// The invite: a link (the secret rides in the URL fragment, never sent to a server), a copy button and a QR
// code so a phone can join.

import { useSignal } from '@preact/signals';
import { useMemo } from 'preact/hooks';
import { encode } from 'uqr';

type CopyState = 'idle' | 'copied' | 'failed';

export function Invite({ link }: { link: string }) {
  const copy = useSignal<CopyState>('idle');
  const onCopy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(link);
      copy.value = 'copied';
    } catch {
      copy.value = 'failed'; // no clipboard permission (plain http, headless): the link is selectable below
    }
  };
  return (
    <section class="card invite" aria-labelledby="invite-heading">
      <div class="invite-text">
        <h2 id="invite-heading">Invite a peer</h2>
        <p class="muted small">
          Open this link in another tab or on a phone. The invite secret sits after the <code>#</code>, so it never
          reaches a server.
        </p>
        <a class="invite-link" href={link} target="_blank" rel="noopener" data-testid="invite-link">
          {link}
        </a>
        <div class="row">
          <button type="button" onClick={() => void onCopy()} data-testid="copy-invite" data-state={copy.value}>
            {copy.value === 'copied' ? 'Copied' : 'Copy link'}
          </button>
          {copy.value === 'failed' && <span class="muted small">Could not copy: select the link instead.</span>}
        </div>
      </div>
      <QrCode text={link} />
    </section>
  );
}

/** The QR code as one SVG path (dark modules), on a white quiet zone so it scans in dark mode too. */
export function QrCode({ text }: { text: string }) {
  const { size, d } = useMemo(() => {
    const qr = encode(text, { ecc: 'M', border: 2 });
    let path = '';
    qr.data.forEach((row, y) =>
      row.forEach((dark, x) => {
        if (dark) path += `M${x} ${y}h1v1h-1z`;
      }),
    );
    return { size: qr.size, d: path };
  }, [text]);
  return (
    <div class="qr" data-testid="qr">
      <svg viewBox={`0 0 ${size} ${size}`} role="img" aria-label="QR code of the invite link" shape-rendering="crispEdges">
        <rect width={size} height={size} fill="#fff" />
        <path d={d} fill="#000" />
      </svg>
    </div>
  );
}
