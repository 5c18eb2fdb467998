#!/usr/bin/env bash
# Build a wheel of macho offline, for any CPython >= 3.9 with setuptools.
#   python/build-wheel.sh [PYTHON] [OUTDIR]      (defaults: /usr/bin/python3, .)
# Debian's /usr/bin/python3 has setuptools and wheel (python3-setuptools,
# python3-wheel): this is `python3 -m pip wheel ./python`. An interpreter
# without the `wheel` package (the pyenv python3 on this machine) borrows
# Debian's: only that package and its metadata are put on PYTHONPATH (Debian's
# setuptools carries Debian-only patches), and pip builds without isolation.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${1:-/usr/bin/python3}
out=${2:-.}
if "$py" -c "import wheel" 2>/dev/null; then
  exec "$py" -m pip wheel --no-index "$here" -w "$out"
fi
debian=/usr/lib/python3/dist-packages
if [ ! -d "$debian/wheel" ]; then
  echo "build-wheel: $py has no 'wheel' package and Debian's python3-wheel is not installed" >&2
  exit 1
fi
borrow=$(mktemp -d "${TMPDIR:-/tmp}/macho-wheel.XXXXXX")
trap 'rm -rf "$borrow"' EXIT
ln -s "$debian/wheel" "$borrow/"
for meta in "$debian"/wheel-*info; do ln -s "$meta" "$borrow/"; done
PYTHONPATH="$borrow" "$py" -m pip wheel --no-build-isolation --no-index "$here" -w "$out"
