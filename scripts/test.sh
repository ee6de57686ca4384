#!/usr/bin/env bash
# Builds petpipe (installing dependencies first; warnings in petpipe's own code are errors) and runs every
# test through ctest.
# Usage: scripts/test.sh [ctest arguments, e.g. -L unit or -R Smooth]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${PETPIPE_BUILD_DIR:-build}
scripts/setup.sh --build-dir "$BUILD_DIR" --werror
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@"
