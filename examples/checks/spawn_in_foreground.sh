#!/usr/bin/env bash
source "$(dirname "$0")/common.bash"
expect_output spawn_in_foreground "[WORKER STDERR]: about to be closed
[WORKER STDOUT]: HELLO
[WORKER STDOUT]: HELLO2
exit status 0"
