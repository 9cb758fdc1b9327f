#!/usr/bin/env bash
# Both subscriptions get the message kept from initialisation and the first message; only the
# second, still open, gets the message written after the first was closed.
source "$(dirname "$0")/common.bash"
expect_output async_log "subscription 1: info: worker initialised
subscription 1: info: worker log message
subscription 2: info: worker initialised
subscription 2: info: worker log message
subscription 2: info: worker log message"
