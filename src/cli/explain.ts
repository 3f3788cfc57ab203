// `notrack explain`: which rule decides a given packet on a given host and interface, and why, from the policy alone;
// with --kernel also from the compiled program run in the kernel, side by side (compile/explain.ts, report/explain.ts).
import { NotrackError, UsageError } from '../errors.js';
import { fetchSource } from '../source/index.js';
import { loadResources } from '../model/load-resources.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { compileHost } from '../compile/compile-host.js';
import type { PacketDescription } from '../compile/desired-state.js';
import {
  compareWithKernel,
  explainPacket,
  interfaceOf,
  RuleLocator,
  verdictCounters,
  type KernelComparison,
} from '../compile/explain.js';
import { PACKET_EXAMPLE, PacketSyntaxError, parsePacket } from '../compile/packet-text.js';
import { renderExplanationJson, renderExplanationText, renderKernelText } from '../report/explain.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { readPolicyFiles } from './read-policy.js';

const EXPLAIN_HELP = `Usage: notrack explain --host HOST --iface IFACE --packet PACKET [--direction ingress|egress]
                       [--repo URL|PATH] [--ref REF] [--path DIR] [--kernel] [--format text|json]

Evaluates one packet against the policy of an interface of a host, as the dataplane would: arriving on it
(ingress, the XDP pipeline: failsafes, then the doNotTrack ingress rules in order) or leaving by it (egress,
notrack's raw OUTPUT chains: failsafes, then the egress rules in order). Prints the verdict, the rule that decided
it (with its file and line), the Log rules that matched, or why nothing decided.
With --kernel it also asks the kernel (root): for ingress it runs the packet through the compiled XDP pipeline
(BPF_PROG_TEST_RUN: nothing is attached or pinned); for egress it sends the packet out of a dummy interface of
that name in a private network namespace loaded with the host's chains and ipsets, and reads which notrack rule
counters rose (needs ip, iptables, ipset and socat). It shows both verdicts, and whether they agree.
Exit status: 0 the packet was evaluated (and with --kernel, both agree), 1 error (invalid policy, unknown host or
interface, no BPF permission) or the kernel DISAGREES with the reference (a bug), 64 bad usage.

Packets:
  tcp 203.0.113.5:4000 > 10.0.0.5:5432         udp, sctp and udplite alike
  udp [2001:db8::1]:53 > [fd00::5]:5353         IPv6 with ports: addresses in brackets
  icmp 10.0.0.1 > 10.0.0.2 type 8 code 0       icmpv6 2001:db8::1 > fd00::5 type 128
  proto 47 10.0.0.1 > 10.0.0.2                 any protocol by number
  udp 10.0.0.1 > 10.0.0.2 frag                 a later fragment: no ports, no ICMP header

Options:
  --host HOST         the node of the HostEndpoints to use
  --iface IFACE       the interface the packet arrives on (or, with --direction egress, leaves by)
  --direction DIR     ingress (default) or egress
  --packet PACKET     the packet, as above
  --kernel            also run it through the compiled program in the kernel and compare (root)
${SOURCE_HELP}
  --format FORMAT     text (default) or json
  -h, --help          show this help
`;

export async function explainCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    host: { type: 'string' },
    iface: { type: 'string' },
    packet: { type: 'string' },
    format: { type: 'string' },
    kernel: { type: 'boolean' },
    direction: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(EXPLAIN_HELP);
    return 0;
  }
  const format = oneOf('format', values.format, ['text', 'json'] as const, 'text');
  const direction = oneOf('direction', values.direction, ['ingress', 'egress'] as const, 'ingress');
  for (const name of ['host', 'iface', 'packet'] as const) {
    if (values[name] === undefined || values[name] === '') {
      throw new UsageError(`--${name} is required${name === 'packet' ? `, e.g. --packet '${PACKET_EXAMPLE}'` : ''}`);
    }
  }
  let packet: PacketDescription;
  try {
    packet = parsePacket(values.packet!);
  } catch (e) {
    if (e instanceof PacketSyntaxError) throw new UsageError(`--packet: ${e.message}`);
    throw e;
  }

  const snapshot = await readPolicyFiles(values, undefined, fetchSource);
  for (const w of snapshot.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  const loaded = loadResources(snapshot.files);
  if (!loaded.valid) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    for (const d of errors.slice(0, 20)) process.stderr.write(`${formatDiagnostic(d)}\n`);
    throw new NotrackError(
      'invalid-policy',
      `the policy has ${errors.length} error${errors.length === 1 ? '' : 's'}; explain needs valid policy (see "notrack validate")`,
    );
  }
  const host = values.host!;
  const state = compileHost(loaded.resources, host);
  const iface = interfaceOf(state, loaded.resources, host, values.iface!);
  const explanation = explainPacket(
    state,
    iface,
    values.iface!,
    packet,
    new RuleLocator(snapshot.files, loaded.resources),
    direction,
  );
  const counters = verdictCounters(state, iface, values.iface!, packet, direction);
  let kernel: KernelComparison | undefined;
  if (values.kernel && direction === 'ingress') {
    // Loaded only here: plain explain never loads the kernel binding.
    const { kernelVerdict } = await import('../dataplane/test-run.js');
    kernel = compareWithKernel(explanation, kernelVerdict(state, iface, packet));
  } else if (values.kernel) {
    const { egressKernelVerdict } = await import('../dataplane/egress-test-run.js');
    const { iptablesDesired, ipsetsDesired } = await import('../reconcile/host-dataplane.js');
    const verdict = egressKernelVerdict({
      iptables: iptablesDesired(state),
      ipsets: ipsetsDesired(state),
      iface: values.iface!,
      packet,
      counters,
    });
    kernel = compareWithKernel(explanation, verdict);
  }
  if (format === 'json') {
    const subject = { repo: snapshot.repo, ref: snapshot.ref, commit: snapshot.commit, path: snapshot.subPath };
    process.stdout.write(renderExplanationJson(subject, explanation, kernel));
  } else {
    process.stdout.write(renderExplanationText(explanation));
    if (kernel) process.stdout.write(renderKernelText(explanation, kernel, counters));
  }
  if (kernel && !kernel.agree) {
    process.stderr.write('notrack explain: the kernel disagrees with the reference evaluator (a bug in notrack)\n');
    return 1;
  }
  return 0;
}
