#!/usr/bin/env bash
# cluster_map on a real Slurm cluster of 3 nodes (remote/test_slurm, cgroup tracking): over an
# salloc allocation, and as a symmetric srun of 4 copies; both map on every node.
source "$(dirname "$0")/common.bash"
root="$(cd "$(dirname "$0")/../.." && pwd)"
# A cluster apart from the test binaries' (names, subnet, ports).
export RPCP_TEST_SLURM_DIR=/run/rpcp-test-slurm-example RPCP_TEST_SLURM_NAME=rpcp-e
export RPCP_TEST_SLURM_NET=10.202.0 RPCP_TEST_SLURM_PORT=16827 RPCP_TEST_SLURM_PROCTRACK=cgroup
trap '"$root/remote/test_slurm/teardown.sh"' EXIT
"$root/remote/test_slurm/setup.sh" 3 >/dev/null
export SLURM_CONF="$RPCP_TEST_SLURM_DIR/slurm.conf"
expected="sum of squares below 100000: 333328333350000
hosts: rpcp-e1 rpcp-e2 rpcp-e3"
out=$(timeout 120 salloc --quiet --nodes=3 "$examples/cluster_map" --slurm)
[ "$out" = "$expected" ] || { echo "salloc printed:"; echo "$out"; exit 1; }
out=$(timeout 120 srun --quiet --ntasks=4 --nodes=3 "$examples/cluster_map")
[ "$out" = "$expected" ] || { echo "srun printed:"; echo "$out"; exit 1; }
