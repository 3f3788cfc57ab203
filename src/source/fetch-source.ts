// The source stage's entry point: the files of one commit (remote or local repository), or of a plain folder.
import { readDirectory } from './directory-source.js';
import { readLocal } from './local-source.js';
import { readRemote } from './remote-source.js';
import { locateRepo } from './repo-location.js';
import { sourceSettings } from './settings.js';
import { applyIgnoreFile, ignoreFilePath, IGNORE_FILE, isHidden } from './policy-selection.js';
import type { SourceOptions, SourceSnapshot } from './snapshot.js';
import { SourceError } from './source-error.js';

/**
 * Reads the files of one commit of a policy repository from its object store, with no checkout: an http(s)
 * remote (fetched shallowly into a cache folder), a local repository, or, without `repo`, a plain folder. Only
 * policy files are returned (policy-selection.ts), and at least one.
 */
export async function fetchSource(opts: SourceOptions = {}): Promise<SourceSnapshot> {
  if (opts.path !== undefined && opts.path.trim() === '') {
    throw new SourceError('source-path-not-found', 'the policy path is empty; name a folder (or "." for the top)');
  }
  const settings = sourceSettings(opts);
  const include = settings.include;
  // The ignore file is read too (it is not YAML), then applied and left out.
  settings.include = (p) => p.split('/').pop() === IGNORE_FILE || include(p);
  let snapshot: SourceSnapshot;
  if (opts.repo === undefined || opts.repo === '') snapshot = await readDirectory(settings);
  else {
    const location = locateRepo(opts.repo);
    snapshot = location.kind === 'remote' ? await readRemote(location, settings) : await readLocal(location, settings);
  }
  // Unread: the caller knows these blobs (skipContent) and has no use for the files.
  return snapshot.unread ? snapshot : selectPolicyFiles(snapshot);
}

/** Leaves out hidden files and folders and what the ignore file names; a path left with no file is an error. */
function selectPolicyFiles(snapshot: SourceSnapshot): SourceSnapshot {
  const visible = snapshot.files.filter(
    (f) => f.path === ignoreFilePath(snapshot.subPath) || !isHidden(snapshot.subPath, f.path),
  );
  const hidden = snapshot.files.length - visible.length;
  const { files, ignored } = applyIgnoreFile(visible, snapshot.subPath);
  if (files.length === 0) {
    const skipped = [
      hidden ? `${hidden} in hidden folders` : '',
      ignored.length ? `${ignored.length} named in ${ignoreFilePath(snapshot.subPath)}` : '',
    ].filter(Boolean);
    throw new SourceError(
      'source-no-policy-files',
      `no policy files (*.yaml, *.yml) under ${snapshot.subPath === '.' ? 'the top folder' : snapshot.subPath} of ${snapshot.repo}` +
        (snapshot.commit ? ` at ${snapshot.commit.slice(0, 12)}` : '') +
        (skipped.length ? ` (skipped: ${skipped.join(', ')})` : ''),
      { repo: snapshot.repo },
    );
  }
  return { ...snapshot, files };
}
