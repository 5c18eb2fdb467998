#!/usr/bin/env bash
# Run the libFuzzer targets of fuzz/ (fuzz/README.md).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# SECONDS per target (default 10); TARGET is fuzz_NAME or NAME (default: every
# fuzz/fuzz_*.c). Builds build/fuzz (clang, -fsanitize=fuzzer,address,undefined)
# when needed, then runs each target on a temporary copy of fuzz/corpus/NAME
# with a fixed -seed, one target at a time, and prints one summary line each.
# Exits non-zero when any target finds a crash, leak, timeout or divergence;
# the input that did it is kept under build/fuzz/artifacts/NAME/ (path
# printed, with the command that replays it).
# Environment: MACHO_TEST_SEED=N|random (default 1), MACHO_FUZZ_RUNS=N (stop each
# target after N inputs as well: the same budget on every machine, whatever its
# speed; the test command uses it), FUZZ_TIMEOUT (seconds one
# input may take, default 25), FUZZ_KEEP_CORPUS=1 (keep the grown corpus copy).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-10}
[ $# -gt 0 ] && shift
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
seed=${MACHO_TEST_SEED:-1}
if [ "$seed" = random ]; then seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); fi
if ! [[ "$seed" =~ ^[0-9]+$ ]]; then
  echo "fuzz: MACHO_TEST_SEED must be a number or 'random'" >&2
  exit 2
fi

targets=()
if [ $# -gt 0 ]; then
  for t in "$@"; do
    t=${t#fuzz_}
    if [ ! -f "fuzz/fuzz_$t.c" ]; then
      echo "fuzz: no target fuzz/fuzz_$t.c" >&2
      exit 2
    fi
    targets+=("fuzz_$t")
  done
else
  for f in fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets in fuzz/" >&2
  exit 1
fi

# Build (quiet unless it fails, as scripts/build.sh).
mkdir -p build
log=build/fuzz.log
# Configure every time (cheap): a target added since the last run needs the glob re-read.
if [ -f build/fuzz/CMakeCache.txt ]; then cfg=(-S . -B build/fuzz)
else cfg=(-S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DMACHO_FUZZ=ON -DMACHO_TESTS=OFF -DMACHO_BENCH=OFF
          -DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
if ! { cmake "${cfg[@]}" && cmake --build build/fuzz -j"$(nproc)" --target "${targets[@]}"; } >"$log" 2>&1; then
  echo "build (fuzz) failed; last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
budget="${secs}s per target"
[ -n "${MACHO_FUZZ_RUNS:-}" ] && budget="$MACHO_FUZZ_RUNS inputs per target (at most ${secs}s)"
echo "build (fuzz): ok (log: $log); seed $seed, $budget (MACHO_TEST_SEED=N|random)"

work=$(mktemp -d "${TMPDIR:-/tmp}/macho-fuzz.XXXXXX")
keep=${FUZZ_KEEP_CORPUS:-0}
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

failed=0
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  exe=build/fuzz/fuzz/$t
  corpus=$work/$name
  mkdir -p "$corpus"
  if [ -d "fuzz/corpus/$name" ]; then cp -r "fuzz/corpus/$name/." "$corpus/"; fi
  n0=$(find "$corpus" -type f | wc -l)
  artifacts=build/fuzz/artifacts/$name
  mkdir -p "$artifacts" build/fuzz/logs
  tlog=build/fuzz/logs/$name.log
  opts=(-seed="$seed" -max_total_time="$secs" -print_final_stats=1 -timeout="${FUZZ_TIMEOUT:-25}"
        -rss_limit_mb=2048 -artifact_prefix="$artifacts/" -close_fd_mask=1)
  [ -n "${MACHO_FUZZ_RUNS:-}" ] && opts+=(-runs="$MACHO_FUZZ_RUNS")
  [ -f "fuzz/$name.dict" ] && opts+=(-dict="fuzz/$name.dict")
  # fuzz/NAME.options: extra libFuzzer flags, one per line (e.g. -max_len=8192).
  if [ -f "fuzz/$name.options" ]; then
    while IFS= read -r line; do [ -n "$line" ] && [ "${line#\#}" = "$line" ] && opts+=("$line"); done \
      <"fuzz/$name.options"
  fi
  rc=0
  "$exe" "${opts[@]}" "$corpus" >"$tlog" 2>&1 || rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: +[0-9]+' "$tlog" | tail -1 | grep -o '[0-9]*$' || true)
  eps=$(grep -oE 'stat::average_exec_per_sec: +[0-9]+' "$tlog" | tail -1 | grep -o '[0-9]*$' || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$tlog" | tail -1 || true)
  n1=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    echo "$t: ok, ${execs:-?} executions (${eps:-?}/s), ${cov:-cov ?}, corpus $n0 -> $n1 inputs"
  else
    failed=$((failed + 1))
    what=$(grep -m1 -oE 'FUZZ FAILURE.*|Assertion .*|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [^ ]+.*|runtime error: .*|ALARM: working on the last Unit.*|out-of-memory.*' "$tlog" | head -1 || true)
    unit=$(grep -oE '(Test unit|artifact) written to [^ ]+' "$tlog" | tail -1 | awk '{print $NF}' || true)
    # The report: from the first line that names the failure (stack frames of
    # libFuzzer itself left out), then the lines that locate the input.
    echo "---- $tlog ----"
    awk '/divergence at step|FUZZ FAILURE|Assertion|ERROR: |runtime error:|ALARM:/ {on=1} on' "$tlog" |
      grep -vE '^ +#[0-9]+ 0x[0-9a-f]+ in (fuzzer::|__libc_start|_start|main )' | head -n 60
    echo "...."
    tail -n 6 "$tlog"
    echo "----"
    echo "$t: FAILED (exit $rc): ${what:-see $tlog}"
    echo "$t: input: ${unit:-none written}; replay: $exe ${unit:-<input>}; log: $tlog"
  fi
done
[ "$keep" = 1 ] && echo "fuzz: grown corpora kept in $work"
if [ "$failed" -gt 0 ]; then
  echo "fuzz: $failed of ${#targets[@]} targets FAILED"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean"
