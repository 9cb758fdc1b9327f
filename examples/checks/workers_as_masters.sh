#!/usr/bin/env bash
source "$(dirname "$0")/common.bash"
expected=""
for i in 0 1 2 3; do for k in 0 1 2; do
  expected+="Primary worker #$i: Secondary worker #$k: pong"$'\n'
done; done
expect_output workers_as_masters "${expected%$'\n'}" --primary 4 --secondary 3
