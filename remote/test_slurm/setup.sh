#!/usr/bin/env bash
# Starts a real Slurm cluster for the scheduler tests: munged, slurmctld and N slurmd, each node
# a network + UTS namespace (its own address on a private bridge, its own hostname) that keeps
# this machine's mounts, as nodes on a shared file system do. `srun -w NODE` runs inside NODE.
# Usage: setup.sh [N]   (3 nodes by default, 2 CPUs each)
# Settings, so that two clusters can run at once (every name, address and port is one):
#   RPCP_TEST_SLURM_DIR    state: slurm.conf, logs, spool, munge socket (/run/rpcp-test-slurm)
#   RPCP_TEST_SLURM_NAME   node name prefix, nodes NAME1..NAMEn (rpcp-s)
#   RPCP_TEST_SLURM_NET    the bridge's /24, as its first three octets (10.201.0)
#   RPCP_TEST_SLURM_PORT   slurmctld's port; slurmd's is the next one (16817)
#   RPCP_TEST_SLURM_PROCTRACK  linuxproc or cgroup (cgroup: what real sites run)
# Prints one node name per line once every node is idle; clients need SLURM_CONF=$DIR/slurm.conf.
# teardown.sh undoes exactly what this started.
set -euo pipefail
count=${1:-3}
state=${RPCP_TEST_SLURM_DIR:-/run/rpcp-test-slurm}
name=${RPCP_TEST_SLURM_NAME:-rpcp-s}
net=${RPCP_TEST_SLURM_NET:-10.201.0}
port=${RPCP_TEST_SLURM_PORT:-16817}
proctrack=${RPCP_TEST_SLURM_PROCTRACK:-linuxproc}
bridge="${name}br"
here=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" -eq 0 ] || { echo "setup.sh: must run as root (namespaces, slurmd)" >&2; exit 1; }
for program in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/srun; do
  [ -x "$program" ] || { echo "setup.sh: $program missing: apt-get install slurmctld slurmd slurm-client munge" >&2; exit 1; }
done
[ -r /etc/munge/munge.key ] || { echo "setup.sh: /etc/munge/munge.key missing (the munge package makes it)" >&2; exit 1; }
# A half-started cluster is torn down first: a second slurmctld would kill the first (trap 2).
"$here/teardown.sh" >/dev/null 2>&1 || true
trap 'status=$?; [ $status -eq 0 ] || "$here/teardown.sh" >/dev/null 2>&1; exit $status' EXIT
mkdir -p "$state/munge" "$state/ctld"
chmod 755 "$state"
chown munge:munge "$state/munge"
chmod 755 "$state/munge"  # munged wants its socket directory searchable by all

nodes=()
for i in $(seq 1 "$count"); do nodes+=("$name$i"); done
node_list="$name[1-$count]"

cat > "$state/slurm.conf" <<CONF
ClusterName=rpcptest
SlurmctldHost=${name}ctl($net.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/ctld
SlurmctldPidFile=$state/ctld/slurmctld.pid
SlurmctldLogFile=$state/ctld/slurmctld.log
SlurmdSpoolDir=$state/%n/spool
SlurmdPidFile=$state/%n/slurmd.pid
SlurmdLogFile=$state/%n/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/$proctrack
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerParameters=sched_interval=1
KillWait=5
MinJobAge=600
CONF
for i in $(seq 1 "$count"); do
  echo "NodeName=$name$i NodeHostname=$name$i NodeAddr=$net.$((i + 1)) CPUs=2 RealMemory=1000 State=UNKNOWN" >> "$state/slurm.conf"
done
echo "PartitionName=test Nodes=$node_list Default=YES MaxTime=INFINITE State=UP" >> "$state/slurm.conf"
if [ "$proctrack" = cgroup ]; then
  cat > "$state/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
CONF
fi

runuser -u munge -- /usr/sbin/munged --foreground --socket="$state/munge/munge.socket" \
  --pid-file="$state/munge/munged.pid" --log-file="$state/munge/munged.log" \
  --seed-file="$state/munge/munged.seed" </dev/null >/dev/null 2>&1 &
echo $! > "$state/munged.pid"

ip link add "$bridge" type bridge
ip addr add "$net.1/24" dev "$bridge"
ip link set "$bridge" up
for i in $(seq 1 "$count"); do
  node="$name$i"
  ip netns add "$node"
  ip link add "${name}v$i" type veth peer name eth0 netns "$node"
  ip link set "${name}v$i" master "$bridge" up
  ip -n "$node" addr add "$net.$((i + 1))/24" dev eth0
  ip -n "$node" link set eth0 up
  ip -n "$node" link set lo up
  ip -n "$node" route add default via "$net.1"
  mkdir -p "$state/$node/spool"
done

# Clients and daemons find the config and munge through these.
export SLURM_CONF="$state/slurm.conf"
deadline=$((SECONDS + 10))
until [ -S "$state/munge/munge.socket" ]; do
  [ $SECONDS -lt $deadline ] || { echo "setup.sh: munged did not start; its log:" >&2; tail -5 "$state/munge/munged.log" >&2; exit 1; }
  sleep 0.05
done
# slurmctld acts as the controller only under the name SlurmctldHost gives: its own UTS
# namespace with that name (network: this machine's, so it listens on the bridge).
unshare --uts /bin/sh -c "hostname ${name}ctl && exec /usr/sbin/slurmctld -D -i -f $SLURM_CONF" \
  </dev/null >"$state/ctld/stdout.log" 2>&1 &
echo $! > "$state/slurmctld.pid"
# Each slurmd: only the node's network namespace (not `ip netns exec`, which remounts /sys and
# leaves slurmd no cgroup file system), and a UTS namespace with the node's name.
for node in "${nodes[@]}"; do
  nsenter --net="/run/netns/$node" unshare --uts /bin/sh -c \
    "hostname $node && exec /usr/sbin/slurmd -D -N $node -f $SLURM_CONF" \
    </dev/null >"$state/$node/stdout.log" 2>&1 &
  echo $! > "$state/$node/slurmd.started"
done

# Ready when sinfo shows every node idle (deadline 20 s).
deadline=$((SECONDS + 20))
until [ "$(sinfo -h -N -t idle -o %N 2>/dev/null | sort -u | wc -l)" -eq "$count" ]; do
  if [ $SECONDS -ge $deadline ]; then
    echo "setup.sh: the nodes were not idle within 20 s:" >&2
    sinfo -N >&2 || true
    tail -5 "$state/ctld/slurmctld.log" "$state"/*/slurmd.log >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.05
done
echo "$proctrack" > "$state/proctrack"
printf '%s\n' "${nodes[@]}" | tee "$state/nodes"
