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
# --help prints the help alone and succeeds, although --max is required.
help=$(timeout 10 "$examples/add_numbers" --help 2>&1)
grep -q -- "--max" <<<"$help" && ! grep -q "error" <<<"$help" || { echo "--help printed:"; echo "$help"; exit 1; }
# Without --help, the missing required option is an error (exit 2) that names it.
set +e
err=$(timeout 10 "$examples/add_numbers" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -q "'--max' is required" <<<"$err" || { echo "rc $rc: $err"; exit 1; }
