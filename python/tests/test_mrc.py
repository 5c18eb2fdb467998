"""cache.mrc() and cache.policy_current(): the live miss-ratio curve and the
policy 'auto' follows, from the Python binding (libmacho's macho_mrc_get and
macho_policy_current)."""
import random

import pytest

from macho import Cache


def _replay(cache, keys):
    for k in keys:
        if cache.get(k) is None:
            cache.add(k, k)


def test_the_curve_is_off_unless_asked_for():
    c = Cache(max_cache_size=50)
    with pytest.raises(RuntimeError, match="mrc=True"):
        c.mrc()
    with pytest.raises(TypeError, match="mrc"):
        Cache(max_cache_size=50, mrc=1)


def test_a_small_cache_gets_the_exact_curve():
    rnd = random.Random(7)
    keys = [min(rnd.randrange(2000), rnd.randrange(2000)) for _ in range(20000)]
    c = Cache(max_cache_size=100, strategy="lru", ttl=float("inf"), mrc=True)
    assert all(v is None for v in c.mrc().values())
    _replay(c, keys)
    curve = c.mrc()
    assert sorted(curve) == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    for multiple, estimate in curve.items():
        real = Cache(max_cache_size=int(100 * multiple), strategy="lru", ttl=float("inf"))
        _replay(real, keys)
        t = real.totals
        assert estimate == pytest.approx(t["misses"] / (t["hits"] + t["misses"]), abs=1e-12)
    # larger is never worse for LRU
    values = [curve[m] for m in sorted(curve)]
    assert values == sorted(values, reverse=True)


def test_auto_says_which_policy_it_follows():
    c = Cache(max_cache_size=300, strategy="auto", ttl=float("inf"))
    assert c.policy_current() == "wtinylfu"  # where auto starts
    length = 450  # a loop that reverses: LRU keeps what comes back first
    keys = [(i % length if (i // length) % 2 == 0 else length - 1 - i % length) for i in range(60000)]
    _replay(c, keys)
    assert c.policy_current() in ("lru", "arc")
    assert Cache(max_cache_size=10, strategy="fifo").policy_current() == "fifo"
