#!/bin/sh
# The e2e suite's service commands for dnsmasq (the agent's `--service command` mode calls these, like
# ironic-inspector's dnsmasq_start_command / dnsmasq_stop_command):
#
#   dnsmasq-ctl.sh start  RUNDIR NETNS [--watch-pid PID]   start dnsmasq in NETNS unless it already runs
#   dnsmasq-ctl.sh stop   RUNDIR NETNS                     SIGTERM (then SIGKILL) by the PID in the pid file
#   dnsmasq-ctl.sh reload RUNDIR NETNS                     SIGHUP by that PID (re-reads the hosts directory)
#   dnsmasq-ctl.sh pid    RUNDIR NETNS                     print the PID if it is a dnsmasq inside NETNS
#
# RUNDIR holds dnsmasq.conf (written by the harness), dnsmasq.pid and dnsmasq.log. A PID is only ever
# signalled after checking /proc/PID/comm is "dnsmasq" and /proc/PID/ns/net is NETNS, so a stale pid file
# can never make us kill an unrelated process. With --watch-pid, dnsmasq runs under agent/dnsmasq-guard.sh,
# which stops it when that PID (the agent) dies.
set -u
[ $# -ge 3 ] || { echo "usage: $0 start|stop|reload|pid RUNDIR NETNS [--watch-pid PID]" >&2; exit 2; }
cmd=$1 rundir=$2 netns=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
guard=$here/../../../agent/dnsmasq-guard.sh
pidfile=$rundir/dnsmasq.pid
log=$rundir/dnsmasq.log
dnsmasq=/usr/sbin/dnsmasq

running_pid() {
  [ -s "$pidfile" ] || return 1
  read -r pid < "$pidfile" || return 1
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dnsmasq ] || return 1
  [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$(stat -L -c %i "/run/netns/$netns" 2>/dev/null)" ] || return 1
  echo "$pid"
}

case $cmd in
start)
  running_pid >/dev/null && exit 0 # like `systemctl start`: already running is success
  watch=
  if [ "${1:-}" = --watch-pid ]; then watch=${2:?--watch-pid needs a PID}; fi
  rm -f "$pidfile"
  # setsid + redirected stdio: dnsmasq outlives this shell and holds none of the caller's pipes (the agent
  # waits for its command's output to close).
  if [ -n "$watch" ]; then
    setsid ip netns exec "$netns" "$guard" --watch-pid "$watch" -- "$dnsmasq" --conf-file="$rundir/dnsmasq.conf" \
      </dev/null >>"$log" 2>&1 &
  else
    setsid ip netns exec "$netns" "$dnsmasq" --conf-file="$rundir/dnsmasq.conf" </dev/null >>"$log" 2>&1 &
  fi
  i=0
  while [ $i -lt 200 ]; do
    running_pid >/dev/null && exit 0
    i=$((i + 1))
    sleep 0.05
  done
  echo "dnsmasq did not start in netns $netns; log tail:" >&2
  tail -5 "$log" >&2
  exit 1
  ;;
stop)
  pid=$(running_pid) || { rm -f "$pidfile"; exit 0; }
  kill -TERM "$pid" 2>/dev/null
  i=0
  while [ $i -lt 100 ] && [ -d "/proc/$pid" ]; do
    i=$((i + 1))
    sleep 0.05
  done
  [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -f "$pidfile"
  exit 0
  ;;
reload)
  pid=$(running_pid) || { echo "dnsmasq is not running in netns $netns" >&2; exit 1; }
  kill -HUP "$pid"
  ;;
pid)
  running_pid
  ;;
*)
  echo "unknown command: $cmd" >&2
  exit 2
  ;;
esac
