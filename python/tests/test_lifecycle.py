"""A cache's life: pickle and copy (configuration and live entries, with the
TTL each has left), close() and the context manager (any call after close
raises CacheClosedError), including a close from inside a running call."""
import collections.abc
import copy
import gc
import pickle
import sys

import pytest

import macho
from macho import Cache, CacheClosedError

from conftest import FakeClock


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_keeps_configuration_entries_and_remaining_ttls(protocol):
    clock = FakeClock()
    c = Cache(max_cache_size=50, ttl=10.0, shard_count=3, strategy="FIFO", seed=99,
              clock=clock)
    c["default"] = "d"               # 10 s
    c.add("short", "s", ttl=2.0)     # 2 s
    c.add("forever", [1, 2], ttl=float("inf"))
    c.add("gone", 0, ttl=1.0)
    clock.advance(1.5)               # gone has expired; short has 0.5 s left, default 8.5 s
    c.get("default")
    d = pickle.loads(pickle.dumps(c, protocol))
    assert type(d) is Cache and d is not c
    assert (d.max_cache_size, d.ttl, d.shard_count, d.strategy, d.bloom, d.probability) == \
        (50, 10.0, 3, "FIFO", False, 0.5)
    assert dict(d.items()) == {"default": "d", "short": "s", "forever": [1, 2]}
    assert d.total_requests == 0  # fresh counters
    d_clock = d._clock  # the clock was pickled with it: a copy at the same time
    assert d_clock is not clock and d_clock() == clock()
    d_clock.advance(0.499)
    assert d.get("short") == "s"
    d_clock.advance(0.002)
    assert d.get("short") is None and d.get("default") == "d"
    d_clock.advance(8)
    assert d.get("default") is None and d.get("forever") == [1, 2]


def test_copy_shares_the_objects_and_deepcopy_copies_them():
    c = Cache(max_cache_size=5)
    value = [1]
    c["k"] = value
    shallow, deep = copy.copy(c), copy.deepcopy(c)
    assert shallow["k"] is value and c.copy()["k"] is value
    assert deep["k"] == value and deep["k"] is not value
    shallow["new"] = 1
    assert "new" not in c


def test_a_pickled_cache_restores_without_evicting():
    c = Cache(max_cache_size=64, shard_count=4, seed=7)
    for i in range(1000):
        c[i] = i
    d = pickle.loads(pickle.dumps(c))
    assert dict(d.items()) == dict(c.items()) and len(d) == 64
    assert d.totals["evictions"] == 0


def test_an_unpicklable_clock_makes_pickling_fail_clearly():
    c = Cache(clock=lambda: 0.0)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(c)


def test_with_closes_the_cache_and_every_later_call_raises():
    with Cache() as c:
        c["k"] = "v"
        assert c["k"] == "v"
    assert c.closed
    calls = [lambda: c["k"], lambda: c.get("k"), lambda: c.add("k", 1),
             lambda: c.__setitem__("k", 1), lambda: c.__delitem__("k"), lambda: "k" in c,
             lambda: len(c), lambda: list(c), lambda: c.delete("k"), lambda: c.clear(),
             lambda: c.expire(), lambda: c.metrics, lambda: c.stats(), lambda: c.total_requests,
             lambda: c.items(), lambda: pickle.dumps(c), lambda: copy.copy(c)]
    for call in calls:
        with pytest.raises(CacheClosedError, match="closed"):
            r = call()
            if isinstance(r, collections.abc.ItemsView):
                list(r)
    assert isinstance(CacheClosedError("x"), ValueError)
    c.close()  # idempotent
    assert repr(c) == "<Cache(size=100, ttl=600.0, eviction strategy=lru)>"


def test_close_releases_every_value_at_once():
    value = object()
    before = sys.getrefcount(value)
    c = Cache()
    c["a"] = value
    c["b"] = value
    c.close()
    assert sys.getrefcount(value) == before


class Collide:
    """A key whose lookup runs __eq__, which runs `hook` (Python code mid-call)."""

    def __init__(self, name, hook=None):
        self.name, self.hook = name, hook

    def __hash__(self):
        return 7

    def __eq__(self, other):
        if self.hook:
            self.hook()
        return isinstance(other, Collide) and other.name == self.name


def test_a_close_from_inside_a_running_call_waits_for_it():
    c = Cache()
    c[Collide("x")] = "value"
    held = object()
    c["other"] = held
    before = sys.getrefcount(held)
    # The lookup's __eq__ closes the cache: the lookup finishes on the live
    # cache, then the cache is freed, and the next call raises.
    assert c.get(Collide("x", hook=c.close)) == "value"
    assert c.closed
    with pytest.raises(CacheClosedError):
        c.get("other")
    gc.collect()
    assert sys.getrefcount(held) == before - 1


def test_a_finaliser_that_uses_a_closing_cache_gets_the_closed_error():
    c = Cache()
    seen = []

    class Finaliser:
        def __del__(self):
            try:
                c.get("x")
            except CacheClosedError as e:
                seen.append(type(e))

    c["f"] = Finaliser()
    c.close()
    gc.collect()
    assert seen == [CacheClosedError]


def test_closing_stops_the_dashboard():
    if not macho._macho.HAVE_DASHBOARD:
        pytest.skip("built without the dashboard")
    c = Cache()
    dash = macho.launch_dashboard(c, quiet=True, block=False)
    assert dash.running and c.dashboard is dash
    c.close()
    assert not dash.running and c.dashboard is None
    dash.stop()  # harmless after close
