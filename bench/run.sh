#!/usr/bin/env bash
# Builds and runs the benchmarks: our figures, their floors and the Python peer, in one run,
# then the speed-up over Python. Usage: bench/run.sh [--quick] [--only latency|streams|mapreduce|straggler|remote|slurm]
# The remote figures start 4 sshd test hosts (remote/test_hosts, as root) and tear them down;
# the slurm ones a 3-node Slurm cluster (remote/test_slurm).
set -euo pipefail
cd "$(dirname "$0")/.."
only=all
quick=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --only) only="$2"; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--only latency|streams|mapreduce|straggler|remote|slurm]" >&2; exit 2 ;;
  esac
  shift
done
scripts/build.sh bench
out=$(mktemp)
# The bench tears its test hosts down itself; this covers a bench killed half-way: its ssh
# ControlMasters first (they would outlive the hosts, and the framework's socket path is the
# same in the next run), then the hosts.
hosts_dir=/run/rpcp-test-hosts-bench
cleanup() {
  rm -f "$out"
  [ -d "$hosts_dir" ] || return 0
  for host in $(cat "$hosts_dir/hosts" 2>/dev/null); do
    ours=$(ssh -G -F "$hosts_dir/ssh_config" -o "ControlPath=/tmp/rpcp-ssh-$(id -u)/%C" "$host" |
           awk '/^controlpath /{print $2}')
    for socket in "$hosts_dir"/cm-* "$ours" "$ours"-*; do
      if [ -S "$socket" ]; then ssh -F "$hosts_dir/ssh_config" -o "ControlPath=$socket" -O exit "$host" 2>/dev/null || true; fi
    done
  done
  RPCP_TEST_HOSTS_DIR=$hosts_dir remote/test_hosts/teardown.sh
}
trap cleanup EXIT
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
source scripts/toolchain.bash
bench=$(bin_dir bench)/bench
echo "## unpinned"
"$bench" "${quick[@]}" --only "$only" | tee "$out"
if [ "$only" = all ] || [ "$only" = latency ]; then
  for pin in same split; do
    echo "## pinned $pin (latency figures only)"
    "$bench" "${quick[@]}" --pin "$pin" --only latency | grep -E "round_trip|ping_pong" | sed "s/^/pin_${pin}_/" | tee -a "$out"
  done
fi
/usr/bin/python3 bench/python_peer.py "${quick[@]}" --only "$only" | tee -a "$out"
if [ "$only" = all ] || [ "$only" = latency ]; then
  taskset -c 0 /usr/bin/python3 bench/python_peer.py "${quick[@]}" --only-latency | sed "s/^/pin_same_/" | tee -a "$out"
fi
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
# Map-reduce: ours spawns its 2 workers inside the timed call; Python's pool is started first
# (its best case), and, for 100 000 items, also created in the timing ("cold").
import re
def size_of(name):
    return int(re.search(r"_(\d+)_", name).group(1))
ours_sizes = sorted(size_of(k) for k in values if re.fullmatch(r"map_plus_one_\d+_items_per_second", k))
unchunked = sorted(size_of(k) for k in values if re.fullmatch(r"python_pool2_map_\d+_chunksize_1_items_per_second", k))
for n in ours_sizes:
    ours = "map_plus_one_%d_items_per_second" % n
    peer = "python_pool2_map_%d_chunksize_default_items_per_second" % n
    if peer in values:
        print("speedup map_%d_items: %.1fx Python's rate at its default chunksize, pool started "
              "beforehand (target >= 3x, aim 10x) (%s / %s)" % (n, values[ours] / values[peer], ours, peer))
    cold = "python_pool2_map_%d_chunksize_default_cold_items_per_second" % n
    if cold in values:
        print("speedup map_%d_items_pool_started_in_timing: %.1fx Python's rate (both start their "
              "processes in the call) (%s / %s)" % (n, values[ours] / values[cold], ours, cold))
    if unchunked:
        m = n if n in unchunked else max(unchunked)
        peer = "python_pool2_map_%d_chunksize_1_items_per_second" % m
        note = "" if m == n else "; Python ran only %d items, chunksize=1 being slow" % m
        print("speedup map_%d_items_vs_chunksize_1: %.1fx Python's rate at chunksize=1 (target >= 50x%s) (%s / %s)"
              % (n, values[ours] / values[peer], note, ours, peer))
for n in ours_sizes:
    ours = "map_pool_plus_one_%d_items_per_second" % n
    peer = "python_pool2_map_%d_chunksize_default_items_per_second" % n
    if ours in values and peer in values:
        print("speedup map_pool_%d_items: %.1fx Python's rate at its default chunksize, both pools "
              "started beforehand (target >= 3x, aim 10x) (%s / %s)" % (n, values[ours] / values[peer], ours, peer))
first = "map_first_result_median"
for peer in sorted(k for k in values if k.startswith("python_pool2_imap_first_result_")):
    if first in values:
        print("speedup first_result_vs_%s: %.2fx (Python / ours: above 1, ours comes first) (%s / %s)"
              % (peer[len("python_pool2_imap_first_result_"):], values[peer] / values[first], peer, first))
PY
