/**
 * The sharded layout's shard counts, apart from its logic (core/sharded.ts) so that the command line can check
 * `--shards` while parsing without loading the layout code (and zod with it) for `--help`.
 */
export const DEFAULT_SHARDS = 256;
export const MAX_SHARDS = 4096;
