#!/usr/bin/env bash
# Installs every Debian package petpipe needs (idempotent), then configures and builds.
# Usage: scripts/setup.sh [--no-build] [--build-dir DIR] [--werror]
# --werror configures with -DPETPIPE_WERROR=ON (a warning in petpipe's own code fails the build; used by
# scripts/test.sh). Without it the build directory keeps whatever it was configured with.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${PETPIPE_BUILD_DIR:-build}
DO_BUILD=1
WERROR=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) DO_BUILD=0 ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --werror) WERROR=(-DPETPIPE_WERROR=ON) ;;
    *) echo "setup.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# Build and runtime libraries, the templates/atlas, and what the tests use (python3-* and chromium are
# used only by tests and benchmark scripts, never at run time).
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git bsdextrautils
  libinsighttoolkit5-dev libeigen3-dev libboost-program-options-dev libhdf5-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev slurm-wlm munge
  mricron-data
  python3 python3-numpy python3-scipy python3-nibabel python3-statsmodels
  python3-pil python3-matplotlib chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$DO_BUILD" = 1 ]; then
  launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "${WERROR[@]}" -Wno-dev >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)"
fi
