"""The public surface of macho.Cache: constructor checks as the original
macho made them, the methods, the properties and the dict keys they carry."""
import math

import pytest

import macho
from macho import Cache


# ---- constructor arguments --------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, words", [
    ({"max_cache_size": "10"}, TypeError, "max_cache_size"),
    ({"max_cache_size": 10.0}, TypeError, "max_cache_size"),
    ({"max_cache_size": True}, TypeError, "max_cache_size"),
    ({"max_cache_size": 0}, ValueError, "max_cache_size"),
    ({"ttl": "600"}, TypeError, "ttl"),
    ({"ttl": None}, TypeError, "ttl"),
    ({"ttl": True}, TypeError, "ttl"),
    ({"ttl": 0.0}, ValueError, "ttl"),
    ({"ttl": -1.0}, ValueError, "ttl"),
    ({"ttl": float("nan")}, ValueError, "ttl"),
    ({"shard_count": 1.0}, TypeError, "shard_count"),
    ({"shard_count": 0}, ValueError, "shard_count"),
    ({"shard_count": -3}, ValueError, "shard_count"),
    ({"max_cache_size": 4, "shard_count": 5}, ValueError, "shard_count"),
    ({"strategy": 1}, TypeError, "strategy"),
    ({"strategy": "something"}, ValueError, "strategy"),
    ({"strategy": "LRU"}, ValueError, "strategy"),
    ({"bloom": 1}, TypeError, "bloom"),
    ({"bloom": "yes"}, TypeError, "bloom"),
    ({"probability": "0.5"}, TypeError, "probability"),
    ({"probability": 0.0}, ValueError, "probability"),
    ({"probability": 1.0}, ValueError, "probability"),
    ({"probability": 1}, ValueError, "probability"),
    ({"filter": 3}, TypeError, "filter"),
    ({"filter": "quotient"}, ValueError, "filter"),
    ({"bloom": True, "filter": "xor"}, ValueError, "bloom"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        Cache(**kwargs)


def test_defaults_are_the_originals():
    c = Cache()
    assert (c.max_cache_size, c.ttl, c.shard_count, c.strategy, c.bloom, c.probability) == \
        (100, 600.0, 1, "lru", False, 0.5)
    assert c.filter == "none"
    assert repr(c) == "<Cache(size=100, ttl=600.0, eviction strategy=lru)>"
    assert c.get_metrics() == {"max_cache_size": 100, "current_size": 0, "ttl": 600.0,
                               "shard_count": 1, "bloom": False, "probability": 0.5}


def test_ttl_accepts_an_int_and_infinity():
    assert Cache(ttl=5).ttl == 5
    c = Cache(ttl=math.inf)
    c.add("k", "v")
    assert c.get("k") == "v"


def test_every_implemented_strategy_can_be_used():
    names = macho.strategies()
    assert {"lru", "fifo", "random"} <= set(names)
    for name in names:
        c = Cache(max_cache_size=8, strategy=name)
        for i in range(20):
            c.add(i, i)
        assert len(c) == 8
        assert c.get(19) == 19


def test_a_known_strategy_not_built_says_so():
    missing = [n for n, ok in macho._macho.policies() if not ok]
    if not missing:
        pytest.skip("every policy is built")
    with pytest.raises(ValueError, match="not implemented"):
        Cache(strategy=missing[0])


def test_a_known_filter_not_built_says_so():
    missing = [n for n, ok in macho._macho.filters() if not ok]
    if not missing:
        pytest.skip("every filter is built")
    with pytest.raises(ValueError, match="not implemented"):
        Cache(filter=missing[0])


def test_bloom_true_means_the_bloom_filter():
    if "bloom" not in macho.filters():
        with pytest.raises(ValueError, match="not implemented"):
            Cache(bloom=True)
        return
    c = Cache(max_cache_size=50, bloom=True, probability=0.01)
    assert c.bloom and c.filter == "bloom"
    c.add("random_key", "Charizard")
    assert c.get("random_key") == "Charizard"
    assert c.get("not_present") is None


# ---- operations -------------------------------------------------------------------

def test_get_returns_none_or_the_default_when_absent():
    c = Cache()
    assert c.get("nope") is None
    assert c.get("nope", 7) == 7
    assert c.get(key="nope", default=8) == 8
    c.add("k", "v")
    assert c.get("k", 7) == "v"


def test_get_rejects_bad_argument_lists():
    c = Cache()
    with pytest.raises(TypeError):
        c.get()
    with pytest.raises(TypeError):
        c.get(1, 2, 3)
    with pytest.raises(TypeError):
        c.get(1, nokey=2)
    with pytest.raises(TypeError):
        c.get(1, key=2)


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


def test_a_stored_none_is_a_value():
    c = Cache()
    c.add("k", None)
    assert "k" in c
    assert c["k"] is None
    assert c.get("k", "default") is None


def test_subscript_raises_keyerror_carrying_the_key():
    c = Cache()
    with pytest.raises(KeyError) as info:
        c[("a", 1)]
    assert info.value.args == (("a", 1),)


def test_delete_says_whether_the_key_was_there():
    c = Cache()
    c.add(1, "one")
    assert c.delete(1) is True
    assert c.delete(1) is False
    assert 1 not in c and len(c) == 0


def test_contains_is_a_peek_that_counts_nothing():
    c = Cache()
    c.add(1, 1)
    before = c.total_requests
    assert 1 in c and 2 not in c
    assert c.total_requests == before


def test_clear_drops_every_entry():
    c = Cache(max_cache_size=10, shard_count=3)
    for i in range(10):
        c.add(i, i)
    c.clear()
    assert len(c) == 0 and c.current_size == 0 and c.keys() == []
    c.add(1, 1)
    assert c.get(1) == 1


def test_keys_is_a_snapshot_of_what_is_stored():
    c = Cache(max_cache_size=50, shard_count=2)  # roomy: shards fill unevenly
    for i in range(5):
        c.add(str(i), i)
    assert sorted(c.keys()) == ["0", "1", "2", "3", "4"]


def test_equal_keys_of_different_types_are_one_key_as_in_a_dict():
    c = Cache()
    c.add(1, "int")
    assert c.get(1.0) == "int" and c.get(True) == "int"
    c.add(1.0, "float")
    assert len(c) == 1 and c.get(1) == "float"


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
    with pytest.raises(RuntimeError):
        c.get(1)
    with pytest.raises(RuntimeError):
        len(c)


# ---- counters and metrics ---------------------------------------------------------

def test_total_requests_counts_gets_and_adds():
    c = Cache()
    c.add(1, 1)
    c.get(1)
    c.get(2)
    c[1]
    assert c.total_requests == 4


def test_metrics_carry_the_original_keys():
    c = Cache(max_cache_size=2)
    c.add(1, 1)
    c.add(2, 2)
    c.add(3, 3)
    c.get(3)
    c.get(1)
    m = c.metrics
    for key in ("current_size", "max_size", "ttl", "hits", "misses", "total_requests",
                "hit_ratio", "evictions", "memory_size", "lifespan_metrics", "latencies"):
        assert key in m
    assert (m["hits"], m["misses"], m["evictions"], m["current_size"]) == (1, 1, 1, 2)
    assert m["total_requests"] == 5 and m["hit_ratio"] == 0.5
    assert m["memory_size"] > 0
    lat = c.latencies
    for op in ("add", "get"):
        for key in ("%s_latency_seconds", "max_%s_latency", "min_%s_latency", "%s_latency",
                    "%s_latency_p50", "%s_latency_p90", "%s_latency_p99"):
            assert key % op in lat
    life = c.metric_lifespan
    for key in ("max", "min", "count", "total", "average", "median", "all_lifespans",
                "p90", "p99"):
        assert key in life


def test_per_shard_properties_are_lists_with_one_dict_per_shard():
    c = Cache(max_cache_size=10, shard_count=3)
    for i in range(300):  # enough keys that every shard fills up
        c.add(i, i)
        c.get(i)
    assert c.current_size == 10
    assert c.total_requests == 600
    for prop in (c.metrics, c.latencies, c.metric_lifespan):
        assert isinstance(prop, list) and len(prop) == 3
    assert sum(m["max_size"] for m in c.metrics) == 10
    assert sum(m["current_size"] for m in c.metrics) == 10
    assert sum(m["evictions"] for m in c.metrics) == 290
    assert c.totals["evictions"] == 290 and c.totals["hits"] == 300


def test_lifespans_measure_time_from_add_to_removal():
    c = Cache(max_cache_size=2, ttl=100.0, _manual_clock=True)
    c.add(1, 1)
    c._advance_clock(5)
    c.add(2, 2)
    c._advance_clock(5)
    c.add(3, 3)        # evicts 1 at age 10
    c.delete(2)        # 2 leaves at age 5
    c._advance_clock(200)
    c.expire()         # 3 is reclaimed at age 200 (a lifespan ends at removal, as originally)
    life = c.metric_lifespan
    assert life["count"] == 3 and c.metrics["evictions"] == 1
    assert life["min"] == pytest.approx(5) and life["max"] == pytest.approx(200)
    assert life["total"] == pytest.approx(215) and life["average"] == pytest.approx(215 / 3)
    assert life["median"] == pytest.approx(10, rel=0.01)
    by = life["by_reason"]
    assert (by["evicted"]["count"], by["deleted"]["count"], by["expired"]["count"]) == (1, 1, 1)


def test_latencies_are_sampled_and_positive_on_the_real_clock():
    c = Cache(max_cache_size=100)
    for i in range(1000):  # 1 add, 2 gets: a period that does not divide the sampling period
        c.add(i, i)
        c.get(i)
        c.get(i + 1)
    lat = c.latencies
    every = lat["latency_sample_every"]
    assert every >= 1
    assert 0 < lat["add_latency_samples"] <= 1000 and 0 < lat["get_latency_samples"] <= 1000
    for op in ("add", "get"):
        lo, mean, hi = (lat["min_%s_latency" % op], lat["%s_latency_seconds" % op],
                        lat["max_%s_latency" % op])
        assert 0 <= lo <= mean <= hi and hi > 0
        assert lo <= lat["%s_latency_p50" % op] <= lat["%s_latency_p99" % op] <= hi


def test_clear_resets_the_metrics_as_the_original_did():
    c = Cache(max_cache_size=1)
    c.add(1, 1)
    c.add(2, 2)
    c.get(2)
    c.clear()
    m = c.metrics
    assert (m["hits"], m["misses"], m["evictions"], m["total_requests"]) == (0, 0, 0, 0)
    assert m["lifespan_metrics"]["count"] == 0
    c.add(1, 1)
    c.add(2, 2)
    c.clear(keep_metrics=True)
    assert c.metrics["evictions"] == 1 and c.total_requests == 2
    assert c.metric_lifespan["by_reason"]["cleared"]["count"] == 1


@pytest.mark.parametrize("name", macho.filters())
def test_every_filter_never_hides_a_stored_key(name):
    c = Cache(max_cache_size=200, filter=name, probability=0.01)
    for i in range(300):
        c.add(i, -i)
    stored = c.keys()
    assert len(stored) == 200
    for k in stored:
        assert c.get(k) == -k
    for k in range(1000, 1300):
        assert c.get(k) is None
    c.delete(stored[0])
    assert c.get(stored[0]) is None
    t = c.totals
    if name != "none":
        assert t["filter_queries"] > 0 and t["filter_negatives"] > 0


def test_help_shows_the_docstrings():
    assert "max_cache_size" in Cache.__doc__
    assert "default" in Cache.get.__doc__ and "ttl" in Cache.add.__doc__


def test_metrics_false_keeps_counting_but_times_nothing():
    c = Cache(max_cache_size=2, metrics=False)
    for i in range(100):
        c.add(i % 5, i)
        c.get(i % 3)
    m = c.metrics
    assert m["evictions"] > 0 and m["hits"] + m["misses"] == 100
    assert m["latencies"]["get_latency_samples"] == 0
    assert m["lifespan_metrics"]["count"] == 0
    with pytest.raises(TypeError, match="metrics"):
        Cache(metrics=0)


def test_metrics_false_still_expires_entries():
    c = Cache(ttl=3.0, metrics=False, _manual_clock=True)  # the manual clock wins
    c.add("k", 1)
    c._advance_clock(4)
    assert c.get("k") is None


def test_iterating_a_cache_yields_its_keys():
    c = Cache(max_cache_size=10)
    for i in range(3):
        c.add(i, str(i))
    assert sorted(c) == [0, 1, 2]


def test_a_cache_cannot_be_initialised_twice():
    c = Cache(max_cache_size=3)
    c.add(1, 1)
    with pytest.raises(RuntimeError, match="twice"):
        c.__init__(max_cache_size=5)
    assert c.get(1) == 1
