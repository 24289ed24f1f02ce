// A Chromium page and a headless Node node (scripts/node.ts, a child process on @roamhq/wrtc) in one room:
// both stream 100 msg/s and both hop a few times; every message arrives exactly once, in order, on both sides.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../signaling-server/stack.ts';
import { collectConsoleErrors, launchBrowser, startTestStack, type TestBrowser, type TestStack } from './harness.ts';
import { demo, established, inviteHash, openNode, sleep, waitFor } from './pages.ts';

const RATE = 100;

interface NodeStats {
  type: string;
  nodeId: string;
  established: number;
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  maxGapMs: number;
  hops: number;
  hopMs: number[];
  peers: Array<{ peerId: string; state: string; sent: number; delivered: number; lost: number; duplicated: number; reordered: number; maxGapMs: number }>;
}

/** The node as a child process: JSON lines in, commands out. */
class NodeProc {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>> = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'scripts/node.ts', ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        this.stderr += `stdout (not JSON): ${l}\n`;
      }
    });
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }

  cmd(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  async waitLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs: number, from = 0): Promise<Record<string, unknown>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const l = this.lines.slice(from).find(pred);
      if (l) return l;
      if (Date.now() > end) throw new Error(`node: no matching line in ${timeoutMs} ms; stderr: ${this.stderr.slice(-800)}; last: ${JSON.stringify(this.lines.at(-1)).slice(0, 600)}`);
      await sleep(20);
    }
  }

  /** A fresh stats line (asked for now). */
  async stats(): Promise<NodeStats> {
    const from = this.lines.length;
    this.cmd('stats');
    return (await this.waitLine((l) => l.type === 'stats', 5_000, from)) as unknown as NodeStats;
  }

  async ok(line: string): Promise<void> {
    const from = this.lines.length;
    this.cmd(line);
    const r = await this.waitLine((l) => (l.type === 'ok' || l.type === 'error') && l.cmd === line, 5_000, from);
    if (r.type !== 'ok') throw new Error(`node: ${line}: ${String(r.error)}`);
  }
}

describe('a Chromium page and a headless Node node', () => {
  let stack: TestStack;
  let browser: TestBrowser;
  let node: NodeProc | undefined;
  let page: Page;

  beforeAll(async () => {
    stack = await startTestStack({ web: 'dev' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    if (node && node.child.exitCode === null) {
      node.child.kill('SIGTERM');
      const t = setTimeout(() => node!.child.kill('SIGKILL'), 5_000);
      await node.exited;
      clearTimeout(t);
    }
    await browser?.close();
    await stack?.stop();
  });

  it('stream 100 msg/s both ways while both hop: exactly once, in order, on both sides; the node exits cleanly', async () => {
    page = await openNode(browser, stack, 'alice', 'cell-a');
    const errors = collectConsoleErrors(page);
    const hash = await inviteHash(page);
    const pageId = await demo(page, (d) => d.nodeId);
    const nodeId = 'nodebob';
    node = new NodeProc([
      '--invite', `${stack.webUrl}${hash}`,
      '--station', 'cell-b',
      '--name', 'bob',
      '--id', nodeId,
      '--signaling', stack.config.signalingUrl,
      '--stations', stack.config.stationsUrl,
      '--overlap', '300',
    ]);
    await node.waitLine((l) => l.type === 'ready', 20_000);
    const t0 = Date.now();
    await established(page, 1);
    await waitFor(() => node!.stats(), (s) => s.established >= 1, 10_000);
    const connectMs = Date.now() - t0;
    const peer = (await demo(page, (d) => d.peers()))[0]!;
    expect(peer.peerId).toBe(nodeId);

    await demo(page, (d) => d.setOverlapMs(300));
    await demo(page, (d, r) => d.startStream(r as number), RATE);
    await node.ok(`stream ${RATE}`);
    await sleep(500);
    const pageHops = ['wifi', 'cell-b', 'cell-a', 'wifi'];
    const nodeHops = ['cell-a', 'wifi', 'cell-b', 'cell-a'];
    for (let i = 0; i < pageHops.length; i++) {
      await demo(page, (d, s) => d.hop(s as string), pageHops[i]);
      await sleep(i % 2 ? 0 : 300); // every other round both hop at the same moment
      await node.ok(`hop ${nodeHops[i]}`);
      await sleep(700);
    }
    await sleep(300);
    await demo(page, (d) => d.stopStream());
    await node.ok('stream 0');

    // Drain: what each side sent, the other delivered — exactly once and in order.
    const pageSent = await demo(page, (d, id) => d.stats(id as string).sent, nodeId);
    const nodeView = await waitFor(() => node!.stats(), (s) => (s.peers.find((p) => p.peerId === pageId)?.delivered ?? 0) >= pageSent, 5_000);
    const fromPage = nodeView.peers.find((p) => p.peerId === pageId)!;
    const nodeSent = fromPage.sent;
    const pageView = await waitFor(() => demo(page, (d, id) => d.stats(id as string), nodeId), (s) => s.delivered >= nodeSent, 5_000);
    expect(nodeSent).toBeGreaterThan(RATE * 2);
    expect(pageSent).toBeGreaterThan(RATE * 2);
    expect({ delivered: fromPage.delivered, lost: fromPage.lost, duplicated: fromPage.duplicated, reordered: fromPage.reordered }).toEqual({ delivered: pageSent, lost: 0, duplicated: 0, reordered: 0 });
    expect({ delivered: pageView.delivered, lost: pageView.lost, duplicated: pageView.duplicated, reordered: pageView.reordered }).toEqual({ delivered: nodeSent, lost: 0, duplicated: 0, reordered: 0 });
    const pageHopsDone = await demo(page, (d) => d.events().filter((e) => e.kind === 'hop-finished').map((e) => Number(/in (\d+) ms/.exec(e.text)?.[1])));
    expect(pageHopsDone.length).toBeGreaterThanOrEqual(pageHops.length);
    expect(nodeView.hops).toBeGreaterThanOrEqual(nodeHops.length);
    console.info(
      `[figures] Node↔Chromium: connected ${connectMs} ms after the node joined; ${pageSent}+${nodeSent} msgs; max gap page ${pageView.maxGapMs.toFixed(1)} ms, node ${fromPage.maxGapMs.toFixed(1)} ms; hop ms page ${pageHopsDone.join(' ')}, node ${nodeView.hopMs.join(' ')}`,
    );
    expect(errors.errors).toEqual([]);

    // A clean exit on SIGTERM: the runtime stops, exit code 0.
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    expect(node.lines.at(-1)?.type).toBe('exit');
    await page.close();
  }, 90_000);
});
