#!/usr/bin/env bash
# Build the peer harnesses of `macho bench` into OUT_DIR (macho bench runs this
# itself, into BUILD/peers next to the macho binary). Each peer that cannot be
# built here is named with the reason and skipped; scripts/bench-deps.sh
# installs everything they need. Rebuilds only what changed.
#   bench/peers/build.sh OUT_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: bench/peers/build.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
say() { echo "peers: $*"; }

# Caffeine: javac against Debian's jar.
src="$here/caffeine/CaffeineBench.java" cls="$out/caffeine/CaffeineBench.class"
if ! command -v javac >/dev/null 2>&1; then
  say "caffeine skipped: no javac (default-jdk-headless)"
elif [ ! -f /usr/share/java/caffeine.jar ]; then
  say "caffeine skipped: no /usr/share/java/caffeine.jar (libcaffeine-java)"
elif [ ! -f "$cls" ] || [ "$src" -nt "$cls" ]; then
  mkdir -p "$out/caffeine"
  if javac -nowarn -d "$out/caffeine" -cp /usr/share/java/caffeine.jar "$src"; then say "caffeine built"
  else say "caffeine skipped: javac failed"; rm -f "$cls"; fi
fi

# Ristretto and golang-lru: offline, from Debian's packaged Go sources.
gosrc=/usr/share/gocode/src/github.com
bin="$out/go/gobench"
if ! command -v go >/dev/null 2>&1; then
  say "ristretto, golang-lru skipped: no go (golang-go)"
elif [ ! -d "$gosrc/dgraph-io/ristretto" ] || [ ! -d "$gosrc/hashicorp/golang-lru" ]; then
  say "ristretto, golang-lru skipped: golang-github-dgraph-io-ristretto-dev / golang-github-hashicorp-golang-lru-dev missing"
elif [ ! -x "$bin" ] || [ "$here/go/main.go" -nt "$bin" ]; then
  mkdir -p "$out/go"
  rv=$(dpkg-query -W -f='${Version}' golang-github-dgraph-io-ristretto-dev 2>/dev/null || echo unknown)
  lv=$(dpkg-query -W -f='${Version}' golang-github-hashicorp-golang-lru-dev 2>/dev/null || echo unknown)
  if (cd "$here/go" && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$out/go/cache" \
        go build -o "$bin" -ldflags "-X main.ristrettoVersion=$rv -X main.lruVersion=$lv" .); then
    say "ristretto, golang-lru built"
  else
    say "ristretto, golang-lru skipped: go build failed"; rm -f "$bin"
  fi
fi

# lru-cache: nothing to build; npm ci (scripts/bench-deps.sh) puts it in node_modules.
if ! command -v node >/dev/null 2>&1; then say "lru-cache skipped: no node (nodejs)"
elif [ ! -f "$here/node/node_modules/lru-cache/package.json" ]; then
  say "lru-cache skipped: not installed (scripts/bench-deps.sh runs npm ci in bench/peers/node)"
fi
exit 0
