"""A typed use of macho, checked by `mypy --strict` (test_typing.py): the
generic Cache, get's Optional result, the TypedDict metrics and stats(), the
memoising decorators and the dashboard. It also runs (test_typing.py)."""
from typing import List, Optional, Union

import macho
from macho import Cache, CacheInfo, CacheMetrics, CacheStats, Distribution, LatencyMetrics


def build() -> Cache[str, int]:
    cache: Cache[str, int] = Cache(max_cache_size=100, ttl=60.0, strategy="lru")
    cache.add("one", 1)
    cache["two"] = 2
    cache.update({"three": 3})
    return cache


def read(cache: Cache[str, int]) -> int:
    maybe: Optional[int] = cache.get("one")
    sure: int = cache.get("missing", 0)
    either: Union[int, str] = cache.get("missing", "none")
    assert either == "none"
    total = (maybe or 0) + sure + cache["two"] + cache.pop("three", 0)
    for key in cache:
        total += len(key)
    for key, value in cache.items():
        total += value
    return total


def figures(cache: Cache[str, int]) -> float:
    stats: CacheStats = cache.stats()
    lat: Distribution = stats["get_latency"]
    m = cache.metrics
    per_shard: List[CacheMetrics] = m if isinstance(m, list) else [m]
    l = cache.latencies
    lats: List[LatencyMetrics] = l if isinstance(l, list) else [l]
    return lat["p99"] + per_shard[0]["hit_ratio"] + lats[0]["max_get_latency"] + stats["hits"]


@macho.cached(maxsize=32, ttl=5.0)
def square(x: int) -> int:
    return x * x


def memo() -> CacheInfo:
    shared: Cache[object, object] = Cache(max_cache_size=10)

    @shared.memoize
    def neg(x: int) -> int:
        return -x

    result: int = square(3) + neg(2)
    assert result == 7
    return square.cache_info()


def main() -> None:
    with build() as cache:
        assert read(cache) > 0
        assert figures(cache) >= 0
        info = memo()
        assert info.hits + info.misses >= 1
        closed: bool = cache.closed
        assert not closed


if __name__ == "__main__":
    main()
