# Shared by the example checks: the example binaries and an output comparison.
set -euo pipefail
examples="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bin/examples/gcc-12/release/cxxstd-20-iso/threading-multi"

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

# What the demo prints for `--workers 3 --n 10`, wherever its workers run.
demo_expected="sum-0: sum of 0..9 = 45
sum-1: sum of 0..10 = 55
sum-2: sum of 0..11 = 66
sum-0 answered 1 call(s)
sum-1 answered 1 call(s)
sum-2 answered 1 call(s)"
demo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bin/app_template/gcc-12/release/cxxstd-20-iso/threading-multi/demo"
