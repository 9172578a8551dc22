/**
 * The floor of any JSON-input `compute`: a node process that reads its input files and JSON-parses them, as
 * compute does (one synchronous read each, UTF-8 decode, JSON.parse), and nothing else. Run as a whole process by
 * bench/run.ts next to `compute` on the same files.
 *   node json-floor.mjs FILE...
 */
import { readFileSync } from 'node:fs';

const documents = process.argv.slice(2).map((path) => JSON.parse(readFileSync(path).toString('utf8')) as unknown);
// Keep the parsed documents alive to the end, as compute does (they are its input).
if (documents.some((d) => d === undefined)) process.exitCode = 1;
