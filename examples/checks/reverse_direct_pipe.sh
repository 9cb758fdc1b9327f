#!/usr/bin/env bash
# The same shards as reverse_pipe.sh, fed by writer functions instead of ranges.
source "$(dirname "$0")/common.bash"
expected=""
for i in 0 1 2 3 4 5 6 7 8 9; do
  expected+="shard $i got 100 numbers, $i to $((990 + i)), sum $((49500 + 100 * i))"$'\n'
done
expect_output reverse_direct_pipe "${expected%$'\n'}"
