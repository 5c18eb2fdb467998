"""Expiry: the cache's ttl and per-entry ttl, on an injected clock (the
cache's manual_clock test hook), plus one real short TTL on the wall clock."""
import time

import pytest

from macho import Cache


def test_an_entry_expires_after_the_caches_ttl():
    c = Cache(max_cache_size=10, ttl=5.0, _manual_clock=True)
    c.add("k", "v")
    c._advance_clock(4.9)
    assert c.get("k") == "v"
    c._advance_clock(0.2)
    assert c.get("k") is None
    assert "k" not in c
    with pytest.raises(KeyError):
        c["k"]


def test_a_per_entry_ttl_overrides_the_caches():
    c = Cache(ttl=100.0, _manual_clock=True)
    c.add("short", 1, ttl=1.0)
    c.add("long", 2)
    c.add("forever", 3, ttl=float("inf"))
    c._advance_clock(2)
    assert (c.get("short"), c.get("long"), c.get("forever")) == (None, 2, 3)
    c._advance_clock(1000)
    assert (c.get("long"), c.get("forever")) == (None, 3)


@pytest.mark.parametrize("ttl, exc", [(0, ValueError), (-1.0, ValueError),
                                      (float("nan"), ValueError), ("1", TypeError),
                                      (True, TypeError)])
def test_a_bad_per_entry_ttl_is_rejected(ttl, exc):
    c = Cache()
    with pytest.raises(exc, match="ttl"):
        c.add("k", 1, ttl=ttl)
    assert len(c) == 0


def test_adding_again_restarts_the_ttl():
    c = Cache(ttl=5.0, _manual_clock=True)
    c.add("k", 1)
    c._advance_clock(4)
    c.add("k", 2)
    c._advance_clock(4)
    assert c.get("k") == 2


def test_expire_reclaims_every_expired_entry_at_once():
    c = Cache(max_cache_size=100, ttl=1.0, shard_count=4, _manual_clock=True)
    for i in range(50):
        c.add(i, i)
    c.add("keep", 1, ttl=60.0)
    c._advance_clock(2)
    assert c.expire() == 50
    assert c.keys() == ["keep"] and c.metrics[0]["current_size"] + c.totals["current_size"] >= 1
    assert c.totals["expirations"] == 50 and c.totals["evictions"] == 0


def test_the_clock_hook_needs_a_manual_clock_cache():
    with pytest.raises(RuntimeError):
        Cache()._advance_clock(1)


def test_a_short_real_ttl_expires_on_the_wall_clock():
    c = Cache(ttl=0.05)
    c.add("k", "v")
    assert c.get("k") == "v"
    time.sleep(0.08)
    assert c.get("k") is None


def test_a_short_real_ttl_expires_on_the_coarse_clock_too():
    c = Cache(ttl=0.05, metrics=False)  # CLOCK_MONOTONIC_COARSE: a few ms late at most
    c.add("k", "v")
    assert c.get("k") == "v"
    time.sleep(0.08)
    assert c.get("k") is None
