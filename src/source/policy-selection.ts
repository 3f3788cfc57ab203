// Which files under the policy path are policy: not those in dot-folders (.github/, .gitlab/ …) or dot-files, and not
// those the path's ignore file (.notrackignore, gitignore syntax) names. An ignore file is read like any other file.
import { posix } from 'node:path';
import { subPathSegments } from './sub-path.js';
import type { SourceFile } from './snapshot.js';

/** The ignore file, at the top of the policy path. */
export const IGNORE_FILE = '.notrackignore';

/** The path below the policy path (`.` for the root) of a repository-relative path. */
function below(subPath: string, relPath: string): string | null {
  if (subPath === '.') return relPath;
  return relPath.startsWith(`${subPath}/`) ? relPath.slice(subPath.length + 1) : null;
}

/** True when a folder or the file itself below the policy path is hidden (its name starts with a dot). */
export function isHidden(subPath: string, relPath: string): boolean {
  const rest = below(subPath, relPath);
  return rest !== null && rest.split('/').some((s) => s.startsWith('.'));
}

/** The ignore file's repository-relative path for a sub-path. */
export function ignoreFilePath(subPath: string): string {
  return subPathSegments(subPath).length ? `${subPath}/${IGNORE_FILE}` : IGNORE_FILE;
}

interface Pattern {
  negate: boolean;
  /** Only folders (the pattern ended in `/`): a file matches when one of its folders does. */
  folders: boolean;
  regex: RegExp;
}

/** A gitignore-style glob as a regular expression over a path below the policy path. */
function globRegex(glob: string, anchored: boolean): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` any folders (or none), a trailing `**` everything below.
        if (glob[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${anchored ? '' : '(?:.*/)?'}${re}$`);
}

/** The rules of an ignore file: blank lines and `#` comments skipped, `!` re-includes, the last match wins. */
export class IgnoreRules {
  private readonly patterns: Pattern[] = [];

  constructor(text: string) {
    for (let line of text.split(/\r?\n/)) {
      line = line.replace(/\s+$/, '');
      if (line === '' || line.startsWith('#')) continue;
      const negate = line.startsWith('!');
      if (negate) line = line.slice(1);
      const folders = line.endsWith('/');
      if (folders) line = line.replace(/\/+$/, '');
      // A slash before the end anchors the pattern at the ignore file's folder.
      const anchored = line.includes('/');
      line = line.replace(/^\//, '');
      if (line !== '') this.patterns.push({ negate, folders, regex: globRegex(line, anchored) });
    }
  }

  /**
   * True when the path (below the policy path) is ignored. As in gitignore, the last matching pattern wins, and a
   * file inside an ignored folder stays ignored whatever a later `!` says about the file.
   */
  ignores(path: string): boolean {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) if (this.decide(parts.slice(0, i).join('/'), true)) return true;
    return this.decide(path, false);
  }

  private decide(path: string, folder: boolean): boolean {
    let ignored = false;
    for (const p of this.patterns) if ((folder || !p.folders) && p.regex.test(path)) ignored = !p.negate;
    return ignored;
  }
}

/** The policy files of a read: the ignore file applied and itself left out; what was ignored, for the operator. */
export function applyIgnoreFile(files: SourceFile[], subPath: string): { files: SourceFile[]; ignored: string[] } {
  const at = ignoreFilePath(subPath);
  const ignoreFile = files.find((f) => f.path === at);
  const rest = files.filter((f) => f.path !== at);
  if (!ignoreFile) return { files: rest, ignored: [] };
  const rules = new IgnoreRules(new TextDecoder().decode(ignoreFile.content));
  const kept: SourceFile[] = [];
  const ignored: string[] = [];
  for (const f of rest) {
    const path = below(subPath, f.path) ?? posix.basename(f.path);
    if (rules.ignores(path)) ignored.push(f.path);
    else kept.push(f);
  }
  return { files: kept, ignored };
}
