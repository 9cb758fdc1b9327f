#!/usr/bin/env bash
# The demo with --remote: one local worker plus two on each of two real sshd hosts
# (remote/test_hosts), every one of them started (the demo would go on without one that fails).
source "$(dirname "$0")/common.bash"
root="$(cd "$(dirname "$0")/../.." && pwd)"
export RPCP_TEST_HOSTS_DIR=/run/rpcp-test-hosts-demo
err=$(mktemp)
trap 'rm -f "$err"; "$root/remote/test_hosts/teardown.sh"' EXIT
"$root/remote/test_hosts/setup.sh" 2 >/dev/null
out=$(timeout 60 "$demo" --workers 1 --remote rpcp-h1 rpcp-h2 --remote-workers 2 \
  --ssh-config "$RPCP_TEST_HOSTS_DIR/ssh_config" 2>"$err")
[ "$out" = "$demo_expected" ] || { echo "$out"; cat "$err"; exit 1; }
! grep -q "could not start" "$err" || { cat "$err"; exit 1; }
