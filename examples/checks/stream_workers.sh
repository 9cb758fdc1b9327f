#!/usr/bin/env bash
# Every number reaches the master exactly once, through whichever forwarder it was handed to.
source "$(dirname "$0")/common.bash"
expect_output stream_workers "Ok."
expect_output stream_workers "Ok." --num-workers 3 --num-elts 100000
