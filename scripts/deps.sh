#!/usr/bin/env bash
# Install every Debian package macho needs to build, test and benchmark.
# Idempotent: does nothing when all are present. Needs root (or sudo).
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev valgrind
  libxxhash-dev libcmocka-dev libmicrohttpd-dev libjs-chart.js zlib1g-dev libzstd-dev liblzma-dev gnuplot-nox
  libunistring-dev  # gnutls.pc's Libs.private: `pkg-config --static --libs macho` links it
  python3 python3-dev python3-pytest python3-hypothesis python3-setuptools python3-wheel python3-pip
  python3-cachetools python3-selenium chromium chromium-driver curl
  python3-lru-dict mypy
  libhiredis-dev redis-server
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
