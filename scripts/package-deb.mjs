// `npm run package` → dist/pxe-filter_<version>_<arch>.deb, offline, with Debian's own dpkg-deb (docs/install.md).
//
// /usr/bin/pxe-filter is a Node.js single executable application (SEA, scripts/build-sea.mjs): the command line
// bundled into one CommonJS script and injected into a copy of the Node.js binary that runs this script. The
// host then needs no Node.js at all, only the C/C++ runtime libraries every Debian system has.
//
// Options:
//   --version V        package version (default: package.json's)
//   --executable FILE  use this already built executable instead of building one (e.g. a second package of the
//                      same build, as the upgrade test does)
//   --compress xz|gzip|zstd|none   dpkg-deb compression (default xz: smallest download)
//   --out DIR          where the .deb goes (default dist)
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { commanderLazyChildProcess, zodEnglishOnly } from './esbuild-plugins.mjs';
import { buildExecutable } from './build-sea.mjs';

const { values: opts } = parseArgs({
  options: {
    version: { type: 'string' },
    executable: { type: 'string' },
    compress: { type: 'string', default: 'xz' },
    out: { type: 'string', default: 'dist' },
  },
});
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const version = opts.version ?? pkg.version;
if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(version)) throw new Error(`package-deb: not a Debian version: ${version}`);
// The executable embeds the Node.js that runs this script: its architecture is the package's.
const ARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch];
if (!ARCH) throw new Error(`package-deb: no Debian architecture for node's ${process.arch}`);
// What the embedded Node.js links against, from `objdump -T` of the Node.js 20 binary (newest versions it needs:
// GLIBC_2.28, GLIBCXX_3.4.21, GCC_3.0): every Debian release since 10 has them.
const DEPENDS = 'libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 5.2)';

const work = join('dist', 'deb-build');
const root = join(work, 'root');
rmSync(work, { recursive: true, force: true });
mkdirSync(root, { recursive: true });
const log = (msg) => process.stderr.write(`package-deb: ${msg}\n`);
const run = (cmd, args, o = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...o });

/** `content` is a Buffer/string to write, or `{ from: path }` to copy. */
function put(content, dest, mode) {
  const to = join(root, dest);
  mkdirSync(dirname(to), { recursive: true });
  if (content.from !== undefined) copyFileSync(content.from, to);
  else writeFileSync(to, content);
  chmodSync(to, mode);
}

function manPage() {
  const help = run(process.execPath, [join(work, 'pxe-filter.cjs'), '--help']).toString();
  const escape = (s) => s.replaceAll('\\', '\\e').replace(/^([.'])/gm, '\\&$1');
  return `.TH PXE-FILTER 1 "" "pxe-filter ${version}" "User Commands"
.SH NAME
pxe-filter \\- MAC-address PXE filter for OpenStack Ironic (dnsmasq --dhcp-hostsdir)
.SH SYNOPSIS
.B pxe-filter
.I command
.RI [ options ]
.SH DESCRIPTION
Every command has \\fB--help\\fR. Guides: /usr/share/doc/pxe-filter/.
.PP
.nf
${escape(help.trimEnd())}
.fi
.SH FILES
/etc/pxe-filter/agent.json, /etc/pxe-filter/export.env, /etc/pxe-filter/control.env, /var/lib/pxe-filter/, /run/pxe-filter/ready
`;
}

// Outside the staging directory, so that a second package of the same build can take it (--executable).
const executable = join('dist', `pxe-filter-${ARCH}`);
if (opts.executable) {
  if (opts.executable !== executable) copyFileSync(opts.executable, executable);
  // The man page's help text still comes from this checkout's code.
  await build({ entryPoints: ['cli/sea-entry.ts'], outfile: join(work, 'pxe-filter.cjs'), bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', plugins: [zodEnglishOnly, commanderLazyChildProcess] });
} else {
  log(`building /usr/bin/pxe-filter (Node.js ${process.version} single executable, ${ARCH})`);
  await buildExecutable(executable, work);
  const got = run(executable, ['--version']).toString().trim();
  if (got !== pkg.version) throw new Error(`package-deb: the built executable says ${got}, expected ${pkg.version}`);
}

put({ from: executable }, 'usr/bin/pxe-filter', 0o755);
for (const unit of ['pxe-filter-agent.service', 'pxe-filter-export.service', 'pxe-filter-export.timer', 'pxe-filter-export-watch.service', 'pxe-filter-control.service']) {
  put({ from: join('agent', 'systemd', unit) }, join('lib', 'systemd', 'system', unit), 0o644);
}
// The dnsmasq drop-in binds dnsmasq to the agent (BindsTo=): active as soon as it is installed, it would let
// systemd stop a running dnsmasq at the package's daemon-reload. Shipped inactive; the operator links it in
// (docs/install.md), which is "being asked".
put({ from: join('agent', 'systemd', 'dnsmasq.service.d', 'pxe-filter.conf') }, 'usr/share/pxe-filter/dnsmasq.service.d/pxe-filter.conf', 0o644);
put({ from: join('agent', 'config.sample.json') }, 'etc/pxe-filter/agent.json', 0o644);
put({ from: join('packaging', 'debian', 'export.env') }, 'etc/pxe-filter/export.env', 0o644);
put({ from: join('packaging', 'debian', 'control.env') }, 'etc/pxe-filter/control.env', 0o644);
put({ from: join('packaging', 'debian', 'copyright') }, 'usr/share/doc/pxe-filter/copyright', 0o644);
for (const doc of ['install.md', 'agent.md', 'exporter.md', 'deploy.md', 'onprem.md']) put(gzipSync(readFileSync(join('docs', doc)), { level: 9 }), `usr/share/doc/pxe-filter/${doc}.gz`, 0o644);
// The changelog's date: SOURCE_DATE_EPOCH (reproducible builds), else the last commit's, else now.
const lastCommit = () => {
  try {
    return run('git', ['log', '-1', '--format=%ct'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return '';
  }
};
const epoch = Number(process.env.SOURCE_DATE_EPOCH || lastCommit() || Math.floor(Date.now() / 1000));
const date = new Date(epoch * 1000).toUTCString().replace('GMT', '+0000');
const changelog = `pxe-filter (${version}) unstable; urgency=medium\n\n  * Release ${version} (see the repository's history).\n\n -- pxe-filter developers <pxe-filter@example.org>  ${date}\n`;
put(gzipSync(changelog, { level: 9 }), 'usr/share/doc/pxe-filter/changelog.gz', 0o644);
put(gzipSync(manPage(), { level: 9 }), 'usr/share/man/man1/pxe-filter.1.gz', 0o644);
put({ from: join('packaging', 'debian', 'lintian-overrides') }, 'usr/share/lintian/overrides/pxe-filter', 0o644);

// DEBIAN/: control, conffiles, maintainer scripts, md5sums.
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else files.push(p);
  }
};
walk(root);
const sizeKb = Math.ceil(files.reduce((n, f) => n + statSync(f).size, 0) / 1024);
const control = readFileSync(join('packaging', 'debian', 'control.in'), 'utf8')
  .replace('@VERSION@', version)
  .replace('@ARCH@', ARCH)
  .replace('@SIZE@', String(sizeKb))
  .replace('@DEPENDS@', DEPENDS);
put(control, 'DEBIAN/control', 0o644);
put({ from: join('packaging', 'debian', 'conffiles') }, 'DEBIAN/conffiles', 0o644);
for (const script of ['postinst', 'prerm', 'postrm']) put({ from: join('packaging', 'debian', script) }, `DEBIAN/${script}`, 0o755);
const md5 = files.map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(root, f)}\n`).join('');
put(md5, 'DEBIAN/md5sums', 0o644);
for (const dir of [root, ...readdirSync(root, { recursive: true }).map((p) => join(root, p)).filter((p) => statSync(p).isDirectory())]) chmodSync(dir, 0o755);

mkdirSync(opts.out, { recursive: true });
const deb = join(opts.out, `pxe-filter_${version}_${ARCH}.deb`);
const compress = { xz: ['-Zxz'], gzip: ['-Zgzip'], zstd: ['-Zzstd'], none: ['-Znone'] }[opts.compress];
if (!compress) throw new Error(`package-deb: --compress must be xz, gzip, zstd or none, not ${opts.compress}`);
run('dpkg-deb', ['--root-owner-group', ...compress, '--build', root, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
log(`wrote ${deb} (${(statSync(deb).size / 2 ** 20).toFixed(1)} MiB; installed ${(sizeKb / 1024).toFixed(1)} MiB)`);
process.stdout.write(`${deb}\n`);
