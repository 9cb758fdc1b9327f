#!/usr/bin/env bash
# The demo with --remote: its workers run on two real sshd hosts (remote/test_hosts).
source "$(dirname "$0")/common.bash"
root="$(cd "$(dirname "$0")/../.." && pwd)"
export RPCP_TEST_HOSTS_DIR=/run/rpcp-test-hosts-demo
trap '"$root/remote/test_hosts/teardown.sh"' EXIT
"$root/remote/test_hosts/setup.sh" 2 >/dev/null
demo="$root/bin/app_template/gcc-12/release/cxxstd-20-iso/threading-multi/demo"
out=$(timeout 60 "$demo" --workers 3 --n 10 --remote rpcp-h1 rpcp-h2 --ssh-config "$RPCP_TEST_HOSTS_DIR/ssh_config")
expected="sum-0: sum of 0..9 = 45
sum-1: sum of 0..10 = 55
sum-2: sum of 0..11 = 66
sum-0 answered 1 call(s)
sum-1 answered 1 call(s)
sum-2 answered 1 call(s)"
[ "$out" = "$expected" ] || { echo "$out"; exit 1; }
