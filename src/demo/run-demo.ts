// `notrack demo`: the whole loop on this machine, narrated for a newcomer: a lab of namespaces for the hosts of
// policies-example, a Git server, apply on every host, real traffic (allowed, denied, untracked, tracked),
// tampering caught by drift and repaired by apply, and removal of everything, also on Ctrl-C or failure.
import { resolve } from 'node:path';
import { showArgv, type CommandResult } from './command.js';
import { createLab, labPrerequisites, LAB_TOOLS, type Lab } from './lab.js';
import { PACKAGE_ROOT } from './node-entry.js';
import { conntrackEntries, ping, tcpExchange, udpExchange, type Exchange } from './traffic.js';
import { ATTACKER_ADDRESS, CLIENT_APP_ADDRESS, GIT_ADDRESS, VISITOR_ADDRESS } from './topology.js';

export interface DemoOptions {
  /** The policy repository folder to serve and apply; default: the package's policies-example. */
  policyFolder?: string;
  /** The argv that runs notrack; default: bin/notrack.js when built, the sources under tsx otherwise. */
  notrack?: string[];
  /** Where the narration goes; default stdout. */
  write?: (text: string) => void;
  /** Aborting it (Ctrl-C) removes the lab at once and ends the demo. */
  signal?: AbortSignal;
}

export interface DemoResult {
  /** True when every step behaved as expected. */
  ok: boolean;
  /** The step that did not, as "step N (title)". */
  failedStep?: string;
  interrupted: boolean;
  durationMs: number;
}

/** The packets the demo sends, and what the example policy says about each. */
const DB = { node: 'db-1', address: '10.0.2.10', port: 5432 };
const CACHE = { node: 'cache-1', address: '10.0.2.20', port: 11211 };
const EDGE = { node: 'edge-1', address: '10.0.0.10', port: 80 };
/** A port no rule of db-1 mentions: its traffic is left to the kernel's normal, tracked processing. */
const UNTOUCHED_PORT = 8000;

interface Step {
  title: string;
  /** One or two sentences for someone who has never seen notrack. */
  intro: string;
  run: () => Promise<void>;
}

class StepFailed extends Error {}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const started = Date.now();
  const write =
    opts.write ??
    ((text: string) => {
      process.stdout.write(text);
    });
  const say = (line = ''): void => write(`${line}\n`);
  const policyFolder = resolve(opts.policyFolder ?? resolve(PACKAGE_ROOT, 'policies-example'));
  // Held in an object: the steps set it from inside closures.
  const state: { lab: Lab | null } = { lab: null };
  let failures = 0;
  let commit = '';

  /** Prints one outcome line, ✔ or ✘ with the detail, and counts failures. */
  const report = (ok: boolean, text: string, detail?: string): boolean => {
    say(`  ${ok ? '✔' : '✘'} ${text}${!ok && detail ? `\n      ${detail.trim().split('\n').join('\n      ')}` : ''}`);
    if (!ok) failures += 1;
    return ok;
  };
  const check = (ok: boolean, text: string, detail?: string): boolean => {
    // After Ctrl-C the lab is being removed under the step's feet: what it measures now means nothing.
    if (opts.signal?.aborted) throw new StepFailed('interrupted');
    return report(ok, text, detail);
  };
  const need = (ok: boolean, text: string, detail?: string): void => {
    if (!check(ok, text, detail)) throw new StepFailed(text);
  };
  /** Prints a command's output, indented, at most `max` lines. */
  const show = (r: CommandResult, max = 30): void => {
    if (opts.signal?.aborted) return;
    const lines = `${r.stdout}${r.stderr}`
      .trimEnd()
      .split('\n')
      .filter((l) => l.trim() !== '');
    for (const l of lines.slice(0, max)) say(`      ${l}`);
    if (lines.length > max) say(`      … ${lines.length - max} more lines`);
  };
  const theLab = (): Lab => {
    if (!state.lab) throw new StepFailed('the lab was not built');
    return state.lab;
  };
  /** Runs `notrack <args>` on a host, printing the command line and its output. */
  const notrack = async (node: string, args: string[], max?: number): Promise<CommandResult> => {
    const l = theLab();
    say(`    [${node}] $ notrack ${showArgv(args)}`);
    const r = await l.notrack(node, args);
    show(r, max);
    return r;
  };
  const hostArgs = (node: string): string[] => theLab().hostOptions(node);
  const statusArgs = (node: string): string[] => {
    const h = theLab().host(node);
    return ['--bpffs', h.bpffs, '--state-dir', h.stateDir];
  };
  const describe = (x: Exchange): string => `${x.protocol.toUpperCase()} ${x.from ?? 'client'} -> ${x.to}:${x.port}`;

  const steps: Step[] = [
    {
      title: 'Check this machine',
      intro: 'The demo builds a small fleet out of network namespaces, so it needs root and a few standard tools.',
      run: async () => {
        const problems = labPrerequisites();
        for (const p of problems) check(false, p);
        if (problems.length > 0) throw new StepFailed('missing prerequisites');
        check(
          true,
          `running as root; found ${Object.keys(LAB_TOOLS)
            .map((t) => t.split('/').pop())
            .join(', ')}`,
        );
      },
    },
    {
      title: 'Build the lab',
      intro:
        `One namespace per host of ${policyFolder} (interfaces named as its HostEndpoints say), a client\n` +
        '  to send traffic from, a git namespace for the policy repository, and a bridge joining them all.\n' +
        "  Nothing is created in this machine's own network namespace.",
      run: async () => {
        const lab = await createLab({
          policyFolder,
          ...(opts.notrack ? { notrack: opts.notrack } : {}),
          log: (line) => say(`    ${line}`),
        });
        state.lab = lab;
        if (opts.signal?.aborted) throw new StepFailed('interrupted');
        for (const h of lab.hosts) {
          const ifs = h.plan.interfaces.map((i) => `${i.name} (${h.plan.endpoints[i.name]})`).join(', ');
          check(true, `host ${h.node}: ${ifs}`);
        }
        check(
          true,
          `client: app address ${CLIENT_APP_ADDRESS}, visitor ${VISITOR_ADDRESS}, attacker ${ATTACKER_ADDRESS}`,
        );
      },
    },
    {
      title: 'Serve the policy repository over Git',
      intro:
        'The policy folder becomes a Git repository, served over HTTP by a Git server running inside the git\n' +
        '  namespace. Every host fetches from it across the bridge, as real hosts fetch from a Git forge.',
      run: async () => {
        const l = theLab();
        await l.startGitServer();
        commit = await l.publish(policyFolder, 'policies-example');
        check(
          true,
          `serving ${l.repoUrl} (branch main at ${commit.slice(0, 12)}) from the git namespace, pid ${l.gitServer.pid}`,
        );
      },
    },
    {
      title: 'Apply the policy on every host',
      intro:
        'Each host runs `notrack apply` in its own namespace: fetch the commit, validate, compile for this host,\n' +
        '  load the XDP and TC programs, write the iptables raw/filter chains and ipsets, and record what it applied.',
      run: async () => {
        const l = theLab();
        check(
          await ping(l.client, EDGE.address, { from: ATTACKER_ADDRESS }),
          `before notrack, the attacker address ${ATTACKER_ADDRESS} can ping edge-1 (there is no firewall yet)`,
        );
        // The hosts apply at the same time, as a fleet would; their output is printed host by host.
        const results = await Promise.all(
          l.hosts.map(async (h) => ({ h, r: await l.notrack(h.node, ['apply', ...hostArgs(h.node)]) })),
        );
        for (const { h, r } of results) {
          say(`    [${h.node}] $ notrack apply ${showArgv(hostArgs(h.node))}`);
          show(r, 12);
          const generation = /generation (\d+)/.exec(r.stdout)?.[1];
          check(
            r.status === 0,
            `${h.node}: notrack apply exited ${r.status}` +
              (r.status === 0
                ? ` (runs ${commit.slice(0, 12)}${generation ? `, program generation ${generation}` : ''})`
                : ''),
          );
        }
        if (results.some(({ r }) => r.status !== 0)) throw new StepFailed('apply failed');
      },
    },
    {
      title: 'Send traffic: allowed, denied, untracked, tracked',
      intro:
        'Real packets from the client. doNotTrack rules decide at XDP, before the kernel spends anything on a\n' +
        '  packet: Allow lets it in *untracked* (no conntrack entry), Deny drops it. Packets no rule matches go on\n' +
        "  to the kernel's normal, tracked processing.",
      run: async () => {
        const l = theLab();
        const db = l.host(DB.node).namespace;
        const cache = l.host(CACHE.node).namespace;
        const edge = l.host(EDGE.node).namespace;
        say('  Allowed by the policy (requests in, replies out, both untracked):');
        const allowed = [
          await tcpExchange({ client: l.client, server: db, to: DB.address, port: DB.port, from: CLIENT_APP_ADDRESS }),
          await tcpExchange({
            client: l.client,
            server: cache,
            to: CACHE.address,
            port: CACHE.port,
            from: CLIENT_APP_ADDRESS,
          }),
          await udpExchange({
            client: l.client,
            server: cache,
            to: CACHE.address,
            port: CACHE.port,
            from: CLIENT_APP_ADDRESS,
          }),
          await tcpExchange({
            client: l.client,
            server: edge,
            to: EDGE.address,
            port: EDGE.port,
            from: VISITOR_ADDRESS,
          }),
        ];
        const why = [
          'db-postgres: app subnet -> postgres',
          'cache-memcached: app subnet -> memcached',
          'cache-memcached: app subnet -> memcached (UDP)',
          'edge-web: anyone -> http',
        ];
        allowed.forEach((x, i) =>
          check(
            x.delivered && x.answered,
            `${describe(x)} got through and was answered (${why[i]})`,
            `delivered: ${x.delivered}, answered: ${x.answered}`,
          ),
        );

        say('  Denied by the DDoS deny list, dropped at XDP on edge-1:');
        const denied = await tcpExchange({
          client: l.client,
          server: edge,
          to: EDGE.address,
          port: EDGE.port,
          from: ATTACKER_ADDRESS,
        });
        check(
          !denied.delivered,
          `${describe(denied)} never reached the web server (ddos-deny: ${ATTACKER_ADDRESS} is in ddos-deny-list)`,
        );
        check(
          !(await ping(l.client, EDGE.address, { from: ATTACKER_ADDRESS })),
          `ping from ${ATTACKER_ADDRESS} to edge-1 gets no answer now`,
        );

        say('  Untracked means no connection-tracking entry on the host:');
        const dbFlows = await conntrackEntries(db, { protocol: 'tcp', port: DB.port });
        check(dbFlows.length === 0, `db-1 keeps no conntrack entry for the postgres connection`, dbFlows.join('\n'));
        const cacheFlows = [
          ...(await conntrackEntries(cache, { protocol: 'tcp', port: CACHE.port })),
          ...(await conntrackEntries(cache, { protocol: 'udp', port: CACHE.port })),
        ];
        check(
          cacheFlows.length === 0,
          'cache-1 keeps no conntrack entry for the memcached TCP and UDP requests',
          cacheFlows.join('\n'),
        );

        say(`  A flow no rule matches (TCP ${UNTOUCHED_PORT} on db-1) is left to the kernel, which tracks it:`);
        const plain = await tcpExchange({
          client: l.client,
          server: db,
          to: DB.address,
          port: UNTOUCHED_PORT,
          from: CLIENT_APP_ADDRESS,
        });
        check(plain.answered, `${describe(plain)} got through (no doNotTrack rule decides it)`);
        const tracked = await conntrackEntries(db, { protocol: 'tcp', port: UNTOUCHED_PORT });
        check(
          tracked.length > 0,
          `db-1 has a conntrack entry for it: ${tracked[0]?.replace(/\s+/g, ' ').trim() ?? 'none'}`,
        );

        say('  Per-rule counters, read from the pinned BPF maps by `notrack status`:');
        for (const node of [EDGE.node, DB.node]) {
          const r = await notrack(node, ['status', ...statusArgs(node)], 40);
          check(r.status === 0, `notrack status on ${node} exited ${r.status}`);
        }
        const json = await l.notrack(EDGE.node, ['status', ...statusArgs(EDGE.node), '--format', 'json']);
        const denyPackets = ruleCounter(json, 'eth0', 'ddos-deny');
        check(
          denyPackets !== null && denyPackets > 0,
          `edge-1's ddos-deny rule on eth0 counted the attacker's packets (${denyPackets ?? 'unreadable'})`,
        );
      },
    },
    {
      title: 'Tamper with a host, catch it with drift, repair it with apply',
      intro:
        'Someone "fixes" edge-1 by hand: flushes notrack\'s raw chain and deletes the pin that keeps the XDP\n' +
        '  program attached to eth0. `notrack drift` compares the host with what notrack applied (exit 2 = drift);\n' +
        '  `notrack apply` puts it back; drift then reports the host in sync (exit 0).',
      run: async () => {
        const l = theLab();
        const edge = l.host(EDGE.node);
        say('    [edge-1] $ iptables -t raw -F NOTRACK-PREROUTING');
        await edge.namespace.exec(['iptables', '-t', 'raw', '-F', 'NOTRACK-PREROUTING']);
        const linkPin = `${edge.bpffs}/eth0/links/xdp`;
        say(`    [edge-1] $ rm ${linkPin}`);
        await edge.namespace.exec(['rm', '-f', linkPin]);
        check(
          await ping(l.client, EDGE.address, { from: ATTACKER_ADDRESS, timeoutS: 1 }),
          "with the XDP program gone, the attacker's ping reaches edge-1 again",
        );

        const drift = await notrack(EDGE.node, ['drift', ...hostArgs(EDGE.node)]);
        check(drift.status === 2, `notrack drift exited ${drift.status} (2 = drift found)`);
        check(/NOTRACK-PREROUTING/.test(drift.stdout), 'drift names the flushed raw chain');
        check(/XDP[^\n]*eth0|eth0[^\n]*XDP/i.test(drift.stdout), 'drift names the XDP program on eth0');

        const apply = await notrack(EDGE.node, ['apply', ...hostArgs(EDGE.node)], 12);
        need(apply.status === 0, `notrack apply exited ${apply.status} (the host is repaired)`);
        const again = await notrack(EDGE.node, ['drift', ...hostArgs(EDGE.node)]);
        check(again.status === 0, `notrack drift exited ${again.status} (0 = in sync)`);
        check(
          !(await ping(l.client, EDGE.address, { from: ATTACKER_ADDRESS })),
          'the attacker is dropped at XDP again',
        );
      },
    },
  ];

  say('notrack demo: GitOps for stateless host firewalls, end to end, inside network namespaces on this machine.');
  say(`Repository: ${policyFolder}; Git server address in the lab: ${GIT_ADDRESS}.`);
  let failedStep: string | undefined;
  let interrupted = false;
  const onAbort = (): void => {
    void state.lab?.destroy();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const total = steps.length + 1;
  try {
    for (const [i, step] of steps.entries()) {
      say('');
      say(`== Step ${i + 1}/${total}: ${step.title} ==`);
      say(`  ${step.intro}`);
      const before = failures;
      try {
        await step.run();
      } catch (e) {
        if (opts.signal?.aborted) {
          interrupted = true;
          failedStep = `step ${i + 1} (${step.title})`;
          break;
        }
        if (!(e instanceof StepFailed)) check(false, `unexpected error: ${(e as Error).message}`);
      }
      if (opts.signal?.aborted) {
        interrupted = true;
        failedStep = `step ${i + 1} (${step.title})`;
        break;
      }
      if (failures > before) {
        failedStep = `step ${i + 1} (${step.title})`;
        break;
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    say('');
    say(`== Step ${total}/${total}: Remove everything ==`);
    say('  Namespaces (and with them every program, rule and set notrack made there), the Git server, the private');
    say('  bpffs mount and the temporary folder.');
    const made = state.lab;
    if (made !== null) {
      await made.destroy();
      const remains = made.remains();
      if (!report(remains.length === 0, `removed lab ${made.prefix}`, remains.join('\n')))
        failedStep ??= `step ${total} (Remove everything)`;
    } else {
      report(true, 'no lab was made, nothing to remove');
    }
  }
  const durationMs = Date.now() - started;
  say('');
  if (interrupted) say(`Interrupted during ${failedStep}; everything the demo made was removed.`);
  else if (failedStep) say(`The demo did not go as expected at ${failedStep}. See the ✘ lines above.`);
  else say(`Every step behaved as expected (${(durationMs / 1000).toFixed(1)} s).`);
  return { ok: !failedStep && !interrupted, ...(failedStep ? { failedStep } : {}), interrupted, durationMs };
}

/** The packets of the first rule of `policy` on `iface` in `notrack status --format json`, or null. */
function ruleCounter(r: CommandResult, iface: string, policy: string): number | null {
  if (r.status !== 0) return null;
  try {
    const doc = JSON.parse(r.stdout) as { rules?: Array<{ iface: string; policy: string; packets: number }> };
    const row = doc.rules?.find((x) => x.iface === iface && x.policy === policy);
    return row ? row.packets : null;
  } catch {
    return null;
  }
}
