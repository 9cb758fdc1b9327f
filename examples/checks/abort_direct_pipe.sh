#!/usr/bin/env bash
# Five ping-pongs, then the master's abort closes the worker's end of the stream.
source "$(dirname "$0")/common.bash"
expected=""
for i in 0 1 2 3 4; do expected+="Ping: $i"$'\n'"Pong: $i"$'\n'; done
expect_output abort_direct_pipe "${expected}Closed: by remote side
Worker reports pongs closed" --n 5
