#!/usr/bin/env bash
# Builds targets (all by default) with the toolset and variant of scripts/toolchain.bash,
# warnings as errors. Usage: [RPCP_TOOLSET=gcc] [RPCP_VARIANT=sanitize] scripts/build.sh [targets]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.bash
scripts/install_deps.sh
b2 -j"$(nproc)" -q "${b2_args[@]}" "$@"
