// CLI: tsx signaling-server/main.ts --port 8787 --host 127.0.0.1
// Runs the signaling server alone (no stations; `npm start` wires stations in through the launcher).

import { parseArgs } from 'node:util';
import { startSignalingServer } from './server.ts';

function usage(): string {
  return 'usage: tsx signaling-server/main.ts [--port 8787] [--host 127.0.0.1] [--quiet]';
}

async function main(): Promise<void> {
  let values: { port?: string; host?: string; quiet?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', short: 'p', default: '8787' },
        host: { type: 'string', short: 'h', default: '127.0.0.1' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage()}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage());
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${JSON.stringify(values.port)}\n${usage()}`);
    process.exit(2);
  }
  const quiet = values.quiet === true;
  let server;
  try {
    server = await startSignalingServer({
      port,
      host: values.host ?? '127.0.0.1',
      log: (line) => {
        if (!quiet) console.log(`${new Date().toISOString()} ${line}`);
      },
    });
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  console.log(`signaling: ${server.url}  health: ${server.httpUrl}/health`);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${sig}: closing`);
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
