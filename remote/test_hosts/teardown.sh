#!/usr/bin/env bash
# Undoes setup.sh: kills only the sshd processes it started (by pid), deletes its namespaces,
# veths and bridge, and its state directory. Safe to run when nothing is set up.
set -uo pipefail
state=${RPCP_TEST_HOSTS_DIR:-/run/rpcp-test-hosts}
for pidfile in "$state"/*/sshd.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  # Only if it still is our sshd (pids wrap quickly here).
  if grep -q "sshd" "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid" 2>/dev/null; fi
done
# Delete our veths first, synchronously: a namespace's devices otherwise go away
# asynchronously after `ip netns del`, and an immediate setup would find them still there.
for link in $(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^rpcpv[0-9]+@/ {split($2, a, "@"); print a[1]}'); do
  ip link del "$link" 2>/dev/null
done
for ns in $(ip netns list 2>/dev/null | awk '/^rpcp-h[0-9]+/ {print $1}'); do
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$ns"
done
ip link del rpcpbr0 2>/dev/null
# Loopback mode's noexec tmpfs: unmounted before the state goes (rm -rf would stop at it).
if mountpoint -q "$state/noexec" 2>/dev/null; then umount "$state/noexec" || umount -l "$state/noexec"; fi
rm -rf "$state"
exit 0
