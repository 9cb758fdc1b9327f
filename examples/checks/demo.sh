#!/usr/bin/env bash
# The README's demo: three local workers, their sums, and each one's count of calls.
source "$(dirname "$0")/common.bash"
out=$(timeout 60 "$demo" --workers 3 --n 10)
[ "$out" = "$demo_expected" ] || { echo "$out"; exit 1; }
