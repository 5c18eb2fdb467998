#!/usr/bin/env bash
# Install every peer that `macho bench` compares macho with (docs/BENCHMARKS.md,
# "macho bench"): a JDK and Caffeine, Go with Ristretto and hashicorp golang-lru
# (built offline from Debian's packaged sources), Node and lru-cache (npm, into
# bench/peers/node from the committed lockfile), Redis and memcached (memory per
# item only). Idempotent; needs root (or sudo). The test suite does not need any
# of this: each missing peer is skipped by the benchmark with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
PKGS=(
  default-jdk-headless libcaffeine-java
  golang-go golang-github-dgraph-io-ristretto-dev golang-github-hashicorp-golang-lru-dev
  nodejs npm
  redis-server memcached
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs from another repository (nodesource) ships npm itself: skip Debian's npm then.
if command -v npm >/dev/null 2>&1; then
  kept=(); for p in "${missing[@]}"; do [ "$p" = npm ] || kept+=("$p"); done; missing=("${kept[@]}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The Debian services would start on their default ports; the benchmark starts its
# own servers on free loopback ports, so stop the system ones if apt started them.
for svc in redis-server memcached; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
# node lru-cache, exactly the versions of the committed lockfile.
(cd bench/peers/node && npm ci --no-audit --no-fund --silent)
echo "bench-deps: ok (build the harnesses with bench/peers/build.sh, or let macho bench do it)"
