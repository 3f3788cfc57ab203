// How the demo starts its own Node programs as child processes, from the same build it runs from: the compiled
// JavaScript in dist/ (npm run demo) or the TypeScript sources under tsx (tests).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
const FROM_SOURCES = HERE.endsWith('.ts');
/** The package root: src/demo/ or dist/demo/ sit two levels below it. */
export const PACKAGE_ROOT = resolve(dirname(HERE), '..', '..');

function nodeWith(file: string): string[] {
  return FROM_SOURCES ? [process.execPath, '--import', import.meta.resolve('tsx'), file] : [process.execPath, file];
}

/** The argv that starts the lab's Git server process (git-server-process.ts). */
export function gitServerArgv(): string[] {
  return nodeWith(join(dirname(HERE), FROM_SOURCES ? 'git-server-process.ts' : 'git-server-process.js'));
}

/** The argv that runs the notrack command: bin/notrack.js when built, the sources under tsx otherwise. */
export function notrackArgv(): string[] {
  return FROM_SOURCES
    ? nodeWith(join(dirname(HERE), 'notrack-process.ts'))
    : nodeWith(join(PACKAGE_ROOT, 'bin', 'notrack.js'));
}
