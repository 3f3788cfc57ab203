// The source stage's entry point: the files of one commit (remote or local repository), or of a plain folder.
import { readDirectory } from './directory-source.js';
import { readLocal } from './local-source.js';
import { readRemote } from './remote-source.js';
import { locateRepo } from './repo-location.js';
import { sourceSettings } from './settings.js';
import type { SourceOptions, SourceSnapshot } from './snapshot.js';

/**
 * Reads the files of one commit of a policy repository from its object store, with no checkout: an http(s)
 * remote (fetched shallowly into a cache folder), a local repository, or, without `repo`, a plain folder.
 */
export async function fetchSource(opts: SourceOptions = {}): Promise<SourceSnapshot> {
  const settings = sourceSettings(opts);
  if (opts.repo === undefined || opts.repo === '') return readDirectory(settings);
  const location = locateRepo(opts.repo);
  return location.kind === 'remote' ? readRemote(location, settings) : readLocal(location, settings);
}
