// Command-line option parsing shared by every command: node:util parseArgs with errors a person can act on.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { didYouMean } from '../model/suggest.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command that reads the policy repository takes. */
export const SOURCE_OPTIONS = {
  repo: { type: 'string' },
  ref: { type: 'string' },
  path: { type: 'string' },
  'token-env': { type: 'string' },
  'cache-dir': { type: 'string' },
  'allow-insecure-http': { type: 'boolean' },
  'max-object-bytes': { type: 'string' },
  'max-pack-bytes': { type: 'string' },
  'verify-signatures': { type: 'boolean' },
  'allowed-signers': { type: 'string' },
  'trusted-keys': { type: 'string' },
} as const satisfies OptionSpec;

/** Help lines for the source options; `plan` has no --ref and defaults --repo to the current directory. */
export function sourceHelp(opts: { ref?: boolean; repoDefault?: string } = {}): string {
  const lines = [
    '  --repo URL|PATH     policy repository: an http(s) URL or a local Git repository',
    `                      (default: ${opts.repoDefault ?? 'read the files in --path from disk, no Git'})`,
  ];
  if (opts.ref !== false)
    lines.push("  --ref REF           branch, tag or commit to read (default: the repository's HEAD)");
  lines.push(
    '  --path DIR          folder of policy files inside the repository (default: .)',
    '  --token-env NAME    environment variable holding the HTTP token (default: NOTRACK_GIT_TOKEN)',
    '  --cache-dir DIR     where remote repositories are cached (default: ~/.cache/notrack/git)',
    '  --allow-insecure-http  send the token over plain http:// (refused by default)',
    '  --max-object-bytes N   refuse a fetch that brings an object inflating past N bytes (default 33554432)',
    '  --max-pack-bytes N     refuse a fetch whose pack is larger than N bytes (default 67108864)',
    '  --verify-signatures    refuse unless every commit from the applied one to the head is signed by a key given',
    '  --allowed-signers FILE  SSH keys trusted to sign (an allowed-signers file, as git gpg.ssh.allowedSignersFile)',
    '  --trusted-keys FILE    OpenPGP public keys trusted to sign (a keyring, binary or armored export)',
  );
  return lines.join('\n');
}

export const SOURCE_HELP = sourceHelp();

export function parseCommandArgs<T extends OptionSpec>(argv: string[], options: T) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    });
  } catch (e) {
    const message = (e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '');
    throw new UsageError(message + unknownOptionHint(message, Object.keys(options)));
  }
}

/** `; did you mean "--format"?` for parseArgs' "Unknown option '--formt'", else the empty string. */
function unknownOptionHint(message: string, names: readonly string[]): string {
  const m = /^Unknown option '--?([^'=]+)'/.exec(message);
  if (!m) return '';
  const hint = didYouMean(m[1]!, [...names, 'help']);
  return hint.replace(/"([^"]+)"/, '"--$1"');
}

export function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, not "${value}"`);
}
