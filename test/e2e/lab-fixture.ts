// Shared by the e2e tests: where policies-example is, why a lab cannot run here, and what of a lab is still present.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_TOOLS } from '../../src/demo/lab.js';
import { kernelGate, type KernelGate } from '../support/kernel-gate.js';
import { namespaceNames } from '../../src/demo/leftovers.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const POLICIES_EXAMPLE = path.join(ROOT, 'policies-example');

/** The gate of an e2e file: root, BPF and every program the lab runs (LAB_TOOLS). */
export function labGate(name: string): KernelGate {
  return kernelGate(name, { tools: Object.keys(LAB_TOOLS) });
}

/** Namespaces whose names start with `prefix`. */
export function namespacesStartingWith(prefix: string): string[] {
  return namespaceNames().filter((n) => n.startsWith(prefix));
}

/** True while some mount point lies under `folder`. */
export function mountedUnder(folder: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => (l.split(' ')[4] ?? '').startsWith(`${folder}/`));
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs git (argv) inside a namespace; returns status and output. */
export function gitIn(ns: string, args: string[], cwd?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'git', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    cwd,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: '/nonexistent',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
    },
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
