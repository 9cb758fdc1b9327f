#!/usr/bin/env bash
# Builds and runs the demo app on local workers (one per core). Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh app_template
exec bin/app_template/gcc-12/release/cxxstd-20-iso/threading-multi/demo "$@"
