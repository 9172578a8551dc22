/** The schema of a hosts-directory layout (config files, `--layout`/`--shards`), for the code that has zod loaded. */
import { z } from 'zod';
import type { Layout } from './hostsdir-layout.ts';
import { DEFAULT_SHARDS, MAX_SHARDS } from './shard-limits.ts';

export const LayoutSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('per-mac') }),
  z.strictObject({ kind: z.literal('sharded'), shards: z.number().int().min(1).max(MAX_SHARDS).default(DEFAULT_SHARDS) }),
]);

// Layout is written out by hand (core/hostsdir-layout.ts loads no zod): it must stay exactly the schema's output.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const layoutIsTheSchemaOutput: Same<z.output<typeof LayoutSchema>, Layout> = true;
void layoutIsTheSchemaOutput;
