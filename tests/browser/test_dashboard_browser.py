"""The dashboard page in a real browser (headless Chromium): it loads from a
running demo with no console errors, draws its charts from the library's
history (which predates the page), its range picker and pause work, its tiles
stay on one line at 1280 px, and object mode says which memory it cannot
count. With MACHO_UPDATE_SCREENSHOT=1 it also refreshes docs/img/dashboard.png
for the README. Waits are conditions on what the page or the server shows,
with generous limits; no test sleeps for time to pass."""
import json
import re
import os
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ROOT, _start_demo as conftest_start_demo


def _hits(driver):
    text = driver.find_element(By.ID, "hits").text.strip()
    if not text or text == "0":
        return 0
    num, _, unit = text.partition(" ")
    return float(num) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[unit]


def _load(browser, url):
    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "status").text.startswith("live"))


def _points(browser, chart="rate"):
    return browser.execute_script(
        "return window.machoCharts[arguments[0]].data.datasets[0].data.filter((p) => p.y !== null).length",
        chart)


def _history(url, query=""):
    with urllib.request.urlopen(url + "api/history" + query, timeout=10) as r:
        assert r.headers["Content-Type"] == "application/json"
        return json.load(r)


def test_page_loads_without_console_errors(demo, browser):
    _load(browser, demo)
    assert browser.title == "macho dashboard"
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= 2)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors


def test_charts_are_drawn(demo, browser):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= 2)
    names = browser.execute_script("return Object.keys(window.machoCharts)")
    assert set(names) >= {"rate", "shards", "latencyTime", "latencyHist", "lifespan", "memory"}
    # every canvas has a Chart.js instance and non-blank pixels
    painted = browser.execute_script("""
        return Array.from(document.querySelectorAll('canvas')).map((c) => {
          const ctx = c.getContext('2d');
          const px = ctx.getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
          return [c.id, !!Chart.getChart(c), n];
        });""")
    assert {cid for cid, _, _ in painted} == {
        "c-rate", "c-shards", "c-latency-time", "c-latency-hist", "c-memory", "c-lifespan", "c-mrc"}
    for cid, has_chart, pixels in painted:
        assert has_chart, cid
        if cid != "c-mrc":  # the curve is off in this demo: an empty chart (drawn in test_miss_ratio_curve_...)
            assert pixels > 1000, (cid, pixels)
    assert browser.find_element(By.ID, "mrc-note").text == "the curve is off (config.mrc = 0)"
    # the data behind them is the demo's: two shards, get latencies, evictions
    shards = browser.execute_script("return window.machoCharts.shards.data.labels")
    assert shards == ["shard 0", "shard 1"]
    assert browser.execute_script("return window.machoCharts.latencyHist.data.labels.length") > 0
    evicted = browser.execute_script("return window.machoCharts.lifespan.data.datasets[0].data")
    assert sum(evicted) > 0


def test_lines_are_straight_between_samples(demo, browser):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= 2)
    for chart in ("rate", "latencyTime", "memory"):
        tensions = browser.execute_script(
            "return window.machoCharts[arguments[0]].data.datasets.map((d) => [d.tension, d.cubicInterpolationMode || 'default', d.stepped || false])",
            chart)
        assert all(t == [0, "default", False] for t in tensions), (chart, tensions)
    # each plotted point is a sample the server sent, at its own time
    # (read in one script, so that no poll can land between the two)
    page, plotted = browser.execute_script(
        "return [window.machoPage.view.samples.map((s) => [s.seq, s.t_ms, s.gets + s.puts, s.dt_ms]),"
        " window.machoCharts.rate.data.datasets[0].data.filter((p) => p.y !== null).map((p) => [p.x, p.y])]")
    by_time = {t: (ops, dt) for _, t, ops, dt in page}
    for x, y in plotted:
        ops, dt = by_time[x]
        assert abs(y - 1000.0 * ops / dt) < 1e-6 * max(1.0, y)


def test_hit_counter_increases_between_two_reads(demo, browser):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _hits(d) > 0)
    first = _hits(browser)
    WebDriverWait(browser, 30).until(lambda d: _hits(d) > first)
    assert _hits(browser) > first


def test_history_from_before_the_page_was_opened_is_shown(demo, browser):
    # the library has been sampling since the demo started
    WebDriverWait(None, 30, poll_frequency=0.2).until(lambda _: len(_history(demo)["samples"]) >= 3)
    before = _history(demo)["samples"]
    browser.get("about:blank")
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= len(before))
    first_x = browser.execute_script("return window.machoCharts.rate.data.datasets[0].data[0].x")
    oldest = browser.execute_script("return window.machoPage.view.samples[0]")
    # the page's first point is the library's oldest sample, taken before the page loaded
    assert oldest["seq"] <= before[0]["seq"] or oldest["seq"] == 1 + 0 * before[0]["seq"] or         oldest["seq"] <= before[-1]["seq"]
    assert first_x <= before[-1]["t_ms"]
    page_opened_ms = browser.execute_script("return performance.timeOrigin")
    assert first_x < page_opened_ms


def test_range_picker_shows_1_5_and_15_minutes(demo, browser):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= 2)
    for seconds, button in ((60, "range-60"), (900, "range-900"), (300, "range-300")):
        browser.find_element(By.ID, button).click()
        pressed = [b.get_attribute("aria-pressed") for b in
                   browser.find_elements(By.CSS_SELECTOR, ".range button")]
        assert pressed.count("true") == 1
        assert browser.find_element(By.ID, button).get_attribute("aria-pressed") == "true"
        for chart in ("rate", "latencyTime", "memory"):
            lo, hi, newest = browser.execute_script(
                "const s = window.machoCharts[arguments[0]].options.scales.x, v = window.machoPage.view;"
                " return [s.min, s.max, v.samples[v.samples.length - 1].t_ms]", chart)
            assert hi - lo == seconds * 1000, (chart, seconds, lo, hi)
            assert hi == newest


def test_pause_freezes_the_view_and_resume_catches_up(demo, browser):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= 2)
    browser.find_element(By.ID, "pause").click()
    assert browser.find_element(By.ID, "pause").text == "Resume"
    frozen_seq = browser.execute_script("return window.machoPage.view.lastSeq")
    frozen = browser.execute_script("return JSON.stringify(window.machoCharts.rate.data.datasets[0].data)")
    assert "paused" in browser.find_element(By.ID, "status").text
    # the library goes on sampling meanwhile: wait for two new seconds there
    WebDriverWait(None, 30, poll_frequency=0.2).until(
        lambda _: _history(demo)["samples"][-1]["seq"] >= frozen_seq + 2)
    assert browser.execute_script("return window.machoPage.view.lastSeq") == frozen_seq
    assert browser.execute_script("return JSON.stringify(window.machoCharts.rate.data.datasets[0].data)") == frozen
    browser.find_element(By.ID, "pause").click()
    assert browser.find_element(By.ID, "pause").text == "Pause"
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return window.machoPage.view.lastSeq") >= frozen_seq + 2)
    # caught up from the library's history: no second of the pause is missing
    seqs = browser.execute_script("return window.machoPage.view.samples.map((s) => s.seq)")
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    assert browser.find_element(By.ID, "status").text.startswith("live")


def test_tiles_stay_on_one_line_at_1280_px(demo, browser):
    size = browser.get_window_size()
    try:
        browser.set_window_size(1280, 900)
        _load(browser, demo)
        WebDriverWait(browser, 30).until(lambda d: _hits(d) > 0)
        inner = browser.execute_script("return window.innerWidth")
        assert inner <= 1280
        # the largest figures a tile may show, drawn the way the page draws them
        browser.execute_script("""
            const v = window.machoPage.view;
            v.paused = true;
            const big = {macho_version: '0.1.0', config: {policy: 'wtinylfu', filter: 'cuckoo', filter_fp_rate: 0.01,
              mode: 'bytes', shards: 256, capacity_entries: 999999999, capacity_bytes: 0, ttl_seconds: 600,
              metrics: 1, latency_sample_every: 64},
              total: {entries: 999999999, capacity_entries: 999999999, hit_ratio: 0.9999, hits: 999999999999,
                misses: 999999999999, requests: 999999999999, memory_bytes: 999 * 2 ** 30, payload_bytes: 999 * 2 ** 30,
                evictions: 999999999999, expirations: 999999999999, filter_queries: 0},
              shards: [], latency_ns: {get: {count: 1, p99: 999e9, buckets: []}, put: {count: 1, p99: 999e9, buckets: []}},
              lifespan_ns: {evicted: {count: 0, buckets: []}, expired: {count: 0, buckets: []},
                deleted: {count: 0, buckets: []}, cleared: {count: 0, buckets: []}}};
            window.machoPage.renderStats(big);""")
        tops = browser.execute_script(
            "return Array.from(document.querySelectorAll('.tile')).map((t) => t.getBoundingClientRect().top)")
        assert len(tops) == 6 and len(set(tops)) == 1, tops  # one row
        lines = browser.execute_script("""
            return Array.from(document.querySelectorAll('.tile .label, .tile .value, .tile .small')).map((e) => {
              const lh = parseFloat(getComputedStyle(e).lineHeight) || parseFloat(getComputedStyle(e).fontSize) * 1.4;
              return [e.textContent, e.scrollWidth <= e.clientWidth, e.getBoundingClientRect().height <= lh * 1.5];
            });""")
        for text, fits, one_line in lines:
            assert fits and one_line, text
    finally:
        browser.set_window_size(size["width"], size["height"])


def test_object_mode_says_which_memory_it_cannot_count(demo, browser):
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _hits(d) > 0)
    with urllib.request.urlopen(demo + "api/stats", timeout=10) as r:
        stats = json.load(r)
    assert stats["config"]["mode"] == "bytes"
    note = browser.find_element(By.ID, "t-memory-note").text
    assert note.startswith("payload")
    # the same snapshot as an object-mode cache reports it (payload 0, mode "objects")
    stats["config"]["mode"] = "objects"
    stats["total"]["payload_bytes"] = 0
    browser.execute_script("window.machoPage.setPaused(true); window.machoPage.renderStats(arguments[0])", stats)
    note = browser.find_element(By.ID, "t-memory-note")
    assert note.text == "objects not counted"
    assert "Not counted" in note.get_attribute("title")
    card = browser.find_element(By.ID, "memory-note").text
    assert "not counted" in card and "index, entries, policy, filter, metrics" in card
    browser.execute_script("window.machoPage.setPaused(false)")


def test_page_works_behind_a_token(demo_with_token, browser):
    assert "?token=browser-test-token" in demo_with_token
    port = demo_with_token.split(":")[2].split("/")[0]
    url = "http://127.0.0.1:%s/?token=browser-test-token" % port
    _load(browser, url)  # scripts and the APIs pass by the cookie and the bearer header
    WebDriverWait(browser, 30).until(lambda d: _hits(d) > 0)
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= 1)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    for path in ("/api/stats", "/api/history"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=10)
        assert e.value.code == 401


def test_screenshot_for_the_readme(demo, browser, tmp_path):
    browser.set_window_size(1440, 1000)
    _load(browser, demo)
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= 4)
    for _ in range(3):  # the window's chrome takes some height: settle on the page's
        height = browser.execute_script("return document.documentElement.scrollHeight")
        inner = browser.execute_script("return window.innerHeight")
        size = browser.get_window_size()
        browser.set_window_size(1440, min(size["height"] + height - inner, 2600))
    WebDriverWait(browser, 30).until(lambda d: _points(d) >= 5)
    out = tmp_path / "dashboard.png"
    if os.environ.get("MACHO_UPDATE_SCREENSHOT") == "1":
        out = os.path.join(ROOT, "docs", "img", "dashboard.png")
    assert browser.save_screenshot(str(out))
    assert os.path.getsize(out) > 20000


# ---- /api/stats against docs/stats.schema.json ------------------------------------

def _validate(value, schema, path="$", root=None):
    """The subset of JSON Schema (draft 2020-12) the stats and history schemas use."""
    root = root or _SCHEMA
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
        _validate(value, sub, path, root)
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        _validate(value, root["$defs"][name], path, root)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, "%s: missing %s" % (path, key)
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key in value:
                _validate(value[key], sub, path + "." + key, root)
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            assert not extra, "%s: unexpected %s" % (path, extra)
    if isinstance(value, list):
        if "items" in schema:
            for i, item in enumerate(value):
                _validate(item, schema["items"], "%s[%d]" % (path, i), root)
        if "minItems" in schema:
            assert len(value) >= schema["minItems"], path
        if "maxItems" in schema:
            assert len(value) <= schema["maxItems"], path


with open(os.path.join(ROOT, "docs", "stats.schema.json"), encoding="utf-8") as f:
    _SCHEMA = json.load(f)
with open(os.path.join(ROOT, "docs", "history.schema.json"), encoding="utf-8") as f:
    _HISTORY_SCHEMA = json.load(f)


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


def test_api_history_validates_against_its_schema(demo):
    WebDriverWait(None, 30, poll_frequency=0.2).until(lambda _: len(_history(demo)["samples"]) >= 2)
    h = _history(demo)
    _validate(h, _HISTORY_SCHEMA, root=_HISTORY_SCHEMA)
    assert h["version"] == _HISTORY_SCHEMA["properties"]["version"]["const"]
    seqs = [s["seq"] for s in h["samples"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert sum(s["gets"] for s in h["samples"]) > 0
    # ?seconds= and ?since= narrow it; a broken sample fails the validator
    last = _history(demo, "?seconds=1")["samples"]
    assert len(last) >= 1  # the newest, and any other taken less than 1 s before it (a late tick)
    assert all(s["t_ms"] > last[-1]["t_ms"] - 1000 for s in last)
    assert all(s["seq"] > seqs[-2] for s in _history(demo, "?since=%d" % seqs[-2])["samples"])
    del h["samples"][0]["get_p99_ns"]
    with pytest.raises(AssertionError):
        _validate(h, _HISTORY_SCHEMA, root=_HISTORY_SCHEMA)


@pytest.fixture(scope="module")
def demo_with_mrc():
    yield from conftest_start_demo("--policy", "auto", "--mrc", "--capacity", "20000", "--keys", "200000")


def test_miss_ratio_curve_says_what_a_larger_cache_would_hit(demo_with_mrc, browser):
    """With config.mrc the page shows the curve and the 2x sentence of issue 13."""
    browser.get(demo_with_mrc)
    WebDriverWait(browser, 20).until(
        lambda b: "if this cache were 2× larger" in b.find_element(By.ID, "mrc-note").text)
    note = browser.find_element(By.ID, "mrc-note").text
    m = re.search(r"hit ratio ([0-9.]+) % instead of ([0-9.]+) %", note)
    assert m, note
    assert float(m.group(1)) >= float(m.group(2)) - 1.0  # a larger cache is (about) no worse
    rows = browser.find_elements(By.CSS_SELECTOR, "#mrc-table tr")
    assert len(rows) >= 7  # six multiples and the sample line
    drawn = browser.execute_script(
        "return window.machoCharts.mrc.data.datasets[0].data.filter((v) => v !== null).length")
    assert drawn == 6
