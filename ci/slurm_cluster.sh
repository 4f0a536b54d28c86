#!/usr/bin/env bash
# A real one-node Slurm for tests: slurm-wlm + munge from Debian, daemons started by us.
#   ci/slurm_cluster.sh start   # installs if needed, writes slurm.conf, starts munged/slurmctld/slurmd
#   ci/slurm_cluster.sh stop    # cancels jobs, stops the daemons we started (by pid)
# State lives under $SLURM_SCRATCH (default /tmp/pystamps-slurm). Needs root.
set -euo pipefail

SCR="${SLURM_SCRATCH:-/tmp/pystamps-slurm}"
CONF=/etc/slurm/slurm.conf

install_pkgs() {
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then return; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq -o DPkg::Lock::Timeout=600
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 slurm-wlm munge >/dev/null
}

write_conf() {
    local host cpus mem
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem="$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')"
    mem=$(( ${mem:-4096} * 9 / 10 ))
    mkdir -p "$SCR"/{run,state,spool,log} /etc/slurm
    cat > "$CONF" <<CONF
ClusterName=ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmi2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SCR/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmctldPidFile=$SCR/run/slurmctld.pid
SlurmdPidFile=$SCR/run/slurmd.pid
StateSaveLocation=$SCR/state
SlurmdSpoolDir=$SCR/spool
SlurmctldLogFile=$SCR/log/slurmctld.log
SlurmdLogFile=$SCR/log/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
    install_pkgs
    write_conf
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom bs=1024 count=1 of=/etc/munge/munge.key status=none
        chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
    fi
    install -d -o munge -g munge /run/munge
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- munged
        pgrep -xo munged > "$SCR/run/munged.pid"
    fi
    [[ -f "$SCR/run/slurmctld.pid" ]] && kill -0 "$(cat "$SCR/run/slurmctld.pid")" 2>/dev/null || slurmctld
    [[ -f "$SCR/run/slurmd.pid" ]] && kill -0 "$(cat "$SCR/run/slurmd.pid")" 2>/dev/null || slurmd
    local host state i
    host="$(hostname -s)"
    for i in $(seq 1 60); do
        state="$(sinfo -h -n "$host" -o %T 2>/dev/null || true)"
        case "$state" in
            idle*) echo "slurm: node $host idle"; return 0 ;;
            down*|drain*) scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
        esac
        sleep 1
    done
    echo "slurm: node $host did not become idle (state '$state'); see $SCR/log" >&2
    return 1
}

stop() {
    scancel --user=root 2>/dev/null || true
    local name pid
    for name in slurmd slurmctld munged; do
        [[ -f "$SCR/run/$name.pid" ]] || continue
        pid="$(cat "$SCR/run/$name.pid")"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$SCR/run/$name.pid"
    done
    echo "slurm: stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
