"""Expiry: the cache's ttl and per-entry ttl, on an injected clock (the
cache's clock= hook, FakeClock in conftest.py): nothing here sleeps."""
import pytest

from macho import Cache


def test_an_entry_expires_after_the_caches_ttl(clock):
    c = Cache(max_cache_size=10, ttl=5.0, clock=clock)
    c.add("k", "v")
    clock.advance(4.999)
    assert c.get("k") == "v"
    clock.advance(0.002)  # whole milliseconds past the TTL (the core's ticks are 1 ms)
    assert c.get("k") is None
    assert "k" not in c
    with pytest.raises(KeyError):
        c["k"]


def test_a_short_ttl_of_50_ms_expires_on_the_injected_clock(clock):
    # Formerly a real 50 ms TTL and an 80 ms sleep.
    c = Cache(ttl=0.05, clock=clock)
    c.add("k", "v")
    clock.advance(0.049)
    assert c.get("k") == "v"
    clock.advance(0.002)
    assert c.get("k") is None


def test_a_per_entry_ttl_overrides_the_caches(clock):
    c = Cache(ttl=100.0, clock=clock)
    c.add("short", 1, ttl=1.0)
    c.add("long", 2)
    c.add("forever", 3, ttl=float("inf"))
    clock.advance(2)
    assert (c.get("short"), c.get("long"), c.get("forever")) == (None, 2, 3)
    clock.advance(1000)
    assert (c.get("long"), c.get("forever")) == (None, 3)


@pytest.mark.parametrize("ttl, exc", [(0, ValueError), (-1.0, ValueError), (float("-inf"), ValueError),
                                      (float("nan"), ValueError), ("1", TypeError),
                                      (True, TypeError), (10**400, OverflowError)])
def test_a_bad_per_entry_ttl_is_rejected(ttl, exc):
    c = Cache()
    c.add("old", 0)
    with pytest.raises(exc, match="ttl|float"):
        c.add("k", 1, ttl=ttl)
    assert list(c) == ["old"]


def test_adding_again_restarts_the_ttl(clock):
    c = Cache(ttl=5.0, clock=clock)
    c.add("k", 1)
    clock.advance(4)
    c["k"] = 2
    clock.advance(4)
    assert c.get("k") == 2


def test_expire_reclaims_every_expired_entry_at_once(clock):
    c = Cache(max_cache_size=100, ttl=1.0, shard_count=4, clock=clock)
    for i in range(50):
        c.add(i, i)
    c.add("keep", 1, ttl=60.0)
    clock.advance(2)
    assert c.expire() == 50
    assert list(c) == ["keep"] and len(c) == 1
    assert c.totals["expirations"] == 50 and c.totals["evictions"] == 0


def test_iteration_never_shows_an_expired_entry(clock):
    c = Cache(max_cache_size=10, ttl=5.0, clock=clock)
    c["old"] = 1
    clock.advance(3)
    c["new"] = 2
    clock.advance(2.5)  # old expired, not yet reclaimed
    assert list(c) == ["new"] and dict(c.items()) == {"new": 2} and list(c.values()) == [2]
    assert c == {"new": 2}


def test_the_clock_never_goes_back(clock):
    c = Cache(ttl=5.0, clock=clock)
    c["k"] = 1
    clock.advance(6)
    assert c.get("k") is None
    c["j"] = 2
    clock.advance(-100)  # a clock that jumps back: time stands still instead
    assert c.get("j") == 2
    clock.advance(100 + 5.001)
    assert c.get("j") is None


def test_metrics_false_still_expires_entries(clock):
    c = Cache(ttl=3.0, metrics=False, clock=clock)
    c.add("k", 1)
    clock.advance(4)
    assert c.get("k") is None
