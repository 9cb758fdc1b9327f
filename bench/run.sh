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
  "$bench" "$@" --pin "$pin" --only latency | grep -E "round_trip|ping_pong" | sed "s/^/pin_${pin}_/" | tee -a "$out"
done
/usr/bin/python3 bench/python_peer.py "$@" | tee -a "$out"
taskset -c 0 /usr/bin/python3 bench/python_peer.py "$@" --only-latency | sed "s/^/pin_same_/" | tee -a "$out"
/usr/bin/python3 - "$out" <<'PY'
import sys
values = {}
for line in open(sys.argv[1]):
    name, _, rest = line.partition(":")
    try:
        values[name.strip()] = float(rest.split()[0])
    except (ValueError, IndexError):
        pass  # headers, ratio lines
def speedup(what, peer, ours):
    if peer in values and ours in values:
        print("speedup %s: %.1fx faster than Python (%s / %s)" % (what, values[peer] / values[ours], peer, ours))
speedup("spawn_to_first_answer", "python_pool1_fork_first_answer_median", "spawn_first_rpc_median")
speedup("spawn_to_first_answer_vs_spawn_method", "python_pool1_spawn_first_answer_median", "spawn_first_rpc_median")
speedup("round_trip_p50", "python_manager_round_trip_p50", "rpc_round_trip_p50")
speedup("round_trip_p50_pinned_same_cpu", "pin_same_python_manager_round_trip_p50", "pin_same_rpc_round_trip_p50")
def rate_speedup(what, peer, ours):
    if peer in values and ours in values:
        print("speedup %s: %.1fx Python's rate (%s / %s)" % (what, values[ours] / values[peer], ours, peer))
rate_speedup("pipe_small_values", "python_pipe_small_values_per_second", "pipe_small_values_per_second")
PY
