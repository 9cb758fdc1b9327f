#!/usr/bin/env bash
# Every test, in every leg, and one closing line "N passed, M failed" over all of them:
#   clang     clang 16 release (the default build): test binaries, example and remote checks
#   gcc       g++ 12 release: test binaries and example checks
#   sanitize  clang 16 with ASan + UBSan: test binaries and example checks; a report from any
#             process fails the test that caused it
#   install   `b2 install` to a temporary prefix, then app_template copied out of this tree and
#             built against it with b2, with CMake and with pkg-config, each run
# Usage: scripts/test.sh [LEG...]   (every leg by default, in the order above)
set -uo pipefail
cd "$(dirname "$0")/.."
legs=("$@")
[ ${#legs[@]} -gt 0 ] || legs=(clang gcc sanitize install)
scripts/install_deps.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 summary=() summary_failures=()
for leg in "${legs[@]}"; do
  start=$SECONDS
  case "$leg" in
    clang) command=(env RPCP_TOOLSET=clang RPCP_VARIANT=release scripts/run_suite.sh) ;;
    gcc) command=(env RPCP_TOOLSET=gcc RPCP_VARIANT=release scripts/run_suite.sh) ;;
    sanitize) command=(env RPCP_TOOLSET=clang RPCP_VARIANT=sanitize scripts/run_suite.sh) ;;
    install) command=(scripts/check_install.sh) ;;
    *) echo "unknown leg '$leg' (clang, gcc, sanitize or install)" >&2; exit 2 ;;
  esac
  log=$(mktemp) p="" f=""
  "${command[@]}" 2>&1 | tee "$log"
  # The leg's own closing line; a leg that died before printing one counts as one failure.
  read -r p f < <(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 | awk '{print $1, $3}')
  while IFS= read -r line; do summary_failures+=("$leg: ${line#failed: }"); done \
    < <(grep -E '^failed: ' "$log")
  rm -f "$log"
  [ -n "${p:-}" ] || { p=0; f=1; }
  passed=$((passed + p)) failed=$((failed + f))
  summary+=("$leg: $p passed, $f failed, $((SECONDS - start)) s")
done

echo "### legs"
printf '  %s\n' "${summary[@]}"
[ ${#summary_failures[@]} -eq 0 ] || { echo "### failed"; printf '  %s\n' "${summary_failures[@]}"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
