// Shared shapes between the stations, the signaling server, the launcher and the web app.
// Keep this file free of Node imports: the browser imports it too.

/** One station: a TURN relay a node can attach to. What clients receive from `GET /stations`. */
export interface StationInfo {
  id: string; // stable, URL-safe: 'cell-a'
  label: string; // for people: 'Cell A'
  /** The ICE server entry a node uses as its *only* ICE server while attached to this station. */
  iceServer: { urls: string; username: string; credential: string };
  up: boolean; // false while taken down by the admin endpoint (simulated outage)
  kind: 'embedded' | 'coturn';
}

/** What the page fetches at start (`/net2o-config.json` next to index.html), so it needs no build-time config. */
export interface ClientConfig {
  signalingUrl: string; // ws://host:port/signal
  stationsUrl: string; // http://host:port/stations
}
