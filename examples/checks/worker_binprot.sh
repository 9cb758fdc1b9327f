#!/usr/bin/env bash
# Ten pings through the dispatcher and ten direct ones interleave; together they count 1..20.
source "$(dirname "$0")/common.bash"
out=$(timeout 60 "$examples/worker_binprot")
[ "$(grep -c '^worker pinged from dispatcher: ' <<<"$out")" -eq 10 ]
[ "$(grep -c '^worker pinged from master: ' <<<"$out")" -eq 10 ]
[ "$(sed 's/.*: //' <<<"$out" | sort -n | tr '\n' ' ')" = "$(seq 1 20 | tr '\n' ' ')" ]
