#!/usr/bin/env bash
# A one-node SLURM cluster with accounting on this machine, for the tests of profiles/slurm (tests/test_slurm.py):
# munged, MariaDB, slurmdbd (so that `sacct` answers, as on real clusters), slurmctld and slurmd; one node with
# this machine's CPUs in partitions `cpu` (default) and `gpu` (no GPUs: the smoke preset asks for none).
#   bash .ci/slurm_cluster.sh   # as root; installs with apt-get, starts what is not running; idempotent
# It never fails: when the cluster cannot start it says why in $STATE/reason (the SLURM tests skip with it) and
# takes SLURM's client tools back off the machine, since with no controller every Snakemake call waits ~10 s
# on them (the SLURM plugin probes sacct/squeue/scontrol when it is imported). Leave the daemons running.
set -uo pipefail
STATE=${TOPONETS_SLURM_STATE:-/var/lib/toponets-slurm}
CLUSTER=toponets
ACCOUNT=toponets
LOG=/var/log/toponets-slurm
start=$(date +%s)

fail() {
  echo "slurm_cluster: $1; the SLURM tests will skip" >&2
  mkdir -p "$STATE" 2>/dev/null && echo "$1" >"$STATE/reason"
  if [ "$(id -u)" = 0 ] && [ -n "${installed_now:-}" ] && ! scontrol ping >/dev/null 2>&1; then
    apt-get remove -y -qq slurm-client slurmctld slurmd slurmdbd >/dev/null 2>&1  # no controller: no client tools
  fi
  exit 0
}
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local limit=$1; shift
  for _ in $(seq "$limit"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

[ "$(id -u)" = 0 ] || fail "not root: the one-node cluster needs root (apt-get, daemons); run .ci/slurm_cluster.sh as root"
command -v apt-get >/dev/null || fail "no apt-get: install slurm-wlm, slurmdbd, munge and mariadb-server by hand"
mkdir -p "$STATE" "$LOG" && rm -f "$STATE/reason" "$STATE/up"

packages="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"
if [ "$(dpkg-query -W -f='${Status}\n' $packages 2>/dev/null | grep -c 'install ok installed')" = 6 ]; then
  echo "slurm_cluster: packages already installed"
else
  # No service starts on its own during the install (there may be no init system); this script starts them.
  policy=/usr/sbin/policy-rc.d
  [ -e $policy ] || { printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && made_policy=1; }
  installed_now=1
  apt-get update -qq >"$LOG/apt.log" 2>&1 \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends $packages >>"$LOG/apt.log" 2>&1
  rc=$?
  [ -n "${made_policy:-}" ] && rm -f $policy
  [ $rc = 0 ] || fail "apt-get install $packages failed (see $LOG/apt.log)"
fi

# munge: the key, then the daemon (as user munge)
[ -s /etc/munge/munge.key ] || { mungekey --create >/dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; }
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --force </dev/null >>"$LOG/munged.out" 2>&1
  wait_for 20 sh -c 'munge -n | unmunge' || fail "munged did not start (see /var/log/munge/munged.log)"
fi

# MariaDB: the accounting database, reached by slurmdbd through its socket
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if ! mysqladmin ping >/dev/null 2>&1; then
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >>"$LOG/mariadb.out" 2>&1
  setsid mariadbd-safe --user=mysql </dev/null >>"$LOG/mariadb.out" 2>&1 &
  wait_for 60 mysqladmin ping || fail "MariaDB did not start (see $LOG/mariadb.out)"
fi
mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
  CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;" >>"$LOG/mariadb.out" 2>&1 \
  || fail "could not create the accounting database (see $LOG/mariadb.out)"

# SLURM's configuration: this host, its CPUs and memory as slurmd sees them, the two partitions
host=$(hostname -s)
node=$(slurmd -C 2>/dev/null | head -1 | sed 's/ *$//')
[ -n "$node" ] || fail "slurmd -C could not describe this node"
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat >/etc/slurm/slurm.conf <<EOF
# Written by .ci/slurm_cluster.sh: a one-node test cluster
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
KillWait=5
MinJobAge=300
$node State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host Default=NO MaxTime=INFINITE State=UP
EOF
cat >/etc/slurm/slurmdbd.conf <<EOF
# Written by .ci/slurm_cluster.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
chmod 600 /etc/slurm/slurmdbd.conf

if ! sacctmgr -n show cluster >/dev/null 2>&1; then
  slurmdbd </dev/null >>"$LOG/slurmdbd.out" 2>&1
  wait_for 60 sacctmgr -n show cluster || fail "slurmdbd did not start (see /var/log/slurm/slurmdbd.log)"
fi
sacctmgr -n show cluster format=cluster | grep -qw $CLUSTER || sacctmgr -i add cluster $CLUSTER >>"$LOG/sacctmgr.out" 2>&1
sacctmgr -n show account format=account | grep -qw $ACCOUNT \
  || sacctmgr -i add account $ACCOUNT cluster=$CLUSTER description=tests organization=tests >>"$LOG/sacctmgr.out" 2>&1
sacctmgr -n show assoc where user=root account=$ACCOUNT format=user | grep -qw root \
  || sacctmgr -i add user root account=$ACCOUNT cluster=$CLUSTER >>"$LOG/sacctmgr.out" 2>&1

if scontrol ping 2>/dev/null | grep -q UP; then
  scontrol reconfigure >/dev/null 2>&1
else
  slurmctld </dev/null >>"$LOG/slurmctld.out" 2>&1
  wait_for 60 sh -c 'scontrol ping | grep -q UP' || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
fi
if ! pgrep -x slurmd >/dev/null; then
  slurmd </dev/null >>"$LOG/slurmd.out" 2>&1
fi
idle() { sinfo -h -N -o %t | grep -Eq '^(idle|mix|alloc)'; }
wait_for 60 idle || scontrol update nodename="$host" state=resume >/dev/null 2>&1
wait_for 30 idle || fail "the node did not come up: $(sinfo -h -N -o '%t %E' 2>&1) (see /var/log/slurm/slurmd.log)"

# A job through the whole path: sbatch, the node, and sacct reading its end back from the database
job=$(sbatch --parsable -A $ACCOUNT -p cpu -t 1 --mem 100 -o /dev/null --wrap true 2>"$LOG/probe.err") \
  || fail "sbatch failed: $(cat "$LOG/probe.err")"
done_in_sacct() { sacct -X -n -P -j "$job" -o State | grep -q COMPLETED; }
wait_for 60 done_in_sacct || fail "test job $job did not show as COMPLETED in sacct: $(sacct -X -n -P -j "$job" -o State 2>&1)"
echo "$CLUSTER $ACCOUNT" >"$STATE/up"
echo "slurm_cluster: cluster '$CLUSTER' up (partitions cpu, gpu; account $ACCOUNT) in $(( $(date +%s) - start )) s"
