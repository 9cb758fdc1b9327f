#!/usr/bin/env bash
# Rpc_parallel's map-reduce qtests: one "ok" line per check.
source "$(dirname "$0")/common.bash"
expect_output map_reduce_checks "ok: map_unordered of x + 1000 over 0..999 gives 1000..1999, indexes 0..999
ok: map of x + 1000 over 0..999 gives 1000..1999 in order
ok: map_reduce_commutative of 2 x sum [0..m-1], m < 1000, is 332334000
ok: map_reduce of concatenation gives 0..999
ok: closing map_unordered's and map's output after one result does not crash"
