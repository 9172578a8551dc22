#!/usr/bin/env bash
# The Debian package as an operator gets it (run by .ci/run, as root, on a Debian 12 machine; see docs/install.md):
# build it, lintian, `dpkg -i`, run /usr/bin/pxe-filter (--version, compute, agent once) against a temporary
# directory, verify the installed units, upgrade it with the Ansible playbook of docs/install.md (apt module) while
# a hosts directory, agent state and an edited conffile must survive, then purge it and show that no file of it is
# left. Installs the package on this machine: not part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-deb: must run as root (it installs the package)" >&2; exit 1; }
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
step() { echo "test-deb: $*"; }
started=$(date +%s)
version=$(node -p "require('./package.json').version")
arch=$(dpkg --print-architecture)
tmp=$(mktemp -d /tmp/pxe-filter-deb-XXXXXX)
# dpkg's state of the package: "" (unknown), not-installed, config-files, installed, …
pkg_state() { dpkg-query -W -f='${db:Status-Status}' pxe-filter 2>/dev/null || true; }
absent() { case "$(pkg_state)" in '' | not-installed) return 0 ;; *) return 1 ;; esac; }
we_installed=no
cleanup() {
  # A failed run must not leave the package it installed (or the playbook's copy of it) on the machine.
  if [ "$we_installed" = yes ] && ! absent; then dpkg --purge pxe-filter >/dev/null 2>&1 || true; fi
  rm -rf "$tmp" /var/cache/pxe-filter
}
trap cleanup EXIT

# 1. Build (gzip: the same package as the xz default, faster to build and to lint here).
# PXE_FILTER_TEST_DEB_REUSE=1: take the package the last run built, without lintian (to iterate on this script).
if [ -n "${PXE_FILTER_TEST_DEB_REUSE:-}" ]; then
  deb="dist/pxe-filter_${version}_${arch}.deb"
else
  deb=$(node scripts/package-deb.mjs --compress gzip)
  step "built $deb in $(( $(date +%s) - started )) s"
  # 2. lintian: no error, warning or info tag that is not overridden with its reason (packaging/debian/lintian-overrides).
  lintian --allow-root --pedantic --info --fail-on error,warning,info,pedantic "$deb"
  step "lintian clean"
fi
[ "$deb" = "dist/pxe-filter_${version}_${arch}.deb" ] || fail "unexpected package name $deb"

# 3. Install with dpkg -i; the files it owns.
absent || fail "pxe-filter is already on this machine ($(pkg_state)); this test installs and purges it"
we_installed=yes
dpkg -i "$deb"
dpkg -L pxe-filter | sort >"$tmp/files"
step "installed; dpkg -L pxe-filter:"
sed 's/^/  /' "$tmp/files"
for f in /usr/bin/pxe-filter /lib/systemd/system/pxe-filter-agent.service /lib/systemd/system/pxe-filter-export.service \
  /lib/systemd/system/pxe-filter-export.timer /lib/systemd/system/pxe-filter-control.service /etc/pxe-filter/agent.json \
  /etc/pxe-filter/export.env /etc/pxe-filter/control.env /usr/share/pxe-filter/dnsmasq.service.d/pxe-filter.conf \
  /usr/share/doc/pxe-filter/onprem.md.gz; do
  grep -qx "$f" "$tmp/files" || fail "$f is not in the package"
done
[ "$(dpkg-query -W -f='${Conffiles}' pxe-filter | awk '{print $1}' | sort | tr '\n' ' ')" = "/etc/pxe-filter/agent.json /etc/pxe-filter/control.env /etc/pxe-filter/export.env " ] || fail "conffiles"

# 4. The installed executable: no Node.js from the machine involved (a PATH without node).
got=$(env -i PATH=/nonexistent /usr/bin/pxe-filter --version)
[ "$got" = "$version" ] || fail "--version printed '$got', expected $version"
env -i PATH=/nonexistent /usr/bin/pxe-filter compute --site dc1 --ports examples/dc1/ports.json --nodes examples/dc1/nodes.json --out "$tmp/manifest.json" >/dev/null
mkdir "$tmp/hostsdir"
out=$(env -i PATH=/nonexistent /usr/bin/pxe-filter agent once --manifest "$tmp/manifest.json" --hostsdir "$tmp/hostsdir" --service none)
echo "  $out"
files=$(find "$tmp/hostsdir" -type f | wc -l)
allow_deny=$(node -e "const m=require('$tmp/manifest.json'); console.log(m.policy.allow.length + m.policy.deny.length + 1)")
[ "$files" = "$allow_deny" ] || fail "agent once wrote $files files, expected $allow_deny"
step "/usr/bin/pxe-filter --version = $got; agent once wrote $files files"
# The on-premises control plane (docs/onprem.md) from the installed executable: `local run` makes a store with an
# export and settings, `publish` finds it current, and `control run` with the shipped control.env's arguments (the
# unit's command line; only the store's path changed) starts on it and exits 0 on SIGTERM.
env -i PATH=/nonexistent /usr/bin/pxe-filter local run --example examples/dc1 --dir "$tmp/local" >/dev/null
out=$(env -i PATH=/nonexistent /usr/bin/pxe-filter publish --site dc1 --store "local:$tmp/local/store")
grep -q '"msg":"unchanged"' <<<"$out" || fail "publish printed: $out"
control_args=$(sed -n 's|^PXE_FILTER_CONTROL_ARGS=||p' /etc/pxe-filter/control.env | sed "s|local:/var/lib/pxe-filter/store|local:$tmp/local/store|")
grep -q "local:$tmp/local/store" <<<"$control_args" || fail "control.env does not name local:/var/lib/pxe-filter/store: $control_args"
# shellcheck disable=SC2086 # split into words as systemd splits $PXE_FILTER_CONTROL_ARGS in ExecStart=
env -i PATH=/nonexistent /usr/bin/pxe-filter control run $control_args >"$tmp/control.log" 2>&1 &
control_pid=$!
for _ in $(seq 100); do grep -q '"msg":"unchanged"' "$tmp/control.log" && break; sleep 0.1; done
kill -TERM "$control_pid"
wait "$control_pid" || fail "control run exited $? on SIGTERM: $(cat "$tmp/control.log")"
grep -q '"msg":"control stopped"' "$tmp/control.log" || fail "control run: $(cat "$tmp/control.log")"
step "publish and control run work from the package"

# 5. The installed units (and the shipped dnsmasq drop-in against a stand-in dnsmasq.service).
mkdir -p "$tmp/units/dnsmasq.service.d"
cp /usr/share/pxe-filter/dnsmasq.service.d/pxe-filter.conf "$tmp/units/dnsmasq.service.d/"
printf '[Unit]\nDescription=stand-in for the distribution dnsmasq unit\n[Service]\nExecStart=/bin/true\n' >"$tmp/units/dnsmasq.service"
verify_out=$(SYSTEMD_UNIT_PATH="$tmp/units:/lib/systemd/system:" systemd-analyze verify \
  /lib/systemd/system/pxe-filter-agent.service /lib/systemd/system/pxe-filter-export.service \
  /lib/systemd/system/pxe-filter-export.timer /lib/systemd/system/pxe-filter-control.service "$tmp/units/dnsmasq.service" 2>&1) \
  || fail "systemd-analyze verify: $verify_out"
if grep -E 'pxe-filter|dnsmasq' <<<"$verify_out"; then fail "systemd-analyze verify warned about our units"; fi
grep -qx 'ExecStart=/usr/bin/pxe-filter agent run --config /etc/pxe-filter/agent.json' /lib/systemd/system/pxe-filter-agent.service || fail "agent ExecStart"
grep -qx 'ExecStart=/usr/bin/pxe-filter control run $PXE_FILTER_CONTROL_ARGS' /lib/systemd/system/pxe-filter-control.service || fail "control ExecStart"
step "units verified"

# 6. Upgrade with the Ansible playbook (apt module), as docs/install.md rolls out: a newer package of the same
#    build. The hosts directory, the agent's state and the operator's edit of agent.json must survive it.
node scripts/package-deb.mjs --version "${version}+ci1" --executable "dist/pxe-filter-${arch}" --compress none --out "$tmp" >/dev/null
hostsdir=/var/lib/ironic-inspector/dhcp-hostsdir
existed_hostsdir=no; [ -d "$hostsdir" ] && existed_hostsdir=yes
mkdir -p "$hostsdir" /var/lib/pxe-filter
echo '52:54:00:00:00:01,ignore' >"$hostsdir/52-54-00-00-00-01"
echo '{"site":"dc1","generation":3,"sha256":"x","appliedAt":"2026-01-01T00:00:00.000Z"}' >/var/lib/pxe-filter/state.json
sed -i 's/"pollIntervalSeconds": 15/"pollIntervalSeconds": 20/' /etc/pxe-filter/agent.json
sums_before=$(md5sum "$hostsdir/52-54-00-00-00-01" /var/lib/pxe-filter/state.json /etc/pxe-filter/agent.json)
ansible-playbook -i localhost, -c local docs/ansible/pxe-filter.yml -e "pxe_filter_deb=$tmp/pxe-filter_${version}+ci1_${arch}.deb" -e pxe_filter_configure=false -e ansible_become=false >"$tmp/ansible.log" \
  || { cat "$tmp/ansible.log"; fail "ansible-playbook"; }
[ "$(dpkg-query -W -f='${Version}' pxe-filter)" = "${version}+ci1" ] || fail "the playbook did not upgrade the package"
[ "$sums_before" = "$(md5sum "$hostsdir/52-54-00-00-00-01" /var/lib/pxe-filter/state.json /etc/pxe-filter/agent.json)" ] || fail "the upgrade changed the hosts directory, the agent state or agent.json"
# The same playbook again, in check mode: nothing left to change.
ansible-playbook --check -i localhost, -c local docs/ansible/pxe-filter.yml -e "pxe_filter_deb=$tmp/pxe-filter_${version}+ci1_${arch}.deb" -e pxe_filter_configure=false -e ansible_become=false >"$tmp/ansible-check.log" \
  || { cat "$tmp/ansible-check.log"; fail "ansible-playbook --check"; }
grep -qE 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$tmp/ansible-check.log" || { cat "$tmp/ansible-check.log"; fail "check mode after the roll-out wants changes"; }
step "upgraded to ${version}+ci1 with the Ansible playbook; hosts directory, state and edited agent.json kept; check mode: changed=0"

# 7. Purge: no file of the package is left, nor its state; the hosts directory stays.
dpkg --purge pxe-filter
absent || fail "still known to dpkg after purge: $(pkg_state)"
left=0
while read -r f; do
  [ -d "$f" ] && continue # directories shared with other packages (/usr/bin, /etc, ...) stay
  if [ -e "$f" ] || [ -L "$f" ]; then echo "  left behind: $f"; left=1; fi
done <"$tmp/files"
for d in /etc/pxe-filter /var/lib/pxe-filter /usr/share/pxe-filter /usr/share/doc/pxe-filter /run/pxe-filter; do
  if [ -e "$d" ]; then echo "  left behind: $d"; left=1; fi
done
[ "$left" = 0 ] || fail "files left after purge"
[ -f "$hostsdir/52-54-00-00-00-01" ] || fail "purge removed the hosts directory's files"
rm -f "$hostsdir/52-54-00-00-00-01"
[ "$existed_hostsdir" = yes ] || rmdir "$hostsdir" /var/lib/ironic-inspector 2>/dev/null || true
step "purged: none of the $(wc -l <"$tmp/files") paths of dpkg -L is left (directories shared with other packages aside); the hosts directory was kept"
step "passed in $(( $(date +%s) - started )) s"
