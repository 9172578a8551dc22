#!/usr/bin/env node
// Entry point of the single-file bundle (`npm run build` → dist/pxe-filter-agent.mjs): no tsx, no node_modules.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
