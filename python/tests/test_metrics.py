"""Counters and metrics: the original's properties and dict keys, the
shape-stable stats(), and figures that mean something on small examples."""
import pytest

from macho import Cache

LATENCY_KEYS = ("add_latency_seconds", "max_add_latency", "min_add_latency", "add_latency",
                "get_latency_seconds", "max_get_latency", "min_get_latency", "get_latency")
LIFESPAN_KEYS = ("max", "min", "count", "total", "average", "median", "all_lifespans")
METRICS_KEYS = ("current_size", "max_size", "ttl", "hits", "misses", "total_requests",
                "hit_ratio", "evictions", "memory_size", "lifespan_metrics", "latencies")
DIST_KEYS = {"count", "min", "max", "sum", "mean", "p50", "p90", "p99", "p999"}


def test_total_requests_counts_gets_and_adds():
    c = Cache()
    c.add(1, 1)
    c.get(1)
    c.get(2)
    c[1]
    c[3] = 3
    assert c.total_requests == 5


def test_metrics_carry_the_original_keys():
    c = Cache(max_cache_size=2)
    c.add(1, 1)
    c.add(2, 2)
    c.add(3, 3)
    c.get(3)
    c.get(1)
    m = c.metrics
    assert set(METRICS_KEYS) <= set(m)
    assert (m["hits"], m["misses"], m["evictions"], m["current_size"]) == (1, 1, 1, 2)
    assert m["total_requests"] == 5 and m["hit_ratio"] == 0.5
    assert m["memory_size"] > 0
    assert set(LATENCY_KEYS) <= set(c.latencies)
    assert set(LIFESPAN_KEYS) <= set(c.metric_lifespan)


def test_the_original_readmes_five_adds_and_two_gets_show_latencies():
    c = Cache(max_cache_size=100, ttl=600.0, shard_count=1, strategy="lru", bloom=True,
              probability=0.5)
    for index in range(5):
        c.add(f"{index}_key", f"{index}_value")
    c.get(key="1_key")
    c.get(key="6_key")
    lat = c.latencies
    assert lat["add_latency_samples"] == 5 and lat["get_latency_samples"] == 2
    for op in ("add", "get"):
        assert 0 < lat["min_%s_latency" % op] <= lat["%s_latency_seconds" % op] \
            <= lat["max_%s_latency" % op]
    c.clear()  # resets the metrics, as the original did; the next calls are timed again
    c.add("a", 1)
    assert c.latencies["add_latency_samples"] == 1 and c.latencies["max_add_latency"] > 0


@pytest.mark.parametrize("ttl", [600.0, 5.0, float("inf")])
def test_lifespans_resolve_below_a_millisecond(ttl, clock):
    # Entries evicted 0.3 ms and 0.7 ms after their adds show those lifespans,
    # not 0 and not a multiple of a millisecond (the core stamps object-mode
    # writes in 100 us ticks or finer when metrics are on).
    c = Cache(max_cache_size=1, ttl=ttl, clock=clock)
    c["a"] = 1
    clock.advance(0.0003)
    c["b"] = 2          # evicts a at 0.3 ms
    clock.advance(0.0007)
    c["c"] = 3          # evicts b at 0.7 ms
    life = c.metric_lifespan
    assert life["count"] == 2
    assert life["min"] == pytest.approx(0.0003, rel=0.01)
    assert life["max"] == pytest.approx(0.0007, rel=0.01)


def test_latencies_are_sampled_after_the_warm_up():
    c = Cache(max_cache_size=100)
    for i in range(1000):  # 1 add, 2 gets: a period that does not divide the sampling period
        c.add(i, i)
        c.get(i)
        c.get(i + 1)
    lat = c.latencies
    every = lat["latency_sample_every"]
    assert every == 64
    # all of the first 64, then 1 in 64
    assert 64 < lat["add_latency_samples"] < 64 + 1000 // 64 + 2
    assert 64 < lat["get_latency_samples"] < 64 + 2000 // 64 + 2
    for op in ("add", "get"):
        lo, mean, hi = (lat["min_%s_latency" % op], lat["%s_latency_seconds" % op],
                        lat["max_%s_latency" % op])
        assert 0 < lo <= mean <= hi
        assert lo <= lat["%s_latency_p50" % op] <= lat["%s_latency_p99" % op] <= hi


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


@pytest.mark.parametrize("shards", [1, 3])
def test_stats_has_one_shape_whatever_the_shard_count(shards):
    c = Cache(max_cache_size=6, shard_count=shards)
    for i in range(10):
        c[i] = i
        c.get(i)
    s = c.stats()
    assert s["shard"] is None and s["shards"] == shards
    assert (s["entries"], s["capacity"], s["adds"], s["gets"], s["hits"]) == (6, 6, 10, 10, 10)
    assert s["evictions"] == 4 and s["requests"] == 20 and s["hit_ratio"] == 1.0
    for d in ("get_latency", "add_latency", "lifespan"):
        assert set(s[d]) == DIST_KEYS
    assert set(s["lifespan_by_reason"]) == {"evicted", "expired", "deleted", "cleared"}
    assert s["lifespan_by_reason"]["evicted"]["count"] == 4
    per = [c.stats(i) for i in range(shards)]
    assert sum(p["entries"] for p in per) == 6 and all(p["shard"] == i for i, p in enumerate(per))
    assert set(per[0]) == set(s)


@pytest.mark.parametrize("shard, exc", [(3, IndexError), (-1, IndexError), (True, TypeError),
                                        ("0", TypeError), (2**70, IndexError)])
def test_stats_of_a_shard_that_does_not_exist_raises(shard, exc):
    c = Cache(max_cache_size=6, shard_count=3)
    with pytest.raises(exc):
        c.stats(shard)


def test_lifespans_measure_time_from_add_to_removal(clock):
    c = Cache(max_cache_size=2, ttl=100.0, clock=clock)
    c.add(1, 1)
    clock.advance(5)
    c.add(2, 2)
    clock.advance(5)
    c.add(3, 3)        # evicts 1 at age 10
    c.delete(2)        # 2 leaves at age 5
    clock.advance(200)
    c.expire()         # 3 is reclaimed at age 200 (a lifespan ends at removal, as originally)
    life = c.metric_lifespan
    assert life["count"] == 3 and c.metrics["evictions"] == 1
    assert life["min"] == pytest.approx(5) and life["max"] == pytest.approx(200)
    assert life["total"] == pytest.approx(215) and life["average"] == pytest.approx(215 / 3)
    assert life["median"] == pytest.approx(10, rel=0.01)
    by = life["by_reason"]
    assert (by["evicted"]["count"], by["deleted"]["count"], by["expired"]["count"]) == (1, 1, 1)


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


def test_metrics_false_keeps_counting_but_times_nothing():
    c = Cache(max_cache_size=2, metrics=False)
    for i in range(100):
        c.add(i % 5, i)
        c.get(i % 3)
    m = c.metrics
    assert m["evictions"] > 0 and m["hits"] + m["misses"] == 100
    assert m["latencies"]["get_latency_samples"] == 0
    assert m["lifespan_metrics"]["count"] == 0


@pytest.mark.parametrize("name", __import__("macho").filters())
def test_every_filter_never_hides_a_stored_key(name):
    c = Cache(max_cache_size=200, filter=name, probability=0.01)
    for i in range(300):
        c.add(i, -i)
    stored = list(c)
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
