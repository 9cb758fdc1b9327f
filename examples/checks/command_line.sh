#!/usr/bin/env bash
# app::run's command line: the user's options and the framework's --rpc-* in --help; bad
# options and bad settings exit 2 with a message naming what is wrong, before any worker runs.
source "$(dirname "$0")/common.bash"
bin="$examples/workers_as_masters"
help=$("$bin" --help)
grep -q -- "--primary" <<<"$help"
grep -q -- "--rpc-heartbeat-timeout-ms" <<<"$help"
set +e
err=$("$bin" --bogus 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unrecognised option '--bogus'" <<<"$err" || exit 1
err=$(RPC_PARALLEL_RPC_SETTINGS=heartbeat=3s "$bin" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q 'unknown field "heartbeat"' <<<"$err" || exit 1
err=$("$bin" --rpc-heartbeat-interval-ms 0 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "must be positive" <<<"$err" || exit 1
# The environment overrides the command line, field by field.
out=$(RPC_PARALLEL_RPC_SETTINGS=max_message_size=100000000 "$bin" --rpc-max-message-size 1 --primary 1 --secondary 1 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "Secondary worker #0: pong" <<<"$out" || exit 1
