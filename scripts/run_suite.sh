#!/usr/bin/env bash
# One leg of the tests: builds everything with the toolset and variant of scripts/toolchain.bash,
# runs every test binary and every check, and ends with "N passed, M failed" for this leg.
# Under RPCP_VARIANT=sanitize every process (the tests, the examples and each local worker they
# start) writes its ASan/UBSan report to a folder of this leg's; each report is printed and fails
# the test binary or check that produced it.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.bash
echo "### leg: $RPCP_TOOLSET $RPCP_VARIANT"
# No test runs the benchmark: only the default leg builds it, to keep it compiling (a sanitizer
# build of it would measure nothing, and a g++ one costs the gcc leg a minute).
targets=()
[ "$RPCP_TOOLSET/$RPCP_VARIANT" = clang/release ] || targets=(framework remote app_template examples tests)
build_start=$SECONDS
scripts/build.sh "${targets[@]}" || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
echo "   build: $((SECONDS - build_start)) s"

reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
sanitizer_logs="$reports/sanitizer"
mkdir -m 1777 "$sanitizer_logs"
if [ "$RPCP_VARIANT" = sanitize ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-16/bin/llvm-symbolizer
  export ASAN_OPTIONS="log_path=$sanitizer_logs/asan:detect_leaks=1"
  export UBSAN_OPTIONS="log_path=$sanitizer_logs/ubsan:print_stacktrace=1:halt_on_error=1"
fi
# sanitizer_clean NAME: true when no process left a report since the last call; else prints them.
sanitizer_clean() {
  local logs=("$sanitizer_logs"/*)
  [ -e "${logs[0]}" ] || return 0
  echo "   sanitizer reports from $1:"
  for log in "${logs[@]}"; do sed 's/^/   | /' "$log"; rm -f "$log"; done
  return 1
}

passed=0 failed=0 failures=()
for test in "$(bin_dir tests)"/*_test; do
  name=$(basename "$test")
  echo "== $name"
  timeout 600 "$test" --report_format=XML --report_level=detailed --report_sink="$reports/$name.xml" \
    --log_level=error
  counted=$(python3 scripts/count_cases.py "$reports/$name.xml" "$test")
  read -r p f <<< "$counted"
  while IFS= read -r line; do failures+=("$line"); done < <(tail -n +2 <<< "$counted")
  sanitizer_clean "$name" || { f=$((f + 1)); failures+=("failed: $name (sanitizer reports)"); }
  echo "   $p passed, $f failed"
  passed=$((passed + p)) failed=$((failed + f))
done

checks=(examples/checks/*.sh)
# remote/checks test the sshd hosts and the portable variant, not a compiler, and the format
# check reads sources only: the default leg runs them.
[ "$RPCP_TOOLSET/$RPCP_VARIANT" = clang/release ] && checks+=(remote/checks/*.sh scripts/check_format.sh)
for check in "${checks[@]}"; do
  name=$(basename "$check" .sh)
  timeout 300 "$check" > "$reports/$name.log" 2>&1; status=$?
  sanitizer_clean "$name" >> "$reports/$name.log" || status=1
  if [ $status -eq 0 ]; then
    echo "== check $name: passed"; passed=$((passed + 1))
  else
    echo "== check $name: FAILED"; sed 's/^/   /' "$reports/$name.log"; failed=$((failed + 1))
    failures+=("failed: check $name")
  fi
done

# What failed, once more at the end, where a reader of a long log's tail sees it.
[ ${#failures[@]} -eq 0 ] || printf '%s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
