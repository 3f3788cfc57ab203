#!/usr/bin/env node
// The notrack command: runs the compiled CLI from dist/ (build it with `npm run build`).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
