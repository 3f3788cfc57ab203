// `notrack fleet --prometheus URL`: which hosts run which commit, and which drifted, lag, are unprotected, missing,
// stale or stalled, from the agents' metrics in Prometheus; exit 0 when all are in sync, 2 when not.
import { appendFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { fetchSource } from '../source/index.js';
import { loadResources } from '../model/load-resources.js';
import { readFleetSamples } from '../fleet/fleet-samples.js';
import { fleetReport } from '../fleet/fleet-report.js';
import { commitsBehind } from '../fleet/commits-behind.js';
import { FleetError } from '../fleet/fleet-error.js';
import { parseDuration } from '../agent/duration.js';
import { renderFleetGithub, renderFleetJson, renderFleetMarkdown, renderFleetText } from '../report/fleet-render.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { sourceOptions } from './read-policy.js';

const FLEET_HELP = `Usage: notrack fleet --prometheus URL [--repo URL|PATH --ref REF | --head COMMIT] [--format text|json|markdown|github]

Reads the agents' metrics from Prometheus and reports every host: the commit and generation it runs, how far
behind the head it is, whether it is protected, drift, its reconcile condition and its last success; and the
hosts that are missing (named by the policy, no agent in Prometheus), unreachable, stale or stalled.
Exit status: 0 every host in sync, 2 drift, lag, unprotected, missing, stale or stalled hosts, 1 error, 64 bad usage.

Options:
  --prometheus URL    Prometheus's base URL (http://prometheus:9090; user:password@ for basic auth)
  --job NAME          the scrape job of the agents (default: notrack)
  --host-label NAME   the target label naming each host as HostEndpoints do (default: host; else instance)
  --head COMMIT       the commit hosts should run (default: the head of --repo/--ref, when given)
${SOURCE_HELP}
                      (with --repo: the head commit, the hosts the policy names, and commits behind)
  --stale-after DURATION  a host without a successful reconcile for this long is stale (default 1h)
  --timeout DURATION  how long one Prometheus query may take (default 30s)
  --format FORMAT     text (default), json (kind notrack.fleet), markdown (a job summary or issue) or github
                      (an annotation per host not in sync; the Markdown goes to $GITHUB_STEP_SUMMARY)
  -h, --help          show this help
`;

export async function fleetCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    prometheus: { type: 'string' },
    job: { type: 'string' },
    'host-label': { type: 'string' },
    head: { type: 'string' },
    'stale-after': { type: 'string' },
    timeout: { type: 'string' },
    format: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(FLEET_HELP);
    return 0;
  }
  if (!values.prometheus) throw new UsageError('--prometheus URL is required (the Prometheus that scrapes the agents)');
  const format = oneOf('format', values.format, ['text', 'json', 'markdown', 'github'] as const, 'text');
  if (values.head !== undefined && values.ref !== undefined)
    throw new UsageError('give the head either as --head COMMIT or as --repo with --ref, not both');
  const staleAfterMs = values['stale-after'] ? parseDuration(values['stale-after'], 'stale-after') : 3_600_000;
  const timeoutMs = values.timeout ? parseDuration(values.timeout, 'timeout') : 30_000;

  let head: { commit: string | null; ref: string | null } = { commit: values.head ?? null, ref: null };
  let expectedHosts: string[] | null = null;
  if (values.repo !== undefined) {
    const snapshot = await fetchSource(sourceOptions(values));
    const loaded = loadResources(snapshot.files);
    expectedHosts = [...new Set(loaded.resources.hostEndpoints.map((h) => h.node))].sort();
    if (values.head === undefined) head = { commit: snapshot.commit, ref: snapshot.ref };
  }

  const samples = await readFleetSamples({
    prometheus: values.prometheus,
    job: values.job ?? 'notrack',
    hostLabel: values['host-label'] ?? 'host',
    timeoutMs,
  });
  if (samples.length === 0 && expectedHosts === null)
    throw new FleetError(
      'fleet-no-agents',
      `Prometheus has no target of job "${values.job ?? 'notrack'}": check --job and the scrape configuration`,
    );
  const applied = [...new Set(samples.map((s) => s.commit).filter((c): c is string => c !== null))];
  const behind =
    values.repo !== undefined && head.commit
      ? await commitsBehind({
          repo: values.repo,
          ...(values['cache-dir'] ? { cacheDir: values['cache-dir'] } : {}),
          head: head.commit,
          commits: applied,
        })
      : new Map<string, number | null>();
  const report = fleetReport({
    samples,
    prometheus: values.prometheus.replace(/\/\/[^@/]*@/, '//'),
    head,
    expectedHosts,
    behind,
    nowMs: Date.now(),
    staleAfterMs,
  });
  const render = {
    text: renderFleetText,
    json: renderFleetJson,
    markdown: renderFleetMarkdown,
    github: renderFleetGithub,
  }[format];
  process.stdout.write(render(report));
  if (format === 'github' && process.env['GITHUB_STEP_SUMMARY'])
    appendFileSync(process.env['GITHUB_STEP_SUMMARY'], renderFleetMarkdown(report));
  return report.inSync ? 0 : 2;
}
