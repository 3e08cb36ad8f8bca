#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm backend's tests (and for trying the
# backend without a cluster): munge, slurmctld and slurmd from Debian's packages
# (`apt-get install slurmctld slurmd slurm-client munge`), run as root, with their state, spool
# and logs under one folder.
#
#   scripts/slurm-local.sh start DIR   # prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm-local.sh stop DIR
#
# Clients (sbatch, squeue, sacct, scancel) find the cluster through SLURM_CONF.
set -euo pipefail

action="${1:-}"
dir="${2:-}"
[[ -n "$action" && -n "$dir" ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

if [[ "$action" == stop ]]; then
    for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid; do
        [[ -f "$pid" ]] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    exit 0
fi
[[ "$action" == start ]] || { echo "$0: unknown action '$action' (start or stop)" >&2; exit 2; }

for tool in munged slurmctld slurmd sbatch; do
    command -v "$tool" >/dev/null || {
        echo "$0: $tool is missing: apt-get install slurmctld slurmd slurm-client munge" >&2
        exit 1
    }
done

mkdir -p "$dir/state" "$dir/spool"
dir="$(cd "$dir" && pwd)"

# munge: one key, its socket folder owned by the munge user.
if ! pgrep -x munged >/dev/null; then
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge
    chown munge:munge /run/munge
    runuser -u munge -- munged
fi

host="$(hostname -s)"
cpus="$(nproc)"
memory_mb="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)"
cat > "$dir/slurm.conf" <<EOF
ClusterName=valuelab-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

# The node reports idle within a few seconds.
for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.5
done
echo "$0: the node did not come up in 30 s; see $dir/slurmctld.log and $dir/slurmd.log" >&2
sinfo >&2 || true
exit 1
