#!/usr/bin/env node
// The notrack command: runs the bundled CLI from dist/bundle/ (`npm run build` makes it; scripts/build-bundle.mjs).
import { main } from '../dist/bundle/main.js';

process.exitCode = await main(process.argv.slice(2));
