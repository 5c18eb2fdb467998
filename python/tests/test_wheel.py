"""The wheel: `/usr/bin/python3 -m pip wheel ./python` builds one offline with
Debian's tools, and the installed wheel works on its own (the extension, the
stubs and py.typed inside). python/build-wheel.sh does the same for an
interpreter without the `wheel` package (README)."""
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]
DEBIAN_PY = "/usr/bin/python3"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if not os.path.exists(DEBIAN_PY):
        pytest.skip("no Debian /usr/bin/python3 here")
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([DEBIAN_PY, "-m", "pip", "wheel", "--no-index", str(PYTHON_DIR), "-w", str(out)],
                       capture_output=True, text=True, timeout=900, cwd=str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wheels = list(out.glob("macho-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_holds_the_extension_the_stubs_and_py_typed(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("macho/_macho.") and n.endswith(".so") for n in names)
    assert "macho/__init__.pyi" in names and "macho/py.typed" in names
    assert "macho/__init__.py" in names


def test_the_installed_wheel_works_on_its_own(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([DEBIAN_PY, "-m", "pip", "install", "--no-index", "--no-deps", "--target",
                        str(target), str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    check = ("import macho, sys; assert macho.__file__.startswith(sys.argv[1]), macho.__file__; "
             "c = macho.Cache(max_cache_size=2); c['a'] = 1; c.add('b', 2); c.add('c', 3); "
             "assert c == {'b': 2, 'c': 3}, dict(c.items()); print('ok', macho._macho.libmacho_version)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    r = subprocess.run([DEBIAN_PY, "-c", check, str(target)], capture_output=True, text=True,
                       env=env, cwd=str(tmp_path), timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr
