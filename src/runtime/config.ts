// Runtime configuration of the page: where the signaling server and the station list are.
// Fetched at start from `/net2o-config.json` (written by the launcher), so one build runs on any host.

import type { ClientConfig, StationInfo } from '../../signaling-server/contracts.ts';

export const CLIENT_CONFIG_PATH = '/net2o-config.json';
/** Used when the page is served without the launcher's config: the signaling server next to the page. */
export const FALLBACK_SIGNALING_PORT = 8787;

export function fallbackConfig(hostname: string = location.hostname): ClientConfig {
  const base = `${hostname}:${FALLBACK_SIGNALING_PORT}`;
  return { signalingUrl: `ws://${base}/signal`, stationsUrl: `http://${base}/stations` };
}

export async function loadConfig(): Promise<ClientConfig> {
  try {
    const res = await fetch(CLIENT_CONFIG_PATH, { cache: 'no-store' });
    if (res.ok) {
      const body: unknown = await res.json();
      if (isClientConfig(body)) return body;
    }
  } catch {
    // Not served (or not JSON, e.g. an SPA fallback page): use the fallback below.
  }
  return fallbackConfig();
}

export async function loadStations(config: ClientConfig): Promise<StationInfo[]> {
  const res = await fetch(config.stationsUrl, { cache: 'no-store' });
  if (!res.ok) throw new Error(`GET ${config.stationsUrl}: HTTP ${res.status}`);
  const body = (await res.json()) as unknown;
  // Accept a bare list or `{ stations: [...] }`.
  const list = Array.isArray(body) ? body : (body as { stations?: unknown } | null)?.stations;
  if (!Array.isArray(list)) throw new Error(`GET ${config.stationsUrl}: expected a list of stations`);
  return list as StationInfo[];
}

function isClientConfig(v: unknown): v is ClientConfig {
  const c = v as Partial<ClientConfig> | null;
  return typeof c?.signalingUrl === 'string' && typeof c.stationsUrl === 'string';
}
