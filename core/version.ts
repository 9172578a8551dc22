/**
 * The version of this build, from package.json: the only place that reads it. `--version`, the agent's acks,
 * status file and first log line, the Lambda's logs and the exporter's User-Agent all take it from here, and the
 * Debian package is named after it. Bundles (esbuild) inline the value, so no package.json is needed at run time.
 */
import packageJson from '../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;

/** `pxe-filter/0.1.0`: how this build names itself to other services (HTTP User-Agent). */
export const PRODUCT = `pxe-filter/${VERSION}`;
