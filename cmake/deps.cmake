# Third-party libraries, all from Debian packages (scripts/deps.sh installs them).
# xxHash is used header-only (XXH_INLINE_ALL), so only its header is needed.
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
target_include_directories(macho_objects PRIVATE ${XXHASH_INCLUDE_DIR})
# The CLI's trace readers (tools/macho/trace.c) inflate gzip and zstd traces;
# only the CLI and the trace tests link them, never libmacho.
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
list(APPEND MACHO_CLI_LIBS PkgConfig::ZLIB PkgConfig::ZSTD)
