#!/usr/bin/env bash
# Undoes setup.sh (same settings): kills the daemons it started (by pid) and everything left in
# its node namespaces, deletes the namespaces, veths, bridge and the cgroups Slurm made, and the
# state directory. Safe to run when nothing is set up.
set -uo pipefail
state=${RPCP_TEST_SLURM_DIR:-/run/rpcp-test-slurm}
name=${RPCP_TEST_SLURM_NAME:-rpcp-s}
bridge="${name}br"
# stop PIDFILE PROGRAM: kills the process if it still is PROGRAM (pids wrap quickly here).
stop() {
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  grep -q "$2" "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  return 0
}
for started in "$state"/*/slurmd.started; do stop "$started" slurmd; done
stop "$state/slurmctld.pid" slurmctld
stop "$state/munged.pid" munged
for ns in $(ip netns list 2>/dev/null | awk -v n="$name" '$1 ~ "^" n "[0-9]+$" {print $1}'); do
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
done
# Delete the veths first, synchronously: a namespace's devices otherwise linger ~1 s after
# `ip netns del`, and an immediate setup would find them (trap 3).
for link in $(ip -o link show 2>/dev/null | awk -F': ' -v n="${name}v" '$2 ~ "^" n "[0-9]+@" {split($2, a, "@"); print a[1]}'); do
  ip link del "$link" 2>/dev/null
done
for ns in $(ip netns list 2>/dev/null | awk -v n="$name" '$1 ~ "^" n "[0-9]+$" {print $1}'); do
  ip netns del "$ns"
done
ip link del "$bridge" 2>/dev/null
# proctrack/cgroup's job directories (empty once their processes are gone), deepest first.
if [ -f "$state/proctrack" ] && [ "$(cat "$state/proctrack")" = cgroup ]; then
  find /sys/fs/cgroup/*/slurm* -depth -type d -exec rmdir {} + 2>/dev/null
fi
rm -rf "$state"
exit 0
