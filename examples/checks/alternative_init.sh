#!/usr/bin/env bash
source "$(dirname "$0")/common.bash"
expect_output alternative_init "Success." main
# The worker subcommand refuses to run by hand.
if timeout 10 "$examples/alternative_init" worker </dev/null 2>/dev/null; then exit 1; fi
