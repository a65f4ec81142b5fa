#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, from Debian's packages (slurmctld slurmd slurm-client munge).
#
#   bash scripts/slurm.sh start    # munged, slurmctld and slurmd in the background; waits for the node to be idle
#   bash scripts/slurm.sh status   # the node and the queue; exit 1 when not running
#   bash scripts/slurm.sh stop     # stops the three daemons it started (by their pid files)
#   bash scripts/slurm.sh env      # the line to paste into a shell: export SLURM_CONF=...
#
# Everything lives in $ALLOYSCREEN_SLURM_DIR (default /tmp/alloyscreen-slurm): slurm.conf, a munge key
# and socket of its own, logs, spool and state. Nothing is written under /etc, and a system munged or
# SLURM is left alone, so the SLURM commands need SLURM_CONF pointing at this slurm.conf: `start`
# prints it as its last line. Ports: $ALLOYSCREEN_SLURM_PORT (slurmctld, default 6817) and the next one
# (slurmd). Every command is idempotent. Made for containers: no systemd, no cgroups (proctrack/linuxproc,
# task/none), no accounting; the node is this host under its short name, reached on 127.0.0.1.
set -euo pipefail

PATH=$PATH:/usr/sbin:/sbin  # the daemons, for users whose PATH lacks sbin
DIR=${ALLOYSCREEN_SLURM_DIR:-/tmp/alloyscreen-slurm}
PORT=${ALLOYSCREEN_SLURM_PORT:-6817}
CONF=$DIR/slurm.conf
SOCKET=$DIR/munge/munge.socket
export SLURM_CONF=$CONF

die() { echo "slurm.sh: $*" >&2; exit 1; }

alive() {  # alive PIDFILE: the process named in PIDFILE is running
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

last_error() {  # last_error FILE...: the last fatal line of the logs, else the last error, without its timestamp
    { grep -h fatal "$@" 2>/dev/null || grep -h error "$@" 2>/dev/null | grep -v -i pmix; } | tail -n1 \
        | sed 's/^\[[^]]*\] //' || true
}

node_state() {  # the node's state as sinfo reports it (idle, mixed, down*, ...), empty when unreachable
    timeout 10 sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true
}

write_conf() {
    local user node cpus memory
    user=$(id -un)
    node=$(hostname -s)
    # The CPUs and memory slurmd finds on this host (the first line of `slurmd -C`).
    read -r cpus memory < <(slurmd -C 2>/dev/null | awk '/^NodeName/ {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        print v["CPUs"], v["RealMemory"] }') || true
    [ -n "$cpus" ] || die "slurmd -C printed no CPUs: $(slurmd -C 2>&1 | head -n1)"
    memory=$((memory * 9 / 10))  # leave some to the daemons, or slurmd refuses the node as too small
    cat >"$CONF" <<EOF
# Written by scripts/slurm.sh: a one-node cluster on $node for tests and trials.
ClusterName=alloyscreen
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
# A job over its walltime is killed at once (OverTimeLimit 0), within the 30 s the controller polls at.
OverTimeLimit=0
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

start_munge() {
    mkdir -p "$DIR/munge"
    chmod 700 "$DIR/munge"
    if [ ! -s "$DIR/munge/munge.key" ]; then  # a key of its own: never the system's /etc/munge/munge.key
        dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
        chmod 400 "$DIR/munge/munge.key"
    fi
    if alive "$DIR/munge/munged.pid" && munge -n -S "$SOCKET" </dev/null | unmunge -S "$SOCKET" >/dev/null 2>&1; then
        return
    fi
    rm -f "$SOCKET" "$SOCKET.lock"
    munged --force --socket="$SOCKET" --key-file="$DIR/munge/munge.key" --pid-file="$DIR/munge/munged.pid" \
        --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" \
        || die "munged did not start: $(tail -n1 "$DIR/log/munged.log" 2>/dev/null)"
    for _ in $(seq 50); do
        munge -n -S "$SOCKET" </dev/null | unmunge -S "$SOCKET" >/dev/null 2>&1 && return
        sleep 0.1
    done
    die "munged does not answer on $SOCKET: $(tail -n1 "$DIR/log/munged.log" 2>/dev/null)"
}

start() {
    command -v slurmctld >/dev/null 2>&1 || die "slurmctld is not installed (apt-get install slurmctld slurmd slurm-client munge)"
    command -v slurmd >/dev/null 2>&1 || die "slurmd is not installed (apt-get install slurmd)"
    command -v sinfo >/dev/null 2>&1 || die "sinfo is not installed (apt-get install slurm-client)"
    command -v munged >/dev/null 2>&1 || die "munged is not installed (apt-get install munge)"
    if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
        case $(node_state) in
            idle | mix | alloc) echo "SLURM is already running: node $(hostname -s) $(node_state)"
                                echo "SLURM_CONF=$CONF"; return ;;
        esac
    fi
    stop >/dev/null 2>&1 || true
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    write_conf
    start_munge
    # -c: a fresh controller every start (no jobs left over from an earlier cluster); -i: ignore old state.
    slurmctld -c -i >>"$DIR/log/slurmctld.out" 2>&1 \
        || die "slurmctld did not start: $(tail -n1 "$DIR/log/slurmctld.log" 2>/dev/null || tail -n1 "$DIR/log/slurmctld.out")"
    slurmd -c -N "$(hostname -s)" >>"$DIR/log/slurmd.out" 2>&1 \
        || die "slurmd did not start: $(tail -n1 "$DIR/log/slurmd.log" 2>/dev/null || tail -n1 "$DIR/log/slurmd.out")"
    local state=""
    for _ in $(seq 120); do
        state=$(node_state)
        case $state in
            idle) echo "SLURM is running: idle node $(hostname -s), config $CONF"; echo "SLURM_CONF=$CONF"; return ;;
            down* | drain* | fail*) scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        if ! alive "$DIR/slurmctld.pid"; then
            die "slurmctld exited: $(last_error "$DIR/log/slurmctld.log" "$DIR/log/slurmctld.out")"
        fi
        if ! alive "$DIR/slurmd.pid"; then
            die "slurmd exited: $(last_error "$DIR/log/slurmd.log" "$DIR/log/slurmd.out")"
        fi
        sleep 0.5
    done
    die "the node is not idle after 60 s (state '${state:-unreachable}'): $(last_error "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log")"
}

stop() {
    local name pidfile pid stopped=""
    for name in slurmd slurmctld munge/munged; do
        pidfile=$DIR/$name.pid
        alive "$pidfile" || continue
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        rm -f "$pidfile"
        stopped="$stopped ${name#munge/}"
    done
    echo "SLURM stopped:${stopped:- nothing was running}"
}

status() {
    if ! alive "$DIR/slurmctld.pid" || ! alive "$DIR/slurmd.pid"; then
        echo "SLURM is not running (no live slurmctld/slurmd from $DIR)"
        return 1
    fi
    sinfo
    squeue
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) die "usage: $0 start|stop|status|env" ;;
esac
