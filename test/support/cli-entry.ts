// Entry point for runCli(): the CLI's main() straight from the TypeScript sources.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
