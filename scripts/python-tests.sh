#!/usr/bin/env bash
# The Python binding's test suite with Debian's interpreter (/usr/bin/python3,
# where python3-pytest and python3-hypothesis live): builds the extension from
# the library sources into a private temporary directory (so concurrent runs
# never share build files), then runs pytest on python/tests.
# Needs only what scripts/deps.sh installs. Extra arguments go to pytest.
# MACHO_PY_SANITIZE=1 builds the extension with ASan+UBSan and preloads them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${MACHO_PYTHON:-/usr/bin/python3}
out=$(mktemp -d "${TMPDIR:-/tmp}/macho-python.XXXXXX")
trap 'rm -rf "$out"' EXIT
echo "python-tests: building the extension with $PY ($($PY --version 2>&1))"
preload=""
if [ -n "${MACHO_PY_SANITIZE:-}" ]; then
  export CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address,undefined"
  preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
fi
(cd python && "$PY" setup.py -q \
    build_py --build-lib "$out/lib" \
    build_ext --build-lib "$out/lib" --build-temp "$out/tmp" -j 2) >"$out/build.log" 2>&1 \
  || { cat "$out/build.log"; echo "python-tests: build failed"; exit 1; }
LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
PYTHONPATH="$out/lib" PYTHONDONTWRITEBYTECODE=1 "$PY" -m pytest python/tests -q -rs -p no:cacheprovider "$@"
