// A pull request's conversation on GitHub (or GitHub Enterprise) through @octokit/rest: list, create, update and
// delete issue comments, following pagination.
import { Octokit } from '@octokit/rest';
import type { CommentThread } from './comment-parts.js';

export interface GithubThreadOptions {
  token: string;
  /** owner/name */
  repository: string;
  pullRequest: number;
  /** The REST API root: https://api.github.com, or $GITHUB_API_URL on GitHub Enterprise. */
  apiUrl: string;
}

export function githubThread(o: GithubThreadOptions): CommentThread {
  const [owner, repo] = o.repository.split('/') as [string, string];
  const octokit = new Octokit({ auth: o.token, baseUrl: o.apiUrl.replace(/\/$/, ''), userAgent: 'notrack' });
  const where = { owner, repo, issue_number: o.pullRequest };
  return {
    async list() {
      const all = await octokit.paginate(octokit.rest.issues.listComments, { ...where, per_page: 100 });
      return all.map((c) => ({ id: c.id, body: c.body ?? '', url: c.html_url ?? null }));
    },
    async create(body) {
      const r = await octokit.rest.issues.createComment({ ...where, body });
      return { id: r.data.id, url: r.data.html_url ?? null };
    },
    async update(id, body) {
      const r = await octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body });
      return { url: r.data.html_url ?? null };
    },
    async remove(id) {
      await octokit.rest.issues.deleteComment({ owner, repo, comment_id: id });
    },
  };
}
