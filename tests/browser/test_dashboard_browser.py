"""The dashboard page in a real browser (headless Chromium): it loads from a
running demo with no console errors, draws its charts, and its hit counter
moves. With MACHO_UPDATE_SCREENSHOT=1 it also refreshes docs/img/dashboard.png
for the README."""
import json
import os
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ROOT


def _hits(driver):
    return int(driver.find_element(By.ID, "hits").text.replace(",", "") or 0)


def _load(browser, url):
    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "status").text.startswith("live"))


def test_page_loads_without_console_errors(demo, browser):
    _load(browser, demo)
    assert browser.title == "macho dashboard"
    # wait for a few polls so that every chart has had data to draw
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return window.machoCharts.rate.data.labels.length") >= 2)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors


def test_charts_are_drawn(demo, browser):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return window.machoCharts.rate.data.labels.length") >= 2)
    names = browser.execute_script("return Object.keys(window.machoCharts)")
    assert set(names) >= {"rate", "shards", "latencyTime", "latencyHist", "lifespan"}
    # every canvas has a Chart.js instance and non-blank pixels
    painted = browser.execute_script("""
        return Array.from(document.querySelectorAll('canvas')).map((c) => {
          const ctx = c.getContext('2d');
          const px = ctx.getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
          return [c.id, !!Chart.getChart(c), n];
        });""")
    assert len(painted) == 5
    for cid, has_chart, pixels in painted:
        assert has_chart, cid
        assert pixels > 1000, (cid, pixels)
    # the data behind them is the demo's: two shards, get latencies, evictions
    shards = browser.execute_script("return window.machoCharts.shards.data.labels")
    assert shards == ["shard 0", "shard 1"]
    assert browser.execute_script("return window.machoCharts.latencyHist.data.labels.length") > 0
    evicted = browser.execute_script("return window.machoCharts.lifespan.data.datasets[0].data")
    assert sum(evicted) > 0


def test_hit_counter_increases_between_two_reads(demo, browser):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _hits(d) > 0)
    first = _hits(browser)
    WebDriverWait(browser, 30).until(lambda d: _hits(d) > first)
    assert _hits(browser) > first


def test_page_works_behind_a_token(demo_with_token, browser):
    assert "?token=browser-test-token" in demo_with_token
    port = demo_with_token.split(":")[2].split("/")[0]
    url = "http://127.0.0.1:%s/?token=browser-test-token" % port
    _load(browser, url)  # scripts and /api/stats pass by the cookie and the bearer header
    WebDriverWait(browser, 30).until(lambda d: _hits(d) > 0)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen("http://127.0.0.1:%s/api/stats" % port, timeout=10)
    assert e.value.code == 401


def test_screenshot_for_the_readme(demo, browser, tmp_path):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return window.machoCharts.rate.data.labels.length") >= 4)
    for _ in range(3):  # the window's chrome takes some height: settle on the page's
        height = browser.execute_script("return document.documentElement.scrollHeight")
        inner = browser.execute_script("return window.innerHeight")
        size = browser.get_window_size()
        browser.set_window_size(1440, min(size["height"] + height - inner, 2400))
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return window.machoCharts.rate.data.labels.length") >= 5)
    out = tmp_path / "dashboard.png"
    if os.environ.get("MACHO_UPDATE_SCREENSHOT") == "1":
        out = os.path.join(ROOT, "docs", "img", "dashboard.png")
    assert browser.save_screenshot(str(out))
    assert os.path.getsize(out) > 20000


# ---- /api/stats against docs/stats.schema.json ------------------------------------

def _validate(value, schema, path="$"):
    """The subset of JSON Schema (draft 2020-12) the stats schema uses."""
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        ok = {
            "object": isinstance(value, dict),
            "array": isinstance(value, list),
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "null": value is None,
        }
        assert any(ok[t] for t in types), "%s: %r is not %s" % (path, value, types)
    if "const" in schema:
        assert value == schema["const"], "%s: %r != %r" % (path, value, schema["const"])
    if "enum" in schema:
        assert value in schema["enum"], "%s: %r not in %r" % (path, value, schema["enum"])
    if "minimum" in schema and isinstance(value, (int, float)):
        assert value >= schema["minimum"], path
    if "maximum" in schema and isinstance(value, (int, float)):
        assert value <= schema["maximum"], path
    for sub in schema.get("allOf", []):
        _validate(value, sub, path)
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        _validate(value, _SCHEMA["$defs"][name], path)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, "%s: missing %s" % (path, key)
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key in value:
                _validate(value[key], sub, path + "." + key)
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            assert not extra, "%s: unexpected %s" % (path, extra)
    if isinstance(value, list):
        if "items" in schema:
            for i, item in enumerate(value):
                _validate(item, schema["items"], "%s[%d]" % (path, i))
        if "minItems" in schema:
            assert len(value) >= schema["minItems"], path
        if "maxItems" in schema:
            assert len(value) <= schema["maxItems"], path


with open(os.path.join(ROOT, "docs", "stats.schema.json"), encoding="utf-8") as f:
    _SCHEMA = json.load(f)


def test_api_stats_validates_against_its_schema(demo):
    with urllib.request.urlopen(demo + "api/stats", timeout=10) as r:
        assert r.headers["Content-Type"] == "application/json"
        stats = json.load(r)
    _validate(stats, _SCHEMA)
    assert stats["version"] == _SCHEMA["properties"]["version"]["const"]
    assert stats["total"]["requests"] > 0


def test_schema_validator_rejects_a_broken_snapshot(demo):
    with urllib.request.urlopen(demo + "api/stats", timeout=10) as r:
        stats = json.load(r)
    del stats["latency_ns"]["get"]["p99"]
    with pytest.raises(AssertionError):
        _validate(stats, _SCHEMA)
