# Shared by the example checks: the example binaries and an output comparison.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/toolchain.bash"
examples="$(bin_dir examples)"

# expect_output NAME EXPECTED ARGS...: runs the example and diffs its stdout against EXPECTED.
expect_output() {
  local name=$1 expected=$2
  shift 2
  local actual
  actual=$(timeout 60 "$examples/$name" "$@")
  if [ "$actual" != "$expected" ]; then
    echo "$name printed:"; echo "$actual"; echo "expected:"; echo "$expected"
    diff <(echo "$expected") <(echo "$actual") || true
    return 1
  fi
}

# What the demo prints (the primes below its default 2,000,000), however many workers it has
# and wherever they run. Its progress bar shows only on a terminal.
demo_expected="primes below 2000000: 148933"
demo="$(bin_dir app_template)/demo"
