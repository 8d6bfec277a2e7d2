#!/usr/bin/env bash
# A single-host Slurm (Debian's slurm-wlm 22.05 with munge) for tests/executors/test_slurm.py, which submits the
# docs/scale.md sbatch script unchanged. Installs the packages, writes slurm.conf for this host (its real CPUs and
# memory, from `slurmd -C`), starts munged, slurmctld and slurmd, and waits until the node is idle. Idempotent:
# a running, idle Slurm is left alone. Also installs fuse3 + bindfs for the FUSE-backed store test.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "setup_slurm.sh needs root (apt-get, daemons)" >&2; exit 1; fi
if command -v sinfo >/dev/null 2>&1 && sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
  echo "slurm already running: $(sinfo -h -o '%N %T %c CPUs')"
  exit 0
fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1 || ! command -v bindfs >/dev/null; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q munge slurm-wlm fuse3 bindfs >/dev/null
fi

# munge: one key, the daemon as root (no systemd in CI containers)
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chmod 400 /etc/munge/munge.key
chown -R root:root /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 700 /etc/munge /var/lib/munge /var/log/munge; chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  munged --force
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

host=$(hostname -s)
node=$(slurmd -C | head -1 | sed -E 's/ (Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+//g')
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<EOF
# written by evalsuite .ci/setup_slurm.sh: one host, CPUs only
ClusterName=evalsuite-ci
SlurmctldHost=$host
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobRequeue=1
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
KillWait=30
$node State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
  state=$(sinfo -h -o %T 2>/dev/null || true)
  case "$state" in idle*|mixed*|allocated*) echo "slurm up: $(sinfo -h -o '%N %T %c CPUs')"; exit 0 ;; esac
  sleep 1
done
echo "slurm did not come up (sinfo: ${state:-nothing}); see /var/log/slurm/slurmctld.log and slurmd.log" >&2
exit 1
