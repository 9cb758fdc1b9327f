#!/usr/bin/env bash
# Every C++ file is as clang-format 16 writes it (.clang-format). To fix: run this with --fix.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if [ "${1:-}" = --fix ]; then exec clang-format-16 -i --style=file "${files[@]}"; fi
clang-format-16 --dry-run -Werror --style=file "${files[@]}"
