/** The package version, reported in the agent's ack so `pxe-filter fleet status` shows what each host runs. */
import pkg from '../package.json' with { type: 'json' };

export const PACKAGE_VERSION: string = pkg.version;
