/**
 * Exit status of a watcher that gave up: EX_TEMPFAIL (sysexits.h), "try again later". A module of its own, with no
 * imports, so that the command line's option help can name it without loading zod (cli/main.ts loads commands lazily).
 */
export const WATCH_GAVE_UP_EXIT = 75;
