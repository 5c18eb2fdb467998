"""Fixtures for the browser tests: a running `macho demo --dashboard` and a
headless Chromium driven by chromium-driver through python3-selenium.

The CLI is $MACHO_CLI (scripts/test.sh passes build/release/macho); the
tests skip when it, chromium or chromedriver is missing."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _cli():
    path = os.environ.get("MACHO_CLI") or os.path.join(ROOT, "build", "release", "macho")
    if not os.access(path, os.X_OK):
        pytest.skip("no macho CLI at %s (set MACHO_CLI)" % path)
    return path


def _start_demo(*extra):
    """Start the demo with the dashboard; yield its URL; stop it."""
    proc = subprocess.Popen(
        [_cli(), "demo", "--dashboard", "--seconds", "120", "--shards", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    url = None
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline and url is None:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"(http://\S+)", line)
        if m:
            url = m.group(1)
    if url is None:
        proc.kill()
        pytest.fail("demo printed no URL:\n" + "".join(lines))
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def demo():
    yield from _start_demo()


@pytest.fixture(scope="module")
def demo_with_token():
    """A demo bound to 0.0.0.0, which requires a token; its URL carries ?token=."""
    yield from _start_demo("--token", "browser-test-token")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium or chromedriver not installed")
    profile = tempfile.mkdtemp(prefix="macho-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1440,1000", "--user-data-dir=" + profile):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)
