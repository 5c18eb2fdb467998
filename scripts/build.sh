#!/usr/bin/env bash
# Configure and build one flavour of macho into build/FLAVOUR.
#   scripts/build.sh release|asan|tsan
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
case "$flavour" in
  release) extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)    extra=(-DCMAKE_BUILD_TYPE=Debug -DMACHO_SANITIZE=address,undefined -DMACHO_BENCH=OFF) ;;
  tsan)    extra=(-DCMAKE_BUILD_TYPE=Debug -DMACHO_SANITIZE=thread -DMACHO_BENCH=OFF) ;;
  *) echo "usage: scripts/build.sh release|asan|tsan" >&2; exit 2 ;;
esac
cmake -S . -B "build/$flavour" -DMACHO_WERROR=ON "${extra[@]}" >/dev/null
cmake --build "build/$flavour" -j"$(nproc)"
