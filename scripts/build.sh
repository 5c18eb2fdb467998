#!/usr/bin/env bash
# Configure and build one flavour of macho into build/FLAVOUR.
#   scripts/build.sh release|asan|tsan
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
case "$flavour" in
  release) extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  # clang for the ASan + UBSan build: its UBSan also flags arithmetic on NULL
  # (issue 10 defect 10 passed gcc's), and the release build is gcc, so both
  # compilers' warnings are errors somewhere.
  asan)    extra=(-DCMAKE_BUILD_TYPE=Debug -DMACHO_SANITIZE=address,undefined -DMACHO_BENCH=OFF)
           cc=$(command -v clang || true)
           if [ -n "$cc" ]; then extra+=(-DCMAKE_C_COMPILER="$cc"); fi ;;
  tsan)    extra=(-DCMAKE_BUILD_TYPE=Debug -DMACHO_SANITIZE=thread -DMACHO_BENCH=OFF) ;;
  *) echo "usage: scripts/build.sh release|asan|tsan" >&2; exit 2 ;;
esac
# Quiet unless something fails: the full output goes to build/FLAVOUR.log, and
# its last lines are shown when configure or build fails.
mkdir -p build
log="build/$flavour.log"
# A build directory configured with another compiler starts afresh: on a
# compiler change cmake resets the cache and drops the -D options above
# (the sanitizers among them) for that run.
cache="build/$flavour/CMakeCache.txt"
if [ -n "${cc:-}" ] && [ -f "$cache" ] && ! grep -qx "CMAKE_C_COMPILER:[A-Z]*=$cc" "$cache"; then
  rm -rf "build/$flavour"
fi
if ! { cmake -S . -B "build/$flavour" -DMACHO_WERROR=ON "${extra[@]}" &&
       cmake --build "build/$flavour" -j"$(nproc)"; } >"$log" 2>&1; then
  echo "build ($flavour) failed; last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "build ($flavour): ok (log: $log)"
