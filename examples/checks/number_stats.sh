#!/usr/bin/env bash
# Rpc_parallel's number_stats: 100 blocks of 50 000 random numbers, folded in order, then in any
# order. The sample count is exact; mean and variance depend on which worker made which block,
# so (like the reference's cram test) only their form is checked.
source "$(dirname "$0")/common.bash"
number='[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?'
expected=$(printf '%s\n' "Samples: 5000000" "Mean: $number" "Variance: $number")
check() {
  local out
  out=$(timeout 60 "$examples/number_stats" --nblocks 100 "$@")
  [ "$(wc -l <<<"$out")" -eq 3 ] && paste <(echo "$expected") <(echo "$out") |
    while IFS=$'\t' read -r pattern line; do grep -Eqx "$pattern" <<<"$line" || exit 1; done ||
    { echo "number_stats $* printed:"; echo "$out"; return 1; }
}
check
check --commutative
