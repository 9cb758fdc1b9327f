#!/usr/bin/env bash
# The README's demo: three workers, their sums, and each one's count of calls.
source "$(dirname "$0")/common.bash"
demo="$(dirname "$examples")/../../../../app_template/gcc-12/release/cxxstd-20-iso/threading-multi/demo"
out=$(timeout 60 "$demo" --workers 3 --n 10)
expected="sum-0: sum of 0..9 = 45
sum-1: sum of 0..10 = 55
sum-2: sum of 0..11 = 66
sum-0 answered 1 call(s)
sum-1 answered 1 call(s)
sum-2 answered 1 call(s)"
[ "$out" = "$expected" ] || { echo "$out"; exit 1; }
