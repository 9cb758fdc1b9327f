#!/usr/bin/env bash
# Rpc_parallel's side_arg: 100 results, every index once, each the greeting its worker made in
# init from the master's message: at most 4 distinct "[bits]" prefixes for 4 workers.
source "$(dirname "$0")/common.bash"
out=$(timeout 60 "$examples/side_arg" --ntimes 100 --nworkers 4)
fail() { echo "side_arg: $1; it printed:"; echo "$out"; exit 1; }
[ "$(wc -l <<<"$out")" -eq 100 ] || fail "not 100 lines"
grep -Evqx '[0-9]+: \[[0-9a-f]{8}\] Message from the master' <<<"$out" && fail "a malformed line"
[ "$(cut -d: -f1 <<<"$out" | sort -n | tr '\n' ' ')" = "$(seq 0 99 | tr '\n' ' ')" ] ||
  fail "not every index 0..99 exactly once"
prefixes=$(sed -E 's/^[0-9]+: (\[[0-9a-f]+\]).*/\1/' <<<"$out" | sort -u | wc -l)
[ "$prefixes" -ge 1 ] && [ "$prefixes" -le 4 ] || fail "$prefixes distinct prefixes for 4 workers"
