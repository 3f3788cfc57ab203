// The GitHub composite action and the GitLab CI templates call notrack only with commands and flags it has, and
// carry the steps the workflow needs: fetch the base, validate (warnings as errors), test, plan, comment.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { cliInProcess } from '../support/cli-in-process.js';
import { ROOT } from '../support/cli.js';
import { flagsFromHelp } from '../../src/cli/completion.js';

const TEMPLATES = [
  'action.yml',
  'ci/gitlab/notrack.gitlab-ci.yml',
  'ci/gitlab/fleet-drift.gitlab-ci.yml',
  'ci/github/fleet-drift.yml',
];

/** Every shell line of a template (GitHub `run:`, GitLab `script`/`before_script`). */
function shellLines(doc: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string | null) => {
    if (typeof v === 'string' && (key === 'run' || key === 'script' || key === 'before_script' || key === 'item'))
      out.push(...v.split('\n'));
    else if (Array.isArray(v)) for (const x of v) walk(x, key === 'script' || key === 'before_script' ? 'item' : null);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(doc, null);
  return out;
}

/** `notrack <command> --flag …` invocations in shell text: the command and its flags. */
function invocations(lines: string[]): { command: string; flags: string[] }[] {
  const text = lines.join('\n').replace(/\\\n\s*/g, ' ');
  return [...text.matchAll(/\bnotrack ([a-z]+)([^\n;|&>]*)/g)].map((m) => ({
    command: m[1]!,
    flags: [...m[2]!.matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)].map((f) => f[1]!),
  }));
}

test('every notrack command and flag in the CI templates exists', async () => {
  let checked = 0;
  for (const file of TEMPLATES) {
    const doc = parse(readFileSync(path.join(ROOT, file), 'utf8')) as unknown;
    for (const call of invocations(shellLines(doc))) {
      const help = await cliInProcess(call.command, '--help');
      assert.is(help.code, 0, `${file}: notrack ${call.command} is a command`);
      const known = new Set(flagsFromHelp(help.out).map((f) => f.name));
      for (const f of call.flags) assert.ok(known.has(f), `${file}: notrack ${call.command} has --${f}`);
      checked += 1;
    }
  }
  assert.ok(checked >= 10, `${checked} invocations checked`);
});

test('the action is composite and runs validate (warnings fail), test, plan, then the comment, after fetching the base', () => {
  const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as {
    runs: { using: string; steps: { name?: string; run?: string; if?: string }[] };
  };
  assert.is(action.runs.using, 'composite');
  const runs = action.runs.steps.map((s) => s.run ?? '');
  const at = (re: RegExp) => runs.findIndex((r) => re.test(r));
  const order = [
    /git fetch --no-tags --depth=1 origin/,
    /notrack validate .*--strict/,
    /notrack test /,
    /notrack plan /,
    /notrack comment /,
  ].map(at);
  assert.ok(
    order.every((i) => i >= 0),
    `steps found: ${order}`,
  );
  assert.equal(
    [...order].sort((a, b) => a - b),
    order,
    'in this order',
  );
  const comment = action.runs.steps.find((s) => /notrack comment/.test(s.run ?? ''))!;
  assert.match(comment.if ?? '', 'pull_request.number');
});

test.run();
