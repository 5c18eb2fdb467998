#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR -- install macho into a temporary prefix
# and build the README's quick start against it twice, as a user would: once
# with CMake's find_package(macho), once with pkg-config; run both.
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null

# 1. CMake consumer
mkdir -p "$work/cmake-app"
cp "$src/examples/quickstart.c" "$work/cmake-app/"
cat >"$work/cmake-app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(macho 0.1 REQUIRED)
add_executable(app quickstart.c)
target_link_libraries(app PRIVATE macho::macho)
add_executable(app_static quickstart.c)
target_link_libraries(app_static PRIVATE macho::macho_static)
CMAKE
cmake -S "$work/cmake-app" -B "$work/cmake-app/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-app/build" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libmacho.so*' | head -n1)")
LD_LIBRARY_PATH=$libdir "$work/cmake-app/build/app" | grep -q "user:42 -> Ada Lovelace"
"$work/cmake-app/build/app_static" | grep -q "user:42 -> Ada Lovelace"
echo "find_package(macho): ok"

# 2. pkg-config consumer (the .pc file is relocatable: it finds its prefix itself)
pc=$(dirname "$(find "$prefix" -name macho.pc | head -n1)")
cc_flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs macho)
cc -Wall -Wextra -Werror "$src/examples/quickstart.c" $cc_flags -o "$work/app-pc"
LD_LIBRARY_PATH=$libdir "$work/app-pc" | grep -q "user:42 -> Ada Lovelace"
# Static: libmacho.a plus what Libs.private says it needs.
private_libs=$(PKG_CONFIG_PATH=$pc pkg-config --static --libs-only-l macho | sed 's/-lmacho\b//')
cc "$src/examples/quickstart.c" $(PKG_CONFIG_PATH=$pc pkg-config --cflags macho) "$libdir/libmacho.a" \
  $private_libs -o "$work/app-pc-static"
"$work/app-pc-static" | grep -q "user:42 -> Ada Lovelace"
echo "pkg-config macho: ok"

# 3. the installed CLI runs
"$prefix/bin/macho" --version >/dev/null
echo "installed macho CLI: ok"
