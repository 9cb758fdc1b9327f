#!/usr/bin/env bash
# The README's demo: primes below 2,000,000 counted on three local workers, and below 100 on one.
source "$(dirname "$0")/common.bash"
out=$(timeout 60 "$demo" --workers 3)
[ "$out" = "$demo_expected" ] || { echo "$out"; exit 1; }
out=$(timeout 60 "$demo" --workers 1 --below 100)
[ "$out" = "primes below 100: 25" ] || { echo "$out"; exit 1; }
