# Third-party libraries, all from Debian packages (scripts/deps.sh installs them).
# xxHash is used header-only (XXH_INLINE_ALL), so only its header is needed.
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
target_include_directories(macho_objects PRIVATE ${XXHASH_INCLUDE_DIR})
# The CLI's trace readers (tools/macho/trace.c) inflate gzip, zstd and xz
# traces; only the CLI and the trace tests link them, never libmacho.
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(LZMA REQUIRED IMPORTED_TARGET liblzma)
list(APPEND MACHO_CLI_LIBS PkgConfig::ZLIB PkgConfig::ZSTD PkgConfig::LZMA)
# The live dashboard (src/dashboard/) serves HTTP with libmicrohttpd and embeds
# Debian's Chart.js and its own page at build time (.incbin in assets.c).
pkg_check_modules(MHD REQUIRED libmicrohttpd)
target_include_directories(macho_objects PRIVATE ${MHD_INCLUDE_DIRS})
list(APPEND MACHO_LINK_LIBS ${MHD_LINK_LIBRARIES})
# pkg-config: a static link pulls libmicrohttpd and what it needs from its own .pc.
set(MACHO_PC_REQUIRES_PRIVATE "${MACHO_PC_REQUIRES_PRIVATE} libmicrohttpd")
find_file(MACHO_CHARTJS chart.min.js PATHS /usr/share/javascript/chart.js NO_DEFAULT_PATH REQUIRED)
file(GLOB MACHO_DASHBOARD_WWW_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/dashboard/www/*)
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/dashboard/assets.c PROPERTIES
  COMPILE_DEFINITIONS "MACHO_DASHBOARD_WWW=\"${PROJECT_SOURCE_DIR}/src/dashboard/www\";MACHO_CHARTJS=\"${MACHO_CHARTJS}\""
  OBJECT_DEPENDS "${MACHO_DASHBOARD_WWW_FILES};${MACHO_CHARTJS}")
# The Redis tier (src/tier/) talks to Redis through hiredis (Debian
# libhiredis-dev). Optional: without it the tier compiles to stubs that
# return MACHO_ENOTSUP. -DMACHO_TIER=OFF leaves it out even when found.
option(MACHO_TIER "Build the Redis tier when hiredis is found" ON)
if(MACHO_TIER)
  pkg_check_modules(HIREDIS hiredis)
endif()
if(HIREDIS_FOUND)
  target_include_directories(macho_objects PRIVATE ${HIREDIS_INCLUDE_DIRS})
  # Directory-wide: the tier's tests use hiredis as an outside client too.
  add_compile_definitions(MACHO_HAVE_HIREDIS=1)
  list(APPEND MACHO_LINK_LIBS ${HIREDIS_LINK_LIBRARIES})
  set(MACHO_PC_PRIVATE "${MACHO_PC_PRIVATE} -lhiredis")
endif()
