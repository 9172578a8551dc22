#!/usr/bin/env node
// Entry point of the bundle (`npm run build` → dist/pxe-filter-agent.mjs + dist/chunks/): no tsx, no node_modules.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
