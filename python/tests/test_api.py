"""The public surface of macho.Cache as a drop-in for the original macho:
every argument value the original accepts is accepted and means the same
(casefolded strategy, bools as ints, any float ttl); what it rejects raises
the same exception type; the methods, properties and dict keys it had."""
import math

import pytest

import macho
from macho import Cache


# ---- constructor: what the original accepts means the same ------------------------

def test_defaults_are_the_originals():
    c = Cache()
    assert (c.max_cache_size, c.ttl, c.shard_count, c.strategy, c.bloom, c.probability) == \
        (100, 600.0, 1, "lru", False, 0.5)
    assert c.filter == "none"
    assert repr(c) == "<Cache(size=100, ttl=600.0, eviction strategy=lru)>"
    assert c.get_metrics() == {"max_cache_size": 100, "current_size": 0, "ttl": 600.0,
                               "shard_count": 1, "bloom": False, "probability": 0.5}


@pytest.mark.parametrize("given", ["LRU", "Lru", "lRu"])
def test_strategy_is_case_insensitive_as_in_the_original(given):
    c = Cache(max_cache_size=2, strategy=given)
    assert c.strategy == given  # kept as given, as the original kept it
    c.add("a", 1)
    c.add("b", 2)
    c.get("a")          # LRU: a is now the most recent
    c.add("c", 3)       # evicts b
    assert sorted(c) == ["a", "c"]


@pytest.mark.parametrize("given", ["FIFO", "Random", "S3FIFO", "WTinyLFU"])
def test_every_strategy_name_casefolds(given):
    if given.casefold() not in macho.strategies():
        pytest.skip("%s is not built" % given)
    c = Cache(max_cache_size=4, strategy=given)
    for i in range(10):
        c.add(i, i)
    assert len(c) == 4


def test_bools_are_ints_where_the_original_took_ints():
    # isinstance(True, int) holds, so the original accepted True as 1.
    c = Cache(max_cache_size=True, shard_count=True)
    assert c.max_cache_size == 1 and c.shard_count == 1
    c.add("a", 1)
    c.add("b", 2)
    assert len(c) == 1 and c.get("b") == 2


@pytest.mark.parametrize("ttl", [0.0, -0.0, -5.0, -math.inf])
def test_a_ttl_of_zero_or_less_expires_every_entry_at_once(ttl, clock):
    # The original stored deadline = now + ttl, already past: get() missed.
    c = Cache(max_cache_size=2, ttl=ttl, clock=clock)
    c.add("x", 1)
    c.add("y", 2)
    c["z"] = 3
    assert c.get("x") is None and "y" not in c and len(c) == 0
    c.add("kept", 4, ttl=10.0)  # a per-entry ttl still holds
    assert c["kept"] == 4


@pytest.mark.parametrize("ttl", [math.inf, math.nan])
def test_a_ttl_of_inf_or_nan_never_expires(ttl, clock):
    # NaN: the original's `now > created + nan` is never true.
    c = Cache(ttl=ttl, clock=clock)
    c.add("k", "v")
    clock.advance(10**9)
    assert c.get("k") == "v"


def test_ttl_accepts_an_int_beyond_the_original():
    c = Cache(ttl=5)
    assert c.ttl == 5.0 and isinstance(c.ttl, float)


def test_probability_without_bloom_is_only_checked():
    assert Cache(probability=1e-300).probability == 1e-300
    assert Cache(probability=0.999999).probability == 0.999999


# ---- constructor: what the original rejects raises the same ---------------------------

@pytest.mark.parametrize("kwargs, exc, words", [
    ({"max_cache_size": "10"}, TypeError, "max_cache_size"),
    ({"max_cache_size": 10.0}, TypeError, "max_cache_size"),
    ({"max_cache_size": None}, TypeError, "max_cache_size"),
    ({"ttl": "600"}, TypeError, "ttl"),
    ({"ttl": None}, TypeError, "ttl"),
    ({"ttl": True}, TypeError, "ttl"),
    ({"ttl": 1j}, TypeError, "ttl"),
    ({"shard_count": 1.0}, TypeError, "shard_count"),
    ({"shard_count": "2"}, TypeError, "shard_count"),
    ({"shard_count": 0}, ValueError, "shard_count"),
    ({"shard_count": -3}, ValueError, "shard_count"),
    ({"shard_count": False}, ValueError, "shard_count"),
    ({"strategy": 1}, TypeError, "strategy"),
    ({"strategy": None}, TypeError, "strategy"),
    ({"strategy": "something"}, ValueError, "strategy"),
    ({"strategy": ""}, ValueError, "strategy"),
    ({"bloom": 1}, TypeError, "bloom"),
    ({"bloom": "yes"}, TypeError, "bloom"),
    ({"bloom": None}, TypeError, "bloom"),
    ({"probability": "0.5"}, TypeError, "probability"),
    ({"probability": 1}, TypeError, "probability"),
    ({"probability": True}, TypeError, "probability"),
    ({"probability": 0.0}, ValueError, "probability"),
    ({"probability": 1.0}, ValueError, "probability"),
    ({"probability": -0.1}, ValueError, "probability"),
    ({"probability": math.nan}, ValueError, "probability"),
    ({"probability": math.inf}, ValueError, "probability"),
])
def test_what_the_original_rejects_raises_the_same_exception(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        Cache(**kwargs)


@pytest.mark.parametrize("kwargs, exc, words", [
    # The original built these and then failed on the first add (KeyError
    # from an empty OrderedDict); we refuse them up front.
    ({"max_cache_size": 0}, ValueError, "max_cache_size"),
    ({"max_cache_size": -1}, ValueError, "max_cache_size"),
    ({"max_cache_size": False}, ValueError, "max_cache_size"),
    ({"max_cache_size": 4, "shard_count": 5}, ValueError, "shard_count"),
    # Keyword-only arguments of ours.
    ({"filter": 3}, TypeError, "filter"),
    ({"filter": "quotient"}, ValueError, "filter"),
    ({"bloom": True, "filter": "xor"}, ValueError, "bloom"),
    ({"seed": "1"}, TypeError, "seed"),
    ({"metrics": 1}, TypeError, "metrics"),
    ({"clock": 5}, TypeError, "clock"),
])
def test_what_the_original_built_broken_is_refused_up_front(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        Cache(**kwargs)


def test_a_known_strategy_not_built_says_so():
    missing = [n for n, ok in macho._macho.policies() if not ok]
    if not missing:
        pytest.skip("every policy is built")
    with pytest.raises(ValueError, match="not implemented"):
        Cache(strategy=missing[0])


def test_bloom_true_means_the_bloom_filter():
    c = Cache(max_cache_size=50, bloom=True, probability=0.01)
    assert c.bloom and c.filter == "bloom"
    c.add("random_key", "Charizard")
    assert c.get("random_key") == "Charizard"
    assert c.get("not_present") is None


def test_configuration_attributes_are_read_only():
    c = Cache()
    with pytest.raises(AttributeError):
        c.ttl = 5.0


# ---- the original's methods ------------------------------------------------------------

def test_get_returns_none_or_the_default_when_absent():
    c = Cache()
    assert c.get("nope") is None
    assert c.get("nope", 7) == 7
    assert c.get(key="nope", default=8) == 8
    c.add("k", "v")
    assert c.get("k", 7) == "v"


def test_get_rejects_bad_argument_lists():
    c = Cache()
    for call in (lambda: c.get(), lambda: c.get(1, 2, 3), lambda: c.get(1, nokey=2),
                 lambda: c.get(1, key=2)):
        with pytest.raises(TypeError):
            call()


def test_add_accepts_the_originals_keyword_names():
    c = Cache()
    c.add(key="a", entry=1)
    c.add(key="b", value=2)
    assert (c.get("a"), c.get("b")) == (1, 2)
    with pytest.raises(TypeError):
        c.add("a")
    with pytest.raises(TypeError):
        c.add("a", value=1, entry=2)


def test_add_replaces_the_value_of_an_existing_key():
    c = Cache(max_cache_size=2)
    c.add("k", 1)
    c.add("k", 2)
    assert len(c) == 1 and c.get("k") == 2


def test_delete_says_whether_the_key_was_there():
    c = Cache()
    c.add(1, "one")
    assert c.delete(1) is True
    assert c.delete(1) is False
    assert 1 not in c and len(c) == 0


def test_clear_drops_every_entry():
    c = Cache(max_cache_size=10, shard_count=3)
    for i in range(10):
        c.add(i, i)
    c.clear()
    assert len(c) == 0 and c.current_size == 0 and list(c) == []
    c.add(1, 1)
    assert c.get(1) == 1


def test_equal_keys_of_different_types_are_one_key_as_in_a_dict():
    c = Cache()
    c.add(1, "int")
    assert c.get(1.0) == "int" and c.get(True) == "int"
    c.add(1.0, "float")
    assert len(c) == 1 and c.get(1) == "float"


def test_every_implemented_strategy_can_be_used():
    names = macho.strategies()
    assert {"lru", "fifo", "random"} <= set(names)
    for name in names:
        c = Cache(max_cache_size=8, strategy=name)
        for i in range(20):
            c.add(i, i)
        assert len(c) == 8
        assert c.get(19) == 19


def test_a_subclass_can_extend_the_cache():
    class Counting(Cache):
        __slots__ = ("adds",)

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.adds = 0

        def add(self, key, value, ttl=None):
            self.adds += 1
            super().add(key, value, ttl)

    c = Counting(max_cache_size=3)
    c.add(1, 2)
    assert c.adds == 1 and c[1] == 2


def test_an_uninitialised_cache_raises_instead_of_crashing():
    c = macho._macho.CacheCore.__new__(Cache)
    with pytest.raises(RuntimeError, match="not initialised"):
        c.get(1)
    with pytest.raises(RuntimeError):
        len(c)


def test_a_cache_cannot_be_initialised_twice():
    c = Cache(max_cache_size=3)
    c.add(1, 1)
    with pytest.raises(RuntimeError, match="twice"):
        c.__init__(max_cache_size=5)
    assert c.get(1) == 1


def test_help_shows_the_docstrings():
    assert "max_cache_size" in Cache.__doc__
    assert "default" in Cache.get.__doc__ and "ttl" in Cache.add.__doc__


def test_a_cache_can_be_weakly_referenced():
    import gc
    import weakref
    c = Cache()
    r = weakref.ref(c)
    assert r() is c
    del c
    gc.collect()
    assert r() is None
