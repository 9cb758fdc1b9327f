#!/usr/bin/env bash
source "$(dirname "$0")/common.bash"
expect_output serve "Success."
