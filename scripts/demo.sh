#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install what is needed, build,
# and run the demo workload through every policy. Extra arguments go to
# `macho demo` (e.g. --dashboard --seconds 30).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh release >/dev/null
exec build/release/macho demo "$@"
