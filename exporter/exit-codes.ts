// A module of its own, importing nothing: `export --help` prints the value, and --help must not load zod.

/** Exit status of a watcher that gave up: EX_TEMPFAIL (sysexits.h), "try again later". */
export const WATCH_GAVE_UP_EXIT = 75;
