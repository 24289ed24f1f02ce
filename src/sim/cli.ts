// npm run sim -- --nodes N --stations S --hops H --loss P --seed X [--simultaneous] [--abrupt] [--rate R] --json
import { parseArgs } from 'node:util';
import { DEFAULT_SCENARIO, runScenario } from './scenario.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string' },
    stations: { type: 'string' },
    hops: { type: 'string' },
    loss: { type: 'string' },
    seed: { type: 'string' },
    rate: { type: 'string' },
    interval: { type: 'string' },
    simultaneous: { type: 'boolean', default: false },
    abrupt: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`usage: npm run sim -- [--nodes 2] [--stations 3] [--hops 10] [--loss 0] [--seed 1] [--rate 50]
       [--interval 2000] [--simultaneous] [--abrupt] [--json]
Runs the deterministic network simulator (fake clock) and checks that no message is lost, duplicated or
reordered across the hops. Exits 1 if any invariant broke.`);
  process.exit(0);
}
const num = (v: string | undefined, d: number, name: string): number => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} must be a non-negative number, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
};
const opts = {
  ...DEFAULT_SCENARIO,
  nodes: Math.max(2, num(values.nodes, DEFAULT_SCENARIO.nodes, 'nodes')),
  stations: Math.max(2, num(values.stations, DEFAULT_SCENARIO.stations, 'stations')),
  hops: num(values.hops, DEFAULT_SCENARIO.hops, 'hops'),
  loss: num(values.loss, 0, 'loss'),
  seed: num(values.seed, 1, 'seed'),
  ratePerSec: num(values.rate, DEFAULT_SCENARIO.ratePerSec, 'rate'),
  hopIntervalMs: num(values.interval, DEFAULT_SCENARIO.hopIntervalMs, 'interval'),
  simultaneous: values.simultaneous ?? false,
  abrupt: values.abrupt ?? false,
};
if (opts.loss >= 1) {
  console.error('--loss is a probability below 1');
  process.exit(2);
}
if (opts.abrupt && opts.stations < 3) {
  console.error('--abrupt needs at least 3 stations (two attached, one to move to)');
  process.exit(2);
}
const t0 = performance.now();
const r = await runScenario(opts);
const out = { ...r, realMs: Math.round(performance.now() - t0) };
if (values.json) console.log(JSON.stringify(out));
else {
  for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(20)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
}
process.exit(r.ok ? 0 : 1);
