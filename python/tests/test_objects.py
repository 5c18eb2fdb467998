"""Keys and values as Python objects: hashing and equality callbacks that
raise or re-enter the cache, and reference counts (values kept alive while
cached, released on eviction, expiry, delete, replace, clear and dealloc)."""
import gc
import sys

import pytest

from macho import Cache


class Boom(Exception):
    pass


class Collide:
    """A key whose hash is fixed, so every lookup of it calls __eq__."""

    def __init__(self, name, on_eq=None):
        self.name = name
        self.on_eq = on_eq

    def __hash__(self):
        return 42

    def __eq__(self, other):
        if self.on_eq:
            self.on_eq(self, other)
        return isinstance(other, Collide) and other.name == self.name

    def __repr__(self):
        return "Collide(%r)" % self.name


class BadHash:
    def __hash__(self):
        raise Boom("hash")


@pytest.mark.parametrize("call", [
    lambda c, k: c.get(k),
    lambda c, k: c.add(k, 1),
    lambda c, k: c.delete(k),
    lambda c, k: k in c,
    lambda c, k: c[k],
])
def test_a_raising_hash_propagates_and_leaves_the_cache_intact(call):
    c = Cache(max_cache_size=4)
    c.add("a", 1)
    with pytest.raises(Boom):
        call(c, BadHash())
    assert len(c) == 1 and c.get("a") == 1 and list(c) == ["a"]


def test_a_raising_eq_propagates_and_leaves_the_cache_intact():
    c = Cache(max_cache_size=4)
    stored = Collide("stored")
    c.add(stored, "v")

    def boom(self, other):
        raise Boom("eq")

    probe = Collide("probe", on_eq=boom)
    for call in (lambda: c.get(probe), lambda: c.add(probe, 1), lambda: c.delete(probe),
                 lambda: probe in c, lambda: c[probe]):
        with pytest.raises(Boom):
            call()
        assert len(c) == 1 and c.get(stored) == "v"
    c.add(Collide("other"), 2)
    assert len(c) == 2


@pytest.mark.parametrize("key", [[1, 2], {"a": 1}, {1, 2}, bytearray(b"x")])
def test_unhashable_keys_raise_typeerror_like_a_dict(key):
    c = Cache()
    for call in (lambda: c.add(key, 1), lambda: c.get(key), lambda: c.delete(key),
                 lambda: key in c, lambda: c[key]):
        with pytest.raises(TypeError, match="unhashable"):
            call()
    assert len(c) == 0


def test_an_eq_that_reads_the_same_cache_does_not_deadlock():
    c = Cache(max_cache_size=8)
    seen = []

    def reenter(self, other):
        seen.append(c.get("plain"))
        c.add("side", len(seen))  # a write while the lookup is half done

    c.add("plain", "p")
    c.add(Collide("x"), "x-value")
    assert c.get(Collide("x", on_eq=reenter)) == "x-value"
    assert seen and seen[0] == "p"
    assert c.get("side") >= 1
    c.add(Collide("x", on_eq=reenter), "new")  # replace through a re-entering __eq__
    assert c.get(Collide("x")) == "new" and len(c) == 3


def test_an_eq_that_clears_the_cache_mid_lookup_is_survived():
    c = Cache(max_cache_size=8)
    cleared = []

    def clear_once(self, other):
        if not cleared:
            cleared.append(True)
            c.clear()

    c.add(Collide("x"), 1)
    assert c.get(Collide("x", on_eq=clear_once)) is None
    assert len(c) == 0
    c.add(Collide("y"), 2)
    assert c.get(Collide("y")) == 2


def test_a_value_whose_finaliser_uses_the_cache_is_released_safely():
    c = Cache(max_cache_size=1)
    log = []

    class Finaliser:
        def __del__(self):
            log.append(c.get("k2"))
            c.add("from_del", 1)

    c.add("k1", Finaliser())
    c.add("k2", "two")  # evicts k1: its value dies with no lock held
    gc.collect()
    assert log == [None] or log == ["two"]
    assert len(c) == 1


def refs(o):
    return sys.getrefcount(o)


def test_values_and_keys_are_held_while_cached_and_released_on_eviction():
    c = Cache(max_cache_size=1)
    key, value = object(), object()
    k0, v0 = refs(key), refs(value)
    c.add(key, value)
    assert (refs(key), refs(value)) == (k0 + 1, v0 + 1)
    got = c.get(key)
    assert got is value and refs(value) == v0 + 2
    del got
    c.add("other", 1)  # evicts
    assert (refs(key), refs(value)) == (k0, v0)


def test_values_are_released_on_replace_delete_clear_and_dealloc():
    value, other = object(), object()
    v0, o0 = refs(value), refs(other)
    c = Cache(max_cache_size=4)
    c.add("k", value)
    c.add("k", other)
    assert refs(value) == v0 and refs(other) == o0 + 1
    c.delete("k")
    assert refs(other) == o0
    c.add("k", value)
    c.clear()
    assert refs(value) == v0
    c.add("k", value)
    c.add("j", value)
    assert refs(value) == v0 + 2
    del c
    gc.collect()
    assert refs(value) == v0


def test_values_are_released_on_expiry(clock):
    c = Cache(max_cache_size=4, ttl=10.0, clock=clock)
    value = object()
    v0 = refs(value)
    c.add("k", value)
    clock.advance(11)
    assert c.expire() == 1
    assert refs(value) == v0 and len(c) == 0


def test_a_missing_key_lookup_leaks_nothing():
    c = Cache()
    default = object()
    d0 = refs(default)
    for _ in range(100):
        assert c.get("absent", default) is default
    assert refs(default) == d0


def test_many_cycles_leave_reference_counts_where_they_started():
    c = Cache(max_cache_size=16, shard_count=4)
    values = [object() for _ in range(8)]
    before = [refs(v) for v in values]
    for i in range(2000):
        c.add(i % 40, values[i % 8])
        c.get((i * 7) % 40)
        if i % 13 == 0:
            c.delete(i % 40)
    c.clear()
    assert [refs(v) for v in values] == before


def test_a_finaliser_that_adds_during_clear_leaves_a_consistent_cache():
    c = Cache(max_cache_size=4, shard_count=2)

    class Adder:
        def __init__(self, n):
            self.n = n

        def __del__(self):
            c.add(("from_del", self.n), self.n)

    for i in range(4):
        c.add(i, Adder(i))
    c.clear()
    gc.collect()
    assert len(c) <= 4
    assert all(isinstance(k, tuple) and k[0] == "from_del" for k in c)
    for k in list(c):
        assert c.get(k) == k[1]


def test_a_cache_can_be_weakly_referenced():
    import weakref
    c = Cache()
    r = weakref.ref(c)
    assert r() is c
    del c
    gc.collect()
    assert r() is None
