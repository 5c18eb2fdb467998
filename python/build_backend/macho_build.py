"""macho_build -- the PEP 517 build backend of the macho package: setuptools'
own (setuptools.build_meta), usable offline.

pip builds in an isolated environment and installs the backend's
requirements into it from an index; with no index reachable (this project's
machines reach Debian's archive only) that fails before setup.py runs. So the
package requires nothing, and this backend finds setuptools, and wheel where
setuptools needs it for bdist_wheel, in the building interpreter's own
site-packages (Debian: python3-setuptools, python3-wheel). setup.py does the
rest.
"""
import site
import sys

try:
    import setuptools  # noqa: F401  (inside pip's isolated environment: absent)
except ImportError:
    for _path in site.getsitepackages() + [site.getusersitepackages()]:
        if _path not in sys.path:
            sys.path.append(_path)

from setuptools import build_meta as _orig
from setuptools.build_meta import *  # noqa: F401,F403  (the PEP 517 hooks)


def get_requires_for_build_wheel(config_settings=None):
    # setuptools asks for "wheel" here, which pip would download: it is
    # found on the interpreter's own path instead (or bdist_wheel says so).
    return [r for r in _orig.get_requires_for_build_wheel(config_settings) if r != "wheel"]


def get_requires_for_build_sdist(config_settings=None):
    return [r for r in _orig.get_requires_for_build_sdist(config_settings) if r != "wheel"]
