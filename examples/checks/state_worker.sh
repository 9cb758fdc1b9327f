#!/usr/bin/env bash
# The state, then its ten updates in order, then both together.
source "$(dirname "$0")/common.bash"
expected='state: "hello world "'$'\n'
for c in a b c d e f g h i j; do expected+="update: $c"$'\n'; done
expect_output state_worker "${expected}final: \"hello world abcdefghij\""
