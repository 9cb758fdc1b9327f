#!/usr/bin/env bash
# The demo with --remote: its workers run on two real sshd hosts (remote/test_hosts).
source "$(dirname "$0")/common.bash"
root="$(cd "$(dirname "$0")/../.." && pwd)"
export RPCP_TEST_HOSTS_DIR=/run/rpcp-test-hosts-demo
trap '"$root/remote/test_hosts/teardown.sh"' EXIT
"$root/remote/test_hosts/setup.sh" 2 >/dev/null
out=$(timeout 60 "$demo" --workers 3 --n 10 --remote rpcp-h1 rpcp-h2 --ssh-config "$RPCP_TEST_HOSTS_DIR/ssh_config")
[ "$out" = "$demo_expected" ] || { echo "$out"; exit 1; }
