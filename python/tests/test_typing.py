"""Typing: `mypy --strict` passes on a typed example (typed/typed_example.py)
against the package's stubs, mypy's stubtest finds the stubs true to the
run-time package, and the example runs. The stubs name public classes only."""
import os
import pathlib
import runpy
import shutil
import subprocess
import sys

import pytest

import macho

HERE = pathlib.Path(__file__).parent
EXAMPLE = HERE / "typed" / "typed_example.py"
PACKAGE_DIR = pathlib.Path(macho.__file__).parent


def mypy_cmd():
    if shutil.which("mypy") is None:
        pytest.skip("mypy is not installed (Debian package mypy; scripts/deps.sh installs it)")
    return ["mypy"]


def run_mypy(args, tmp_path):
    env = dict(os.environ, MYPYPATH=str(PACKAGE_DIR.parent))
    return subprocess.run(mypy_cmd() + ["--cache-dir", str(tmp_path / "mypy-cache")] + args,
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600)


def test_mypy_strict_passes_on_the_typed_example(tmp_path):
    r = run_mypy(["--strict", str(EXAMPLE)], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_catches_a_wrong_value_type(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from macho import Cache\n"
                   "c: Cache[str, int] = Cache()\n"
                   "c['k'] = 'not an int'\n"
                   "x: int = c.get('k')\n")
    r = run_mypy(["--strict", str(bad)], tmp_path)
    assert r.returncode == 1
    assert "bad.py:3" in r.stdout and "bad.py:4" in r.stdout  # both mistakes found


def test_the_stubs_match_the_run_time_package(tmp_path):
    mypy_cmd()
    path = os.pathsep.join([str(PACKAGE_DIR.parent)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    env = dict(os.environ, MYPYPATH=str(PACKAGE_DIR.parent), PYTHONPATH=path)
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "macho", "--ignore-missing-stub",
                        "--allowlist", str(HERE / "typed" / "stubtest-allowlist.txt"),
                        "--mypy-config-file", str(HERE / "typed" / "stubtest.ini")],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600)
    if "No module named mypy" in r.stderr:
        pytest.skip("mypy's stubtest runs with the interpreter that has mypy (/usr/bin/python3)")
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_stubs_name_public_classes_only():
    stub = (PACKAGE_DIR / "__init__.pyi").read_text()
    assert "CacheCore" not in stub and "_macho" not in stub
    assert "\nclass _" not in stub and "\ndef _" not in stub
    assert not (PACKAGE_DIR / "_macho.pyi").exists()


def test_the_typed_example_runs():
    runpy.run_path(str(EXAMPLE), run_name="__main__")
