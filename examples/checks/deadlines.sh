#!/usr/bin/env bash
source "$(dirname "$0")/common.bash"
expect_output deadlines "1. render: timed_out
2. crunch: timed_out
3. race won by the timer
   the worker saw 3 cancellations
4. crash: disconnected; killed by SIGABRT; its last words are in it"
