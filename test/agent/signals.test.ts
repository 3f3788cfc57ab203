// The agent and its signals: SIGHUP reconciles now, SIGTERM waits (within a bound) and leaves the dataplane.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT, TSX_LOADER } from '../support/cli.js';

const CHILD = path.join(ROOT, 'test', 'agent', 'agent-child.ts');

type Entry = Record<string, unknown> & { msg: string };

/** A running agent process and the JSON lines it has printed so far. */
class AgentProcess {
  readonly entries: Entry[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private buffer = '';
  stderr = '';

  constructor(config: Record<string, unknown>) {
    this.child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD], {
      cwd: ROOT,
      env: { ...process.env, NOTRACK_TEST_AGENT: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.entries.push(JSON.parse(line) as Entry); // every line must be JSON
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  async waitFor(pred: (e: Entry) => boolean, timeoutMs = 8000): Promise<Entry> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.entries.find(pred);
      if (found) return found;
      if (Date.now() > until || this.child.exitCode !== null) {
        throw new Error(
          `no such log line; got:\n${this.entries.map((e) => JSON.stringify(e)).join('\n')}\n${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  index(pred: (e: Entry) => boolean): number {
    return this.entries.findIndex(pred);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

// The contract of src/agent/reconciler.ts: the three calls, and the optional protection members the agent looks for.
const ALLOWED = new Set([
  'reconcile',
  'checkDrift',
  'counters',
  'protection',
  'protect',
  'restore',
  'watchLinks',
  'confirm',
]);

test('SIGHUP reconciles now; SIGTERM waits for that reconcile, exits 0, and touches nothing but the reconciler contract', async () => {
  const agent = new AgentProcess({ signalDelayMs: 600 });
  try {
    await agent.waitFor((e) => e.msg === 'reconcile finished' && e['trigger'] === 'startup');
    agent.signal('SIGHUP');
    await agent.waitFor((e) => e.msg === 'reconcile started' && e['trigger'] === 'signal');
    agent.signal('SIGTERM');
    const { code, signal } = await agent.exited;
    assert.equal({ code, signal }, { code: 0, signal: null }, agent.stderr);

    const stopping = agent.index((e) => e.msg === 'agent stopping');
    const finished = agent.index((e) => e.msg === 'reconcile finished' && e['trigger'] === 'signal');
    const stopped = agent.index((e) => e.msg === 'agent stopped');
    assert.ok(stopping >= 0 && finished > stopping && stopped > finished, 'stop waited for the running reconcile');
    assert.is(agent.entries[stopping]!['reason'], 'SIGTERM');
    assert.is(agent.entries[finished]!['status'], 'Ready');
    assert.is(agent.entries[stopped]!['dataplane'], 'left in place');

    const used = agent.entries.find((e) => e.msg === 'test: reconciler members used')!;
    const methods = (used['members'] as string[]).filter((m) => !['then', 'constructor'].includes(m));
    assert.ok(methods.length > 0);
    for (const m of methods) assert.ok(ALLOWED.has(m), `the agent used reconciler.${m}`);
  } finally {
    agent.kill();
  }
});

test('SIGTERM does not wait past --shutdown-timeout for a hung reconcile, and still exits 0', async () => {
  const agent = new AgentProcess({ hang: true, shutdownTimeoutMs: 300 });
  try {
    await agent.waitFor((e) => e.msg === 'reconcile finished' && e['trigger'] === 'startup');
    agent.signal('SIGHUP');
    await agent.waitFor((e) => e.msg === 'reconcile started' && e['trigger'] === 'signal');
    const t0 = Date.now();
    agent.signal('SIGTERM');
    const { code } = await agent.exited;
    assert.is(code, 0, agent.stderr);
    assert.ok(Date.now() - t0 < 5000, 'exited soon after the timeout');
    const gaveUp = agent.entries.find((e) => e.msg === 'stopped waiting for the running job')!;
    assert.ok((gaveUp['waitedMs'] as number) >= 290);
    assert.ok(agent.entries.some((e) => e.msg === 'agent stopped'));
  } finally {
    agent.kill();
  }
});

test.run();
