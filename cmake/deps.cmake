# Third-party libraries, all from Debian packages (scripts/deps.sh installs them).
# xxHash is used header-only (XXH_INLINE_ALL), so only its header is needed.
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
target_include_directories(macho_objects PRIVATE ${XXHASH_INCLUDE_DIR})
