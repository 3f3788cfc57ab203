// `notrack version` and `--version`: the package version and the commit it was built from (stamped at build time,
// so an installed package without .git still knows it).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { oneOf, parseCommandArgs } from './args.js';

/** The package root: two folders up from this file, in src/cli (from source) and in dist/cli (built) alike. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BuildInfo {
  name: string;
  version: string;
  /** The Git commit of the build, or null when it was built outside Git without NOTRACK_BUILD_COMMIT. */
  commit: string | null;
  /** Tracked files differed from the commit when it was built. */
  dirty: boolean;
  builtAt: string | null;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** What this notrack is: package.json for name and version, dist/build-info.json (scripts/stamp-build.mjs) for the
 *  commit. A checkout that was never built has no stamp: commit null. */
export function buildInfo(): BuildInfo {
  const pkg = readJson(path.join(PACKAGE_ROOT, 'package.json')) ?? {};
  const stamp = readJson(path.join(PACKAGE_ROOT, 'dist', 'build-info.json')) ?? {};
  const version = String(pkg['version'] ?? stamp['version'] ?? '0.0.0');
  // A stamp of another version is left over from an older build: its commit would be wrong.
  const current = stamp['version'] === version;
  return {
    name: String(pkg['name'] ?? 'notrack'),
    version,
    commit: current && typeof stamp['commit'] === 'string' ? stamp['commit'] : null,
    dirty: current && stamp['dirty'] === true,
    builtAt: current && typeof stamp['builtAt'] === 'string' ? stamp['builtAt'] : null,
  };
}

/** One line for people: `notrack 0.1.0 (commit 3f2a1b2c4d5e)`. */
export function versionLine(info = buildInfo()): string {
  const commit = info.commit ? `commit ${info.commit.slice(0, 12)}${info.dirty ? ', modified' : ''}` : 'commit unknown';
  return `notrack ${info.version} (${commit})`;
}

const VERSION_HELP = `Usage: notrack version [--format text|json]

Prints the package version and the Git commit notrack was built from (also: notrack --version).

Options:
  --format FORMAT     text (default) or json ({name, version, commit, dirty, builtAt, node})
  -h, --help          show this help
`;

export async function versionCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { format: { type: 'string' } });
  if (values.help) {
    process.stdout.write(VERSION_HELP);
    return 0;
  }
  const format = oneOf('format', values.format, ['text', 'json'] as const, 'text');
  const info = buildInfo();
  process.stdout.write(
    format === 'json'
      ? `${JSON.stringify({ ...info, node: process.versions.node }, null, 2)}\n`
      : `${versionLine(info)}\n`,
  );
  return 0;
}
