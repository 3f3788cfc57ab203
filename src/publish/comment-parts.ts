// A report as pull-request comments: split at line boundaries under the forge's size limit, each part tagged with a
// hidden marker so that the next run finds and edits the same comments instead of adding new ones.

/** GitHub refuses a comment body over 65,536 characters; GitLab's notes allow 1,000,000. Keep a margin for the
 *  part header and the marker. */
export const GITHUB_COMMENT_LIMIT = 65_536;
export const GITLAB_NOTE_LIMIT = 1_000_000;
const MARGIN = 512;

/** The marker of part `index` (1-based) of the report `key`: an HTML comment, invisible when rendered. */
export function partMarker(key: string, index: number): string {
  return `<!-- notrack:${key} part ${index} -->`;
}

/** Which part of report `key` a comment body is, or null when it is not one. */
export function partOf(key: string, body: string | null | undefined): number | null {
  const m = new RegExp(`^<!-- notrack:${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} part (\\d+) -->`).exec(body ?? '');
  return m ? Number(m[1]) : null;
}

/** Splits `text` into chunks of at most `max` characters, at line ends where it can (a longer line is cut). */
function chunks(text: string, max: number): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of text.split(/(?<=\n)/)) {
    if (current.length + line.length <= max) {
      current += line;
      continue;
    }
    if (current) out.push(current);
    current = '';
    let rest = line;
    while (rest.length > max) {
      out.push(rest.slice(0, max));
      rest = rest.slice(max);
    }
    current = rest;
  }
  if (current || out.length === 0) out.push(current);
  return out;
}

/** The comment bodies for `report`: one when it fits, else numbered parts; each starts with its marker. */
export function commentBodies(key: string, report: string, limit: number): string[] {
  const room = limit - MARGIN;
  const pieces = report.length <= room ? [report] : chunks(report, room);
  return pieces.map((piece, i) => {
    const header = pieces.length > 1 ? `_notrack ${key}, part ${i + 1} of ${pieces.length}_\n\n` : '';
    return `${partMarker(key, i + 1)}\n${header}${piece}`;
  });
}

/** What a poster did with each part: created, updated (edited in place), unchanged, or deleted (a part no longer needed). */
export interface PostedPart {
  part: number;
  id: number;
  action: 'created' | 'updated' | 'unchanged' | 'deleted';
  url: string | null;
}

/** A forge's comment thread on one pull or merge request. */
export interface CommentThread {
  list(): Promise<{ id: number; body: string; url: string | null }[]>;
  create(body: string): Promise<{ id: number; url: string | null }>;
  update(id: number, body: string): Promise<{ url: string | null }>;
  remove(id: number): Promise<void>;
}

/**
 * Makes the thread hold exactly the parts of `report`: existing parts are edited in place (or left alone when equal),
 * missing ones created, and parts left over from a longer earlier report deleted. Returns what happened, in order.
 */
export async function syncComments(
  thread: CommentThread,
  key: string,
  report: string,
  limit: number,
): Promise<PostedPart[]> {
  const bodies = commentBodies(key, report, limit);
  const existing = new Map<number, { id: number; body: string; url: string | null }>();
  for (const c of await thread.list()) {
    const part = partOf(key, c.body);
    if (part !== null && !existing.has(part)) existing.set(part, c);
  }
  const done: PostedPart[] = [];
  for (const [i, body] of bodies.entries()) {
    const part = i + 1;
    const old = existing.get(part);
    if (!old) {
      const c = await thread.create(body);
      done.push({ part, id: c.id, action: 'created', url: c.url });
    } else if (old.body === body) {
      done.push({ part, id: old.id, action: 'unchanged', url: old.url });
    } else {
      const c = await thread.update(old.id, body);
      done.push({ part, id: old.id, action: 'updated', url: c.url });
    }
  }
  for (const [part, c] of [...existing].sort((a, b) => a[0] - b[0])) {
    if (part <= bodies.length) continue;
    await thread.remove(c.id);
    done.push({ part, id: c.id, action: 'deleted', url: null });
  }
  return done;
}
