// Types of scripts/bpf-clang.mjs for the TypeScript tests that compile C with the project's clang recipe.
export declare const CLANG: string;
export declare class BpfCompileError extends Error {
  readonly output: string;
  constructor(message: string, output?: string);
}
export interface BpfCompileOptions {
  src: string;
  out: string;
  includeDirs?: readonly string[];
  /** -Wall -Werror (default true). */
  warningsAsErrors?: boolean;
}
export declare function multiarchInclude(): string | null;
export declare function clangMissingReason(): string | null;
export declare function bpfClangArgs(options: BpfCompileOptions): string[];
export declare function compileBpf(options: BpfCompileOptions): string;
