#!/usr/bin/env bash
# `b2 variant=portable` builds a demo that needs no shared library but glibc, and that binary
# runs its workers on a real sshd host.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/examples/checks/common.bash"
cd "$root"
RPCP_VARIANT=portable scripts/build.sh app_template > /dev/null
portable=$(RPCP_VARIANT=portable; bin_dir app_template)/demo
shared=$(ldd "$portable")
if grep -Eq 'libboost|libsodium|libstdc\+\+|libgcc_s' <<< "$shared"; then
  echo "the portable demo still loads:"; echo "$shared"; exit 1
fi
export RPCP_TEST_HOSTS_DIR=/run/rpcp-test-hosts-portable
trap '"$root/remote/test_hosts/teardown.sh"' EXIT
"$root/remote/test_hosts/setup.sh" 1 > /dev/null
out=$(timeout 60 "$portable" --workers 1 --remote rpcp-h1 --ssh-config "$RPCP_TEST_HOSTS_DIR/ssh_config")
[ "$out" = "$demo_expected" ] || { echo "$out"; exit 1; }
