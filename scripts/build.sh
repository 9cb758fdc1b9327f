#!/usr/bin/env bash
# Builds every target (release, warnings as errors). Usage: scripts/build.sh [b2 targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/install_deps.sh"
b2 -j"$(nproc)" -q "$@"
