#!/usr/bin/env bash
# A private single-node Slurm (munged + slurmctld + slurmd, no systemd) for petpipe's tests and for
# trying `petpipe slurm` on a workstation. Installs nothing: scripts/setup.sh installs slurm-wlm and munge.
#
# Usage: scripts/slurm_local.sh start|stop|status|env [DIR]
#   DIR (or $PETPIPE_SLURM_DIR, default /tmp/petpipe-slurm) holds everything: munge key and socket,
#   slurm.conf, state and spool directories, daemon logs, PID files and the job-completion log
#   (DIR/jobcomp.txt). Ports: $PETPIPE_SLURM_PORT (slurmctld, default 6917) and the next one (slurmd).
#   start   writes the configuration, starts the daemons in the background (keeping their PIDs) and
#           waits until the node is idle; prints the line to eval so clients find this cluster:
#             eval "$(scripts/slurm_local.sh env)"      # export SLURM_CONF=DIR/slurm.conf
#   stop    cancels every job and waits for them to end, then stops each daemon by its PID.
#   status  daemons, node state and queue.
# Runs as root (the daemons and the jobs run as the calling user; munged and slurmd need root).
set -euo pipefail

cmd=${1:-}
DIR=${2:-${PETPIPE_SLURM_DIR:-/tmp/petpipe-slurm}}
PORT=${PETPIPE_SLURM_PORT:-6917}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF

die() { echo "slurm_local.sh: $*" >&2; exit 1; }

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

alive() {  # alive NAME: the daemon whose PID is in DIR/NAME.pid is running
  local f=$DIR/$1.pid
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

stop_pid() {  # stop_pid NAME: TERM, wait up to 10 s, then KILL the process in DIR/NAME.pid
  local f=$DIR/$1.pid pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm_local.sh: $1 (PID $pid) did not stop after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$f"
}

node_state() { sinfo -h -N -n localhost -o %T 2>/dev/null | head -n1; }

require_tools() {
  local missing=()
  for t in munged mungekey slurmctld slurmd sinfo squeue scancel scontrol sbatch; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: install the Debian packages slurm-wlm and munge (scripts/setup.sh does)"
  [ "$(id -u)" = 0 ] || die "must run as root (munged and slurmd need it)"
}

write_conf() {
  local cpus mem_kb mem_mb
  cpus=$(nproc)
  mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  mem_mb=$(( mem_kb * 9 / 10 / 1024 ))
  cat > "$CONF.tmp" <<EOF
# Written by petpipe scripts/slurm_local.sh: a private single-node cluster under $DIR.
ClusterName=petpipe-local
SlurmctldHost=localhost
SlurmUser=$(id -un)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/run/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
}

start() {
  require_tools
  if alive slurmctld && alive slurmd && alive munged; then
    echo "slurm_local.sh: already running under $DIR"
    echo "export SLURM_CONF=$CONF"
    return 0
  fi
  # Leftovers of an earlier, unclean run: stop what is still alive, start from a clean state.
  for d in slurmd slurmctld munged; do stop_pid "$d"; done
  rm -rf "$DIR/state" "$DIR/spool" "$DIR/run" "$DIR/munge"
  # Job ids start again at 1 with a fresh state: keep the old job-completion log apart.
  if [ -f "$DIR/jobcomp.txt" ]; then mv -f "$DIR/jobcomp.txt" "$DIR/jobcomp.txt.old"; fi
  mkdir -p "$DIR"/{state,spool,log,run} "$DIR/munge/run"
  chmod 0755 "$DIR" "$DIR/munge" "$DIR/munge/run"  # munged insists on a socket directory of mode 0755
  chmod 0700 "$DIR/state" "$DIR/spool"

  mungekey --create --force --keyfile="$DIR/munge/munge.key" >/dev/null
  chmod 0600 "$DIR/munge/munge.key"
  /usr/sbin/munged --foreground --force --key-file="$DIR/munge/munge.key" \
    --socket="$DIR/munge/run/munge.socket" --pid-file="$DIR/munge/run/munged.pid" \
    --seed-file="$DIR/munge/munged.seed" --log-file="$DIR/log/munged.log" \
    </dev/null >>"$DIR/log/munged.out" 2>&1 &
  echo $! > "$DIR/munged.pid"
  for _ in $(seq 100); do [ -S "$DIR/munge/run/munge.socket" ] && break; alive munged || break; sleep 0.1; done
  [ -S "$DIR/munge/run/munge.socket" ] || die "munged did not start; see $DIR/log/munged.log and $DIR/log/munged.out"

  write_conf
  /usr/sbin/slurmctld -D -i -f "$CONF" </dev/null >>"$DIR/log/slurmctld.out" 2>&1 &
  echo $! > "$DIR/slurmctld.pid"
  /usr/sbin/slurmd -D -N localhost -f "$CONF" </dev/null >>"$DIR/log/slurmd.out" 2>&1 &
  echo $! > "$DIR/slurmd.pid"

  local state=""
  for _ in $(seq 300); do  # up to 30 s; about one second is usual
    state=$(node_state || true)
    case "$state" in idle*) break ;; esac
    alive slurmctld || die "slurmctld exited; see $DIR/log/slurmctld.log and $DIR/log/slurmctld.out"
    alive slurmd || die "slurmd exited; see $DIR/log/slurmd.log and $DIR/log/slurmd.out"
    sleep 0.1
  done
  case "$state" in
    idle*) ;;
    *) die "node did not become idle within 30 s (state: ${state:-unknown}); see $DIR/log/" ;;
  esac
  echo "slurm_local.sh: single-node Slurm running under $DIR (node localhost idle, $(nproc) CPUs)"
  echo "export SLURM_CONF=$CONF"
}

stop() {
  if [ ! -f "$CONF" ] && ! alive munged; then
    echo "slurm_local.sh: nothing to stop under $DIR"
    return 0
  fi
  if alive slurmctld; then
    # Cancel every job and wait until none is left, or their steps would outlive the daemons.
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    local left=""
    for _ in $(seq 300); do
      left=$(squeue -h -o %i 2>/dev/null || true)
      [ -z "$left" ] && break
      sleep 0.1
    done
    [ -z "$left" ] || echo "slurm_local.sh: jobs still listed after 30 s: $(echo $left)" >&2
  fi
  for d in slurmd slurmctld munged; do stop_pid "$d"; done
  echo "slurm_local.sh: stopped (logs kept under $DIR/log)"
}

status() {
  local rc=0
  for d in munged slurmctld slurmd; do
    if alive "$d"; then echo "$d: running (PID $(cat "$DIR/$d.pid"))"; else echo "$d: not running"; rc=1; fi
  done
  if [ $rc = 0 ]; then
    echo "node: $(node_state || echo unknown)"
    echo "queue:"
    squeue -o "  %.10i %.20j %.10T %.10M %R" 2>/dev/null || true
    echo "export SLURM_CONF=$CONF"
  fi
  return $rc
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
