#!/usr/bin/env bash
# Rpc_parallel's add_numbers: ten inputs on four workers, printed in input order; unordered, each
# result comes with its own index (compared once sorted, since the finishing order varies).
source "$(dirname "$0")/common.bash"
expected=""
for i in $(seq 0 9); do expected+="$i: 4950"$'\n'; done
expect_output add_numbers "${expected%$'\n'}" --max 100 --ntimes 10 --spin 100000
unordered=$(timeout 60 "$examples/add_numbers" --max 100 --ntimes 10 --spin 100000 --unordered |
  sort -n)
expected=""
for i in $(seq 0 9); do expected+="$i:$i: 4950"$'\n'; done
[ "$unordered" = "${expected%$'\n'}" ] || { echo "unordered printed:"; echo "$unordered"; exit 1; }
