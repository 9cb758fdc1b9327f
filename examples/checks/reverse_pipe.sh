#!/usr/bin/env bash
# Shard i gets the numbers equal to i mod 10 among 0..999: 100 of them, i to 990+i.
source "$(dirname "$0")/common.bash"
expected=""
for i in 0 1 2 3 4 5 6 7 8 9; do
  expected+="shard $i got 100 numbers, $i to $((990 + i)), sum $((49500 + 100 * i))"$'\n'
done
expect_output reverse_pipe "${expected%$'\n'}"
