// `notrack comment`: posts a report (the plan's Markdown) as one comment on the pull or merge request, edited in
// place on every later run and split into parts when it is too long for one; GitHub (@octokit/rest) or GitLab.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { GITHUB_COMMENT_LIMIT, GITLAB_NOTE_LIMIT, syncComments, type CommentThread } from '../publish/comment-parts.js';
import { githubThread } from '../publish/github-thread.js';
import { gitlabThread } from '../publish/gitlab-thread.js';
import { PublishError } from '../publish/publish-error.js';
import { oneOf, parseCommandArgs } from './args.js';

const COMMENT_HELP = `Usage: notrack comment --file FILE [--forge github|gitlab] [--key NAME] [--pr N]

Posts FILE (Markdown, e.g. notrack plan --format markdown) as a comment on the pull request (GitHub) or merge
request (GitLab). The comment carries a hidden marker: later runs edit it in place rather than add another. A report
longer than one comment allows (GitHub: 65,536 characters) is split into numbered parts at line ends; parts left
over from a longer earlier report are deleted.

In GitHub Actions and GitLab CI everything else comes from the job's environment:
  GitHub  token $GITHUB_TOKEN (permissions: pull-requests: write), $GITHUB_REPOSITORY, $GITHUB_API_URL, and the
          pull request from $GITHUB_EVENT_PATH
  GitLab  token $NOTRACK_GITLAB_TOKEN (a project access token with api scope: the job token cannot write notes),
          $CI_API_V4_URL, $CI_PROJECT_ID, $CI_MERGE_REQUEST_IID
Exit status: 0 posted, 1 the forge refused or the environment names no pull request, 64 bad usage.

Options:
  --file FILE         the report to post ("-" for standard input)
  --forge FORGE       github or gitlab (default: from GITHUB_ACTIONS / GITLAB_CI)
  --key NAME          which report this is, so several reports can each keep their own comment (default: plan)
  --pr N              the pull or merge request number (default: from the environment)
  --repository OWNER/NAME  GitHub repository, or GitLab project id or path (default: from the environment)
  --api-url URL       the REST API root (default: from the environment, else https://api.github.com)
  --token-env NAME    the environment variable holding the token (defaults above)
  -h, --help          show this help
`;

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** The pull request number of a GitHub Actions run: from the event payload, else from refs/pull/N/merge. */
function githubPullRequest(): number | undefined {
  const eventPath = env('GITHUB_EVENT_PATH');
  if (eventPath) {
    try {
      const event = JSON.parse(readFileSync(eventPath, 'utf8')) as { pull_request?: { number?: number } };
      if (typeof event.pull_request?.number === 'number') return event.pull_request.number;
    } catch {
      // fall through to the ref
    }
  }
  const m = /^refs\/pull\/(\d+)\//.exec(env('GITHUB_REF') ?? '');
  return m ? Number(m[1]) : undefined;
}

function prNumber(flag: string | undefined, fromEnv: () => number | undefined): number {
  if (flag !== undefined) {
    if (!/^[1-9]\d*$/.test(flag)) throw new UsageError(`--pr must be a pull request number, not "${flag}"`);
    return Number(flag);
  }
  const n = fromEnv();
  if (n === undefined)
    throw new PublishError(
      'publish-no-target',
      'no pull or merge request to comment on: this job does not run for one (run it on pull_request / merge request pipelines, or pass --pr)',
    );
  return n;
}

function token(name: string): string {
  const t = env(name);
  if (!t)
    throw new PublishError(
      'publish-no-token',
      `no token in $${name} (set it, or name another variable with --token-env)`,
    );
  return t;
}

export async function commentCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    file: { type: 'string' },
    forge: { type: 'string' },
    key: { type: 'string' },
    pr: { type: 'string' },
    repository: { type: 'string' },
    'api-url': { type: 'string' },
    'token-env': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(COMMENT_HELP);
    return 0;
  }
  if (!values.file) throw new UsageError('--file is required: the Markdown report to post');
  const detected = env('GITLAB_CI') === 'true' ? 'gitlab' : 'github';
  const forge = oneOf('forge', values.forge, ['github', 'gitlab'] as const, detected);
  const key = values.key ?? 'plan';
  if (!/^[a-z0-9][-a-z0-9.]*$/.test(key))
    throw new UsageError(`--key must be lower-case letters, digits, "-" and ".", not "${key}"`);
  const report = readFileSync(values.file === '-' ? 0 : values.file, 'utf8');

  let thread: CommentThread;
  let limit: number;
  if (forge === 'github') {
    const repository = values.repository ?? env('GITHUB_REPOSITORY');
    if (!repository || !/^[^/]+\/[^/]+$/.test(repository))
      throw new UsageError('the GitHub repository is unknown: pass --repository OWNER/NAME (or set GITHUB_REPOSITORY)');
    thread = githubThread({
      token: token(values['token-env'] ?? 'GITHUB_TOKEN'),
      repository,
      pullRequest: prNumber(values.pr, githubPullRequest),
      apiUrl: values['api-url'] ?? env('GITHUB_API_URL') ?? 'https://api.github.com',
    });
    limit = GITHUB_COMMENT_LIMIT;
  } else {
    const project = values.repository ?? env('CI_PROJECT_ID');
    const apiUrl = values['api-url'] ?? env('CI_API_V4_URL');
    if (!project || !apiUrl)
      throw new UsageError('the GitLab project is unknown: pass --repository and --api-url (or run in GitLab CI)');
    thread = gitlabThread({
      token: token(values['token-env'] ?? 'NOTRACK_GITLAB_TOKEN'),
      apiUrl,
      project,
      mergeRequest: prNumber(values.pr, () =>
        env('CI_MERGE_REQUEST_IID') ? Number(env('CI_MERGE_REQUEST_IID')) : undefined,
      ),
    });
    limit = GITLAB_NOTE_LIMIT;
  }
  let posted;
  try {
    posted = await syncComments(thread, key, report, limit);
  } catch (e) {
    if (e instanceof PublishError) throw e;
    const status = (e as { status?: number }).status;
    throw new PublishError(
      'publish-request-failed',
      `${forge} refused the comment${status ? ` (HTTP ${status})` : ''}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  for (const p of posted)
    process.stdout.write(`${key} comment part ${p.part}: ${p.action}${p.url ? ` ${p.url}` : ''} (id ${p.id})\n`);
  return 0;
}
