// A merge request's notes on GitLab through its REST API (v4): list, create, update and delete, following pagination.
import type { CommentThread } from './comment-parts.js';
import { PublishError } from './publish-error.js';

export interface GitlabThreadOptions {
  token: string;
  /** $CI_API_V4_URL, e.g. https://gitlab.example.com/api/v4 */
  apiUrl: string;
  /** $CI_PROJECT_ID (or the URL-encoded path) */
  project: string;
  mergeRequest: number;
}

export function gitlabThread(o: GitlabThreadOptions): CommentThread {
  const base = `${o.apiUrl.replace(/\/$/, '')}/projects/${encodeURIComponent(o.project)}/merge_requests/${o.mergeRequest}/notes`;
  const call = async (method: string, url: string, body?: unknown): Promise<{ data: unknown; next: string | null }> => {
    const res = await fetch(url, {
      method,
      headers: { 'private-token': o.token, 'content-type': 'application/json', accept: 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok)
      throw new PublishError(
        'publish-request-failed',
        `GitLab ${method} ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`,
      );
    const next = res.headers.get('x-next-page');
    return { data: res.status === 204 ? null : await res.json(), next: next ? next : null };
  };
  type Note = { id: number; body: string; system?: boolean };
  return {
    async list() {
      const out: { id: number; body: string; url: string | null }[] = [];
      let page: string | null = '1';
      while (page) {
        const r = await call('GET', `${base}?per_page=100&sort=asc&page=${page}`);
        for (const n of r.data as Note[]) if (!n.system) out.push({ id: n.id, body: n.body, url: null });
        page = r.next;
      }
      return out;
    },
    async create(body) {
      const r = await call('POST', base, { body });
      return { id: (r.data as Note).id, url: null };
    },
    async update(id, body) {
      await call('PUT', `${base}/${id}`, { body });
      return { url: null };
    },
    async remove(id) {
      await call('DELETE', `${base}/${id}`);
    },
  };
}
