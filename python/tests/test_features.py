"""What cache users ask for most (issue 12), from Python: removal listeners
with reasons, get_or_load (single flight, errors to every waiter, negative
caching, refresh-ahead), a byte budget with a weigher, resize, peek, TTLs,
hottest/coldest, and snapshots with pickle. Time is the cache's manual clock;
threads wait on events, never on sleeps."""
import gc
import os
import pickle
import sys
import threading

import pytest

import macho
from macho import Cache


class Clock:
    """A clock the test moves by hand (the cache's clock= hook)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


# ---- removal listener ----------------------------------------------------------------

def test_the_listener_sees_every_reason_once():
    clk = Clock()
    seen = []
    c = Cache(max_cache_size=2, ttl=10.0, clock=clk,
              on_remove=lambda k, v, r: seen.append((k, v, r)))
    c.add("a", 1)
    c.add("b", 2)
    c.add("a", 11)            # replaced: the old value
    c.add("c", 3)             # evicts b (LRU: a was just written)
    c.delete("a")
    c.add("t", 4, ttl=1.0)
    clk.advance(1.5)
    assert c.get("t") is None  # found expired
    c.clear()
    assert seen == [("a", 1, "replaced"), ("b", 2, "evicted"), ("a", 11, "deleted"),
                    ("t", 4, "expired"), ("c", 3, "cleared")]


def test_an_exception_in_the_listener_is_reported_and_loses_nothing(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_type))

    def bad(k, v, r):
        raise RuntimeError("listener failed")

    c = Cache(max_cache_size=2, on_remove=bad)
    for i in range(5):
        c.add(i, i)
    assert reported == [RuntimeError] * 3
    assert sorted(c.keys()) == [3, 4]          # the cache went on as if nothing happened
    assert c.totals["evictions"] == 3
    c.add(3, "x")
    assert c.get(3) == "x"


def test_the_listener_may_use_the_cache():
    spill = Cache(max_cache_size=100)
    log = []

    def on_remove(k, v, r):
        log.append(c.get("other"))      # the same cache: no lock is held
        spill.add(k, v)                 # and another one

    c = Cache(max_cache_size=10, on_remove=on_remove)
    c.add("other", "o")
    for i in range(12):
        c.add(i, i)
    assert len(log) == 3 and len(spill) == 3
    assert set(log) <= {"o", None}
    # c and on_remove form a cycle: empty c now, so that the collector, which may clear the
    # closure's cell before c goes, finds no entry left to report through it.
    c.clear()


def test_closing_a_cache_reports_what_it_drops():
    gc.collect()  # garbage of earlier tests is not collected in the middle of this one
    seen = []
    c = Cache(on_remove=lambda k, v, r: seen.append(r))
    c.add(1, 1)
    c.add(2, 2)
    del c
    assert seen == ["cleared", "cleared"]


# ---- get_or_load ------------------------------------------------------------------------

def test_get_or_load_loads_once_and_caches():
    calls = []
    c = Cache()
    assert c.get_or_load("k", lambda k: calls.append(k) or k.upper()) == "K"
    assert c.get_or_load("k", lambda k: calls.append(k) or "other") == "K"
    assert calls == ["k"] and c.get("k") == "K"


def test_a_hot_key_is_loaded_once_by_many_threads():
    n = 8
    arrived = threading.Barrier(n + 1)
    release = threading.Event()
    calls = []
    c = Cache(max_cache_size=100)

    def load(k):
        calls.append(k)
        release.wait(30)                      # hold the load until every thread has asked
        return "value of %s" % k

    results = []

    def worker():
        arrived.wait()
        results.append(c.get_or_load("hot", load))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    arrived.wait()
    # The leader is in the loader (it releases the GIL in release.wait); the
    # others, with no cached value, can only be waiting for it.
    while not calls:
        threading.Event().wait(0.001)
    release.set()
    for t in threads:
        t.join()
    assert calls == ["hot"]
    assert results == ["value of hot"] * n


def test_a_loader_error_reaches_every_waiter_and_nothing_is_cached():
    n = 6
    arrived = threading.Barrier(n)
    c = Cache()
    entered = threading.Event()
    errors = []

    def load(k):
        entered.set()
        threading.Event().wait(0.05)          # give the others time to queue up behind it
        raise ValueError("source down")

    def worker():
        arrived.wait()
        try:
            c.get_or_load("k", load)
        except ValueError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == ["source down"] * n
    assert "k" not in c


def test_key_error_means_absent_and_is_remembered_for_negative_ttl():
    clk = Clock()
    calls = []

    def load(k):
        calls.append(k)
        raise KeyError(k)

    c = Cache(negative_ttl=5.0, clock=clk)
    for _ in range(3):
        with pytest.raises(KeyError):
            c.get_or_load("gone", load)
    assert calls == ["gone"]
    clk.advance(5.0)
    with pytest.raises(KeyError):
        c.get_or_load("gone", load)
    assert calls == ["gone", "gone"]
    c.add("gone", "back")                     # a put forgets the negative answer
    assert c.get_or_load("gone", load) == "back"


def test_a_loader_asking_for_its_own_key_gets_a_clear_error():
    c = Cache()

    def load(k):
        return c.get_or_load(k, load)

    with pytest.raises(RuntimeError, match="asked for the key it is loading"):
        c.get_or_load("self", load)
    assert len(c) == 0
    # one loading another key is fine
    assert c.get_or_load("a", lambda k: c.get_or_load("b", lambda k2: 2) + 1) == 3


def test_refresh_ahead_serves_the_stale_value_and_reloads_once():
    clk = Clock()
    version = [1]
    calls = []
    done = threading.Event()

    def load(k):
        calls.append(version[0])
        done.set()
        return version[0]

    c = Cache(refresh_after=2.0, ttl=60.0, clock=clk)
    assert c.get_or_load("k", load) == 1
    version[0] = 2
    clk.advance(2.0)
    done.clear()
    assert [c.get_or_load("k", load) for _ in range(5)] == [1] * 5   # stale, at once
    assert done.wait(30)
    for _ in range(100000):                   # the reload's put follows its return
        if c.peek("k") == 2:
            break
        threading.Event().wait(0.0001)
    assert c.get_or_load("k", load) == 2
    assert calls == [1, 2]                    # exactly one reload


def test_a_failed_reload_keeps_the_old_value():
    clk = Clock()
    failed = threading.Event()

    def load(k):
        if failed.is_set():
            return "fresh"
        failed.set()
        raise OSError("source down")

    c = Cache(refresh_after=1.0, ttl=60.0, clock=clk)
    c.add("k", "old")
    clk.advance(1.0)
    assert c.get_or_load("k", load) == "old"
    assert failed.wait(30)
    assert c.get("k") == "old"


# ---- byte budget, resize ------------------------------------------------------------------

def test_max_bytes_counts_sys_getsizeof_and_holds():
    c = Cache(max_cache_size=1000, max_bytes=10_000)
    for i in range(1000):
        c.add(i, "x" * 100)
    per = 48 + sys.getsizeof(5) + sys.getsizeof("x" * 100)
    assert len(c) == 10_000 // per
    assert c.max_bytes == 10_000


def test_a_weigher_decides_the_weight():
    c = Cache(max_cache_size=1000, max_bytes=1000, weigher=lambda k, v: len(v))
    c.add("a", "x" * 400)
    c.add("b", "y" * 400)
    c.add("c", "z" * 400)                     # 3 x (48 + 400) > 1000: the oldest goes
    assert sorted(c.keys()) == ["b", "c"]
    with pytest.raises(TypeError, match="weigher"):
        Cache(max_bytes=1000, weigher=lambda k, v: "heavy").add("k", "v")


def test_resize_shrinks_by_the_strategy_and_grows():
    seen = []
    c = Cache(max_cache_size=100, on_remove=lambda k, v, r: seen.append((k, r)))
    for i in range(100):
        c.add(i, i)
    c.resize(max_cache_size=10)
    assert len(c) == 10 and c.max_cache_size == 10
    assert sorted(c.keys()) == list(range(90, 100))
    assert seen == [(i, "evicted") for i in range(90)]
    c.resize(max_cache_size=1000)
    for i in range(500):
        c.add(i, i)
    assert len(c) == 500
    with pytest.raises(ValueError):
        c.resize(max_cache_size=0)
    with pytest.raises(ValueError, match="weigher"):
        c.resize(max_bytes=1000)
    d = Cache(max_cache_size=100, max_bytes=100_000)
    for i in range(100):
        d.add(i, "v" * 50)
    d.resize(max_bytes=1000)
    assert d._counters()["entries"] < 10 and d.max_bytes == 1000


# ---- peek, TTLs, order ---------------------------------------------------------------------

def test_peek_counts_nothing_and_keeps_the_order():
    c = Cache(max_cache_size=2)
    c.add("a", 1)
    c.add("b", 2)
    before = c.totals["total_requests"]
    assert c.peek("a") == 1 and c.peek("zz", "d") == "d"
    assert c.totals["total_requests"] == before
    c.add("c", 3)                             # a was not touched: it goes
    assert "a" not in c


def test_ttls_can_be_read_and_changed():
    clk = Clock()
    c = Cache(ttl=10.0, clock=clk)
    c.add("k", 1)
    clk.advance(4)
    assert c.ttl_get("k") == pytest.approx(6.0)
    c.ttl_set("k", 1.0)
    clk.advance(1.0)
    assert c.get("k") is None
    with pytest.raises(KeyError):
        c.ttl_get("k")
    c.add("n", 1)
    c.ttl_set("n", float("inf"))
    assert c.ttl_get("n") == float("inf")


def test_hottest_and_coldest_follow_the_strategy():
    c = Cache(max_cache_size=10)
    for i in range(10):
        c.add(i, str(i))
    c.get(3)
    assert c.hottest(2) == [(3, "3"), (9, "9")]
    assert c.coldest(2) == [(0, "0"), (1, "1")]
    with pytest.raises(NotImplementedError):
        Cache(strategy="random").hottest(1)


# ---- snapshots ----------------------------------------------------------------------------

def test_save_and_load_round_trip_with_pickle(tmp_path):
    clk = Clock()
    c = Cache(max_cache_size=100, ttl=60.0, clock=clk)
    for i in range(50):
        c.add(("key", i), {"value": i, "list": list(range(i % 5))})
    c.add("short", "s", ttl=5.0)
    clk.advance(2.0)
    p = tmp_path / "cache.snap"
    c.save(p)
    d = Cache(max_cache_size=100, ttl=60.0, clock=clk)
    d.load(str(p))
    assert sorted(d.items(), key=repr) == sorted(c.items(), key=repr)
    assert d.ttl_get("short") == pytest.approx(3.0)


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign", "empty"])
def test_a_bad_snapshot_raises_value_error_and_changes_nothing(tmp_path, damage):
    c = Cache(max_cache_size=100)
    for i in range(30):
        c.add(i, "v%d" % i)
    p = tmp_path / "cache.snap"
    c.save(p)
    data = p.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
    elif damage == "foreign":
        data = pickle.dumps({"not": "a snapshot"})
    else:
        data = b""
    p.write_bytes(data)
    d = Cache(max_cache_size=100)
    d.add("mine", 1)
    with pytest.raises(ValueError, match="snapshot"):
        d.load(p)
    assert list(d.items()) == [("mine", 1)]


def test_unpicklable_values_make_save_fail_and_keep_the_old_file(tmp_path):
    p = tmp_path / "cache.snap"
    c = Cache()
    c.add("ok", 1)
    c.save(p)
    old = p.read_bytes()
    c.add("lock", threading.Lock())
    with pytest.raises(TypeError):
        c.save(p)
    assert p.read_bytes() == old
    assert [f for f in os.listdir(tmp_path)] == ["cache.snap"]   # no temporary left behind
    with pytest.raises(OSError):
        c.load(tmp_path / "missing.snap")
