"""setup.py -- builds the macho extension from libmacho's own sources.

The extension compiles every ../src/**/*.c straight in (no installed libmacho
needed), with the same Debian -dev packages the CMake build uses: the xxHash
header, and libmicrohttpd once src/dashboard/ implements the dashboard. The
build backend is Debian's python3-setuptools, so an offline install works:

    /usr/bin/python3 -m pip install --no-build-isolation --break-system-packages ./python
"""
import glob
import os
import re
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
os.chdir(HERE)  # source paths below are relative to this directory, wherever we are run from


def rel(path):
    # setuptools wants source paths relative to setup.py's directory.
    return os.path.relpath(path, HERE)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return []
    return out.stdout.split()


lib_sources = sorted(glob.glob(os.path.join(ROOT, "src", "**", "*.c"), recursive=True))
if not lib_sources:
    raise SystemExit("setup.py: no libmacho sources under %s/src (build from the repository)" % ROOT)
# MACHO_PY_NO_DASHBOARD=1 builds without src/dashboard/ (no libmicrohttpd, no
# Chart.js needed); launch_dashboard() then raises NotImplementedError.
if os.environ.get("MACHO_PY_NO_DASHBOARD"):
    lib_sources = [p for p in lib_sources if os.sep + "dashboard" + os.sep not in p]

define_macros = [("_GNU_SOURCE", None), ("MACHO_TLS_GLOBAL_DYNAMIC", "1")]  # a late-dlopen()ed module: no initial-exec TLS
libraries = ["m"]
# -O3: 16 fewer instructions per get than -O2 (callgrind, docs/BENCHMARKS.md).
# initial-exec TLS: the library's per-thread latency-sampling tick is then one
# %fs-relative load, not a __tls_get_addr call on every operation (the
# extension is dlopen'ed, and glibc keeps static TLS room for a few bytes).
extra_compile_args = ["-std=gnu11", "-fvisibility=hidden", "-Wall", "-Wextra", "-O3",
                      "-ftls-model=initial-exec"]
extra_link_args = ["-pthread"]

# The dashboard binding is compiled in only when the library implements it,
# so the extension builds at every stage of the library's history.
dashboard_sources = [p for p in lib_sources if os.sep + "dashboard" + os.sep in p]
has_dashboard = any(
    re.search(r"^\s*int\s+macho_dashboard_start\s*\(", open(p, encoding="utf-8", errors="replace").read(), re.M)
    for p in dashboard_sources
)
if has_dashboard:
    define_macros.append(("MACHO_PY_HAVE_DASHBOARD", "1"))
if dashboard_sources:
    # assets.c embeds the page and Debian's Chart.js with .incbin (see cmake/deps.cmake).
    www = os.path.join(ROOT, "src", "dashboard", "www")
    chartjs = "/usr/share/javascript/chart.js/chart.min.js"
    define_macros += [("MACHO_DASHBOARD_WWW", '"%s"' % www), ("MACHO_CHARTJS", '"%s"' % chartjs)]
    flags = pkg_config("--cflags", "--libs", "libmicrohttpd")
    extra_compile_args += [f for f in flags if f.startswith("-I")]
    libs = [f[2:] for f in flags if f.startswith("-l")]
    libraries += libs or ["microhttpd"]
# Link what cmake/deps.cmake links beyond microhttpd (zlib, zstd) if it names them.
deps = os.path.join(ROOT, "cmake", "deps.cmake")
if os.path.exists(deps):
    text = open(deps, encoding="utf-8").read()
    for name, lib in (("ZLIB", "z"), ("zstd", "zstd"), ("libzstd", "zstd")):
        if re.search(r"\b%s\b" % re.escape(name), text) and lib not in libraries:
            libraries.append(lib)

# macho.Tier (python/macho/_tier.c, the Redis tier of src/tier/) is compiled
# into the same shared object; macho/__init__.py loads its module, macho._tier,
# from it. With hiredis it is the real tier, without it Tier() raises
# NotImplementedError.
hiredis = pkg_config("--cflags", "--libs", "hiredis")
if hiredis:
    define_macros.append(("MACHO_HAVE_HIREDIS", "1"))
    extra_compile_args += [f for f in hiredis if f.startswith("-I")]
    libraries += [f[2:] for f in hiredis if f.startswith("-l")] or ["hiredis"]

ext = Extension(
    "macho._macho",
    sources=[rel(os.path.join(HERE, "macho", "_macho.c")), rel(os.path.join(HERE, "macho", "_tier.c"))]
    + [rel(p) for p in lib_sources],
    include_dirs=[os.path.join(ROOT, "include"), os.path.join(ROOT, "src")],
    define_macros=define_macros,
    libraries=libraries,
    extra_compile_args=extra_compile_args,
    extra_link_args=extra_link_args,
)

setup(
    packages=["macho"],
    package_data={"macho": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
)
