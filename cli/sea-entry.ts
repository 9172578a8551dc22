/**
 * Entry point of the self-contained executable (`npm run package` → /usr/bin/pxe-filter in the Debian package):
 * Node's single-executable applications run one CommonJS script, so no top-level await here (cli/entry.ts is the
 * ES-module entry of the bundle). The same main() as every other way of running the command line.
 */
import { main } from './main.ts';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
