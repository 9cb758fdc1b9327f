#!/usr/bin/env bash
# The remote tests' hosts are real and separate: each answers ssh as the unprivileged test
# user, has its own hostname and its own /tmp, and they reach each other over the bridge.
set -euo pipefail
here=$(cd "$(dirname "$0")/../test_hosts" && pwd)
export RPCP_TEST_HOSTS_DIR=/run/rpcp-test-hosts-check
trap '"$here/teardown.sh"' EXIT
mapfile -t hosts < <("$here/setup.sh" 3)
[ "${#hosts[@]}" -eq 3 ]
cfg="$RPCP_TEST_HOSTS_DIR/ssh_config"
marker="rpcp-check-$$"
ssh -F "$cfg" "${hosts[0]}" "touch /tmp/$marker"
ssh -F "$cfg" "${hosts[0]}" "test -e /tmp/$marker"
[ "$(ssh -F "$cfg" "${hosts[0]}" id -un)" = rpcptest ]
if [ "$(cat "$RPCP_TEST_HOSTS_DIR/mode")" = namespaces ]; then
  names=$(for h in "${hosts[@]}"; do ssh -F "$cfg" "$h" hostname; done | sort -u | wc -l)
  [ "$names" -eq 3 ]
  # Another host, and this machine, do not see the first host's /tmp.
  ssh -F "$cfg" "${hosts[1]}" "test ! -e /tmp/$marker"
  [ ! -e "/tmp/$marker" ]
  # Hosts reach each other (a worker on one host calls a worker on another).
  ssh -F "$cfg" "${hosts[1]}" "bash -c 'exec 3<>/dev/tcp/10.200.0.2/22 && head -c 4 <&3'" | grep -q SSH-
fi
