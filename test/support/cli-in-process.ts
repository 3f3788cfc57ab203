// Runs the CLI's main() in this process and captures what it prints: no child process per case, so a file of many
// cases stays fast (runCli() in cli.ts spawns one, as a user would, for what only a real process shows).
import { main } from '../../src/cli/main.js';

export interface CapturedRun {
  code: number;
  out: string;
  err: string;
}

export async function cliInProcess(...argv: string[]): Promise<CapturedRun> {
  const out: string[] = [],
    err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}
