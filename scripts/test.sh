#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it
# needs, builds, and runs every test:
#   1. release build (-Werror), every ctest suite
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build, every ctest suite
#   3. ThreadSanitizer build, the concurrency suites (ctest label "concurrency")
#   4. the Python binding's pytest suite (Debian's /usr/bin/python3), browser tests included
#   5. every libFuzzer target of fuzz/ on 3000 inputs each, fixed seed (scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
export CTEST_OUTPUT_ON_FAILURE=1

# Comparisons that could not run (a trace missing from ../shared, gnuplot
# absent) pass as cmocka skips inside a passing suite; name and count them so
# that a skip is never silent (docs/RELIABILITY.md, "Test hygiene").
report_skips() {
  local log="build/$1/Testing/Temporary/LastTest.log" n
  [ -f "$log" ] || return 0
  n=$(grep -cE '^\[  SKIPPED \]|^# SKIPPED' "$log" || true)
  if [ "$n" -gt 0 ]; then
    echo "-- $1: $n skipped case(s)/comparison(s):"
    grep -E '^\[  SKIPPED \]|^# SKIPPED' "$log" | sort | uniq -c | sed 's/^/   /'
  fi
}

echo "== release build =="
scripts/build.sh release
ctest --test-dir build/release -j"$(nproc)"
report_skips release

echo "== ASan + UBSan build =="
scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 MACHO_SANITIZED=1 \
  ctest --test-dir build/asan -j"$(nproc)"
report_skips asan

echo "== TSan build (concurrency suites) =="
scripts/build.sh tsan
TSAN_OPTIONS=halt_on_error=1 MACHO_SANITIZED=1 ctest --test-dir build/tsan -L concurrency
report_skips tsan

if [ -x scripts/python-tests.sh ]; then
  echo "== Python binding =="
  scripts/python-tests.sh
fi

echo "== dashboard in a real browser (headless Chromium) =="
MACHO_CLI="$PWD/build/release/macho" /usr/bin/python3 -m pytest tests/browser -q -p no:cacheprovider

echo "== fuzz =="
# A fixed number of inputs per target (and a generous time cap) with the fixed
# seed: a slow or loaded machine tries as many inputs as a fast one (targets
# with threads or a real clock still vary a little from run to run). Longer, fresh runs:
# MACHO_TEST_SEED=random scripts/fuzz.sh 600 (fuzz/README.md).
MACHO_FUZZ_RUNS="${MACHO_FUZZ_RUNS:-3000}" scripts/fuzz.sh "${MACHO_FUZZ_SECONDS:-60}"
