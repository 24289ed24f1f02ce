// `npm start`: stations (TURN relays), the signaling server and the web app on this machine, one URL to open.

import { parseArgs } from 'node:util';
import { DEFAULT_SIGNALING_PORT, DEFAULT_WEB_PORT, lanIPv4, startStack, type Stack } from '../signaling-server/stack.ts';
import { DEFAULT_STATIONS, coturnAvailable, type StationSpec } from '../signaling-server/stations.ts';

const HELP = `Usage: npm start -- [options]

Starts the stations (TURN relays), the signaling server and the web app, and prints the URL to open.

Options:
  --port N                 web app port (env NET2O_WEB_PORT, default ${DEFAULT_WEB_PORT})
  --signaling-port N       signaling server port (env NET2O_SIGNALING_PORT, default ${DEFAULT_SIGNALING_PORT})
  --station-ports A,B,C    station ports for ${DEFAULT_STATIONS.map((s) => s.id).join(', ')}
                           (env NET2O_STATION_PORTS, default ${DEFAULT_STATIONS.map((s) => s.port).join(',')})
  --coturn                 run the stations with coturn (turnserver) instead of the embedded relay
  --host                   listen on all interfaces and advertise this machine's LAN address,
                           so a phone on the same Wi-Fi can join (default: loopback only)
  --static                 serve the production build in dist/ (run \`npm run build\` first)
                           instead of the Vite dev server
  -h, --help               show this help

Ctrl-C stops everything; a second Ctrl-C forces exit.`;

/** A repeated signal within this window is the same Ctrl-C delivered twice (terminal + npm's forwarding). */
const DUPLICATE_SIGNAL_MS = 500;

class UsageError extends Error {}

interface StartOptions {
  webPort: number;
  signalingPort: number;
  stations: StationSpec[];
  coturn: boolean;
  lan: boolean;
  static: boolean;
}

function parsePort(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 65535) throw new UsageError(`${what}: "${text}" is not a port (1-65535)`);
  return n;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): StartOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'signaling-port': { type: 'string' },
      'station-ports': { type: 'string' },
      coturn: { type: 'boolean', default: false },
      host: { type: 'boolean', default: false },
      static: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';

  const webPort = values.port ?? env.NET2O_WEB_PORT;
  const signalingPort = values['signaling-port'] ?? env.NET2O_SIGNALING_PORT;
  const stationPortsText = values['station-ports'] ?? env.NET2O_STATION_PORTS;

  let stations = DEFAULT_STATIONS;
  if (stationPortsText !== undefined && stationPortsText !== '') {
    const parts = stationPortsText.split(',').map((p) => p.trim());
    if (parts.length !== DEFAULT_STATIONS.length) {
      throw new UsageError(
        `--station-ports / NET2O_STATION_PORTS: expected ${DEFAULT_STATIONS.length} comma-separated ports ` +
          `(${DEFAULT_STATIONS.map((s) => s.id).join(', ')}), got "${stationPortsText}"`,
      );
    }
    const ports = parts.map((p) => parsePort(p, '--station-ports / NET2O_STATION_PORTS'));
    stations = DEFAULT_STATIONS.map((s, i) => ({ ...s, port: ports[i]! }));
  }
  const opts: StartOptions = {
    webPort: webPort === undefined || webPort === '' ? DEFAULT_WEB_PORT : parsePort(webPort, '--port / NET2O_WEB_PORT'),
    signalingPort:
      signalingPort === undefined || signalingPort === ''
        ? DEFAULT_SIGNALING_PORT
        : parsePort(signalingPort, '--signaling-port / NET2O_SIGNALING_PORT'),
    stations,
    coturn: values.coturn,
    lan: values.host,
    static: values.static,
  };
  const all = [opts.webPort, opts.signalingPort, ...stations.map((s) => s.port)];
  const dup = all.find((p, i) => all.indexOf(p) !== i);
  if (dup !== undefined) throw new UsageError(`port ${dup} is configured twice; every server needs its own port`);
  return opts;
}

function printBanner(stack: Stack, opts: StartOptions): void {
  const stations = stack.stations.list();
  const width = Math.max(...stations.map((s) => s.id.length));
  const lines = [
    '',
    'net2o handover is running.',
    '',
    `  Open:       ${stack.webUrl}`,
    '',
    `  Signaling:  ${stack.config.signalingUrl}`,
    `  Stations:   ${stack.config.stationsUrl}`,
    ...stations.map((s) => `              ${s.id.padEnd(width)}  ${s.iceServer.urls}  (${s.kind})`),
    '',
  ];
  if (opts.lan) lines.push('  Listening on all interfaces: phones on the same Wi-Fi can open the URL above.', '');
  lines.push('Press Ctrl-C to stop.', '');
  process.stdout.write(lines.join('\n'));
}

async function main(): Promise<number> {
  let opts: StartOptions | 'help';
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`npm start: ${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (opts.coturn && !coturnAvailable()) {
    process.stderr.write(
      'npm start: --coturn needs coturn\'s `turnserver` on the PATH, and it is not installed.\n' +
        'Install it (Debian/Ubuntu: `sudo apt-get install coturn`) or start without --coturn to use the embedded relay.\n',
    );
    return 1;
  }

  let advertiseHost: string | undefined;
  if (opts.lan) {
    advertiseHost = lanIPv4();
    if (advertiseHost === undefined) {
      process.stderr.write('npm start: --host: no LAN IPv4 address found; advertising 127.0.0.1 instead.\n');
      advertiseHost = '127.0.0.1';
    }
  }

  const log = (line: string): void => {
    process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${line}\n`);
  };

  let stack: Stack;
  try {
    stack = await startStack({
      host: opts.lan ? '0.0.0.0' : '127.0.0.1',
      ...(advertiseHost ? { advertiseHost } : {}),
      signalingPort: opts.signalingPort,
      webPort: opts.webPort,
      stations: opts.stations,
      stationKind: opts.coturn ? 'coturn' : 'embedded',
      web: opts.static ? 'static' : 'dev',
      log,
    });
  } catch (err) {
    process.stderr.write(`npm start: ${(err as Error).message}\n`);
    return 1;
  }

  printBanner(stack, opts);

  return new Promise<number>((done) => {
    let firstSignalAt: number | undefined;
    const shutdown = (signal: NodeJS.Signals): void => {
      const now = Date.now();
      if (firstSignalAt !== undefined) {
        // One Ctrl-C can arrive twice: from the terminal and forwarded by npm. Only a later one forces exit.
        if (now - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
        process.stderr.write(`\n${signal} again: exiting without waiting.\n`);
        process.exit(130);
      }
      firstSignalAt = now;
      process.stderr.write(`\n${signal}: stopping (press Ctrl-C again to force)…\n`);
      stack.stop().then(
        () => {
          process.stderr.write('Stopped.\n');
          done(0);
        },
        (err: unknown) => {
          process.stderr.write(`npm start: error while stopping: ${String(err)}\n`);
          done(1);
        },
      );
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, shutdown);
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`npm start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
