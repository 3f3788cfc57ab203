// The notrack command run from the TypeScript sources (under tsx), for the demo when it runs from the sources;
// the built demo runs bin/notrack.js instead.
import { main } from '../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
