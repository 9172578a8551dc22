#!/bin/sh
# dnsmasq-guard.sh — tie dnsmasq's life to the pxe-filter agent's on hosts without systemd.
#
#   dnsmasq-guard.sh --watch-pid PID [--interval SECONDS] -- DNSMASQ [ARGS...]
#
# Runs DNSMASQ (which must stay in the foreground: --keep-in-foreground or --no-daemon) as a child and
# stops it as soon as process PID — the agent — is gone, whatever killed the agent: SIGTERM (the agent also
# runs its stop command), SIGKILL, the OOM killer, a crash. Without this, a SIGKILLed agent would leave dnsmasq
# answering with a policy nobody keeps up to date any more; with systemd, `BindsTo=` does this job instead.
#
# In the agent's configuration, the start command passes the agent's own PID through the shell's $PPID
# (the agent runs every service command as `/bin/sh -c COMMAND`, so $PPID there is the agent):
#   "start": "/usr/lib/pxe-filter/dnsmasq-guard.sh --watch-pid $PPID -- dnsmasq --keep-in-foreground ... </dev/null >>/var/log/pxe-filter-dnsmasq.log 2>&1 &"
#
# A PID is "the same process" only while its start time in /proc/PID/stat is unchanged, so a PID reused by
# another process after the agent died counts as dead. Signals: TERM/INT stop dnsmasq and exit; HUP is
# passed on to dnsmasq (re-read the hosts directory). The guard exits with dnsmasq's status when dnsmasq exits
# on its own.
set -u

usage() {
  echo "usage: $0 --watch-pid PID [--interval SECONDS] -- COMMAND [ARGS...]" >&2
  exit 2
}

watch= interval=0.2
while [ $# -gt 0 ]; do
  case $1 in
  --watch-pid) [ $# -ge 2 ] || usage; watch=$2; shift 2 ;;
  --interval) [ $# -ge 2 ] || usage; interval=$2; shift 2 ;;
  --) shift; break ;;
  *) usage ;;
  esac
done
[ $# -ge 1 ] || usage
case $watch in '' | *[!0-9]*) echo "dnsmasq-guard: --watch-pid must be a PID, got '$watch'" >&2; exit 2 ;; esac

log() { echo "dnsmasq-guard[$$]: $*" >&2; }

# Field 22 of /proc/PID/stat (start time in clock ticks since boot). The command name (field 2) may contain
# spaces and parentheses, so cut everything up to the last ") " first; starttime is then field 20.
start_time() {
  stat_line=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat_line##*) }
  # shellcheck disable=SC2086 # word splitting is the point
  set -- $rest
  shift 19
  echo "$1"
}

# Running and not a zombie (an exited child stays a zombie until `wait`, and kill -0 still succeeds on it).
running() {
  stat_line=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat_line##*) }
  [ "${rest%% *}" != Z ]
}

watched_start=$(start_time "$watch") || { log "process $watch is not running; refusing to start $1"; exit 1; }
watched_alive() { [ "$(start_time "$watch")" = "$watched_start" ]; }

"$@" &
child=$!
log "started $1 as PID $child, watching agent PID $watch"

stop_child() {
  kill -TERM "$child" 2>/dev/null
  i=0
  while [ $i -lt 50 ] && running "$child"; do
    i=$((i + 1))
    sleep 0.1
  done
  kill -KILL "$child" 2>/dev/null
  wait "$child" 2>/dev/null
}

trap 'log "signalled; stopping PID $child"; stop_child; exit 143' TERM INT
trap 'kill -HUP "$child" 2>/dev/null' HUP

while running "$child"; do
  if ! watched_alive; then
    log "agent PID $watch is gone; stopping PID $child"
    stop_child
    exit 0
  fi
  sleep "$interval"
done
wait "$child"
status=$?
log "PID $child exited with status $status"
exit "$status"
