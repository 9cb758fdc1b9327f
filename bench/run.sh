#!/usr/bin/env bash
# Builds and runs the benchmarks: our figures, their floors and the Python peer, in one run,
# then the speed-up over Python. Usage: bench/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh bench
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
bench=bin/bench/gcc-12/release/cxxstd-20-iso/threading-multi/bench
echo "## unpinned"
"$bench" "$@" | tee "$out"
for pin in same split; do
  echo "## pinned $pin (latency figures only)"
  "$bench" "$@" --pin "$pin" | grep -E "round_trip|ping_pong" | sed "s/^/pin_${pin}_/"
done
/usr/bin/python3 bench/python_peer.py "$@" | tee -a "$out"
/usr/bin/python3 - "$out" <<'PY'
import sys
values = {}
for line in open(sys.argv[1]):
    if ":" in line and not line.startswith("ratio"):
        name, rest = line.split(":", 1)
        values[name.strip()] = float(rest.split()[0])
def speedup(what, peer, ours):
    if peer in values and ours in values:
        print("speedup %s: %.1fx faster than Python (%s / %s)" % (what, values[peer] / values[ours], peer, ours))
speedup("spawn_to_first_answer", "python_pool1_fork_first_answer_median", "spawn_first_rpc_median")
speedup("spawn_to_first_answer_vs_spawn_method", "python_pool1_spawn_first_answer_median", "spawn_first_rpc_median")
speedup("round_trip_p50", "python_manager_round_trip_p50", "rpc_round_trip_p50")
PY
