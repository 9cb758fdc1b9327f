#!/usr/bin/env bash
# The running sums of 0..9 arrive one by one, then the worker closes the stream.
source "$(dirname "$0")/common.bash"
expected=""
for sum in 0 1 3 6 10 15 21 28 36 45; do expected+="Sum_worker.sum: $sum"$'\n'; done
expect_output rpc_direct_pipe "${expected}Closed: by remote side" --max 10 --delay-ms 10
