#!/usr/bin/env bash
# Builds and runs the demo app on local workers (one per core). Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.bash
scripts/build.sh app_template
exec "$(bin_dir app_template)/demo" "$@"
