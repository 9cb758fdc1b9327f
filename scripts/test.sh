#!/usr/bin/env bash
# Builds everything, runs every test binary and every example check, and ends with the line
# "N passed, M failed" counting all test cases.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

bin=bin/tests/gcc-12/release/cxxstd-20-iso/threading-multi
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
passed=0 failed=0
for test in "$bin"/*_test; do
  name=$(basename "$test")
  echo "== $name"
  timeout 600 "$test" --report_format=XML --report_level=detailed --report_sink="$reports/$name.xml" \
    --log_level=error
  read -r p f < <(python3 scripts/count_cases.py "$reports/$name.xml" "$test")
  echo "   $p passed, $f failed"
  passed=$((passed + p)) failed=$((failed + f))
done

for check in examples/checks/*.sh remote/checks/*.sh; do
  [ -e "$check" ] || continue
  name=$(basename "$check" .sh)
  if timeout 300 "$check" > "$reports/$name.log" 2>&1; then
    echo "== check $name: passed"; passed=$((passed + 1))
  else
    echo "== check $name: FAILED"; sed 's/^/   /' "$reports/$name.log"; failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
