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
# Every host has a writable directory that refuses to execute (noexec_dir); /tmp executes.
noexec=$(cat "$RPCP_TEST_HOSTS_DIR/noexec_dir")
for h in "${hosts[@]}"; do
  ssh -F "$cfg" "$h" "cp /bin/true $noexec/true-$$ && cp /bin/true /tmp/true-$$ && /tmp/true-$$ &&
    ! $noexec/true-$$ 2>/dev/null; status=\$?; rm -f $noexec/true-$$ /tmp/true-$$; exit \$status"
done
# The key no host accepts is refused (a config of its own: IdentityFile lines add up).
ssh_field() { ssh -G -F "$cfg" "${hosts[0]}" | awk -v k="$1" '$1 == k {print $2}'; }
if ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$RPCP_TEST_HOSTS_DIR/wrong_key" \
     -o UserKnownHostsFile="$RPCP_TEST_HOSTS_DIR/known_hosts" -p "$(ssh_field port)" \
     "rpcptest@$(ssh_field hostname)" true 2>/dev/null; then
  echo "test_hosts.sh: ${hosts[0]} accepted wrong_key" >&2
  exit 1
fi
if [ "$(cat "$RPCP_TEST_HOSTS_DIR/mode")" = namespaces ]; then
  names=$(for h in "${hosts[@]}"; do ssh -F "$cfg" "$h" hostname; done | sort -u | wc -l)
  [ "$names" -eq 3 ]
  # Another host, and this machine, do not see the first host's /tmp.
  ssh -F "$cfg" "${hosts[1]}" "test ! -e /tmp/$marker"
  [ ! -e "/tmp/$marker" ]
  # Hosts reach each other (a worker on one host calls a worker on another).
  ssh -F "$cfg" "${hosts[1]}" "bash -c 'exec 3<>/dev/tcp/10.200.0.2/22 && head -c 4 <&3'" | grep -q SSH-
fi
