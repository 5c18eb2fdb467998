"""Type stubs for macho: public names only (the C extension behind them is an
implementation detail). Cache is generic in its key and value types."""
import os
import sys
from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView
from typing import (Any, Callable, Dict, Generic, Hashable, Iterator, List, NamedTuple, Optional,
                    Tuple, TypedDict, TypeVar, Union, overload)

__version__: str
__all__: List[str]

_K = TypeVar("_K")
_V = TypeVar("_V")
_T = TypeVar("_T")
_R = TypeVar("_R")
_C = TypeVar("_C", bound="Cache[Any, Any]")

class CacheClosedError(ValueError): ...

class Distribution(TypedDict):
    """A distribution of durations in seconds (percentiles within 1%)."""
    count: int
    min: float
    max: float
    sum: float
    mean: float
    p50: float
    p90: float
    p99: float
    p999: float

LifespanByReason = TypedDict("LifespanByReason", {
    "evicted": Distribution, "expired": Distribution, "deleted": Distribution,
    "cleared": Distribution})

class LatencyMetrics(TypedDict):
    add_latency_seconds: float
    max_add_latency: float
    min_add_latency: float
    add_latency: List[float]
    add_latency_p50: float
    add_latency_p90: float
    add_latency_p99: float
    add_latency_p999: float
    add_latency_samples: int
    get_latency_seconds: float
    max_get_latency: float
    min_get_latency: float
    get_latency: List[float]
    get_latency_p50: float
    get_latency_p90: float
    get_latency_p99: float
    get_latency_p999: float
    get_latency_samples: int
    latency_sample_every: int

class LifespanMetrics(TypedDict):
    max: float
    min: float
    count: int
    total: float
    average: float
    median: float
    all_lifespans: List[float]
    p90: float
    p99: float
    p999: float
    by_reason: LifespanByReason

class CacheMetrics(TypedDict):
    current_size: int
    max_size: int
    ttl: float
    hits: int
    misses: int
    total_requests: int
    hit_ratio: float
    evictions: int
    memory_size: int
    lifespan_metrics: LifespanMetrics
    latencies: LatencyMetrics
    hit_ratio_exact: float
    expirations: int
    deletes: int
    gets: int
    adds: int
    strategy: str
    filter: str
    filter_queries: int
    filter_negatives: int
    filter_false_positives: int

class CacheStats(TypedDict):
    shard: Optional[int]
    shards: int
    entries: int
    capacity: int
    hits: int
    misses: int
    gets: int
    adds: int
    deletes: int
    requests: int
    evictions: int
    expirations: int
    hit_ratio: float
    memory_bytes: int
    filter_queries: int
    filter_negatives: int
    filter_false_positives: int
    latency_sample_every: int
    get_latency: Distribution
    add_latency: Distribution
    lifespan: Distribution
    lifespan_by_reason: LifespanByReason

class GeneralInfo(TypedDict):
    max_cache_size: int
    current_size: int
    ttl: float
    shard_count: int
    bloom: bool
    probability: float

class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int

class Memoized(Generic[_R]):
    """A memoised function (macho.cached, Cache.memoize)."""
    __wrapped__: Callable[..., _R]
    __name__: str
    __qualname__: str
    def __init__(self, func: Callable[..., _R], cache: Cache[Any, Any], typed: bool,
                 ttl: Optional[float], shared: bool, maxsize: Optional[int]) -> None: ...
    @property
    def cache(self) -> Cache[Any, Any]: ...
    def __call__(self, *args: Hashable, **kwargs: Hashable) -> _R: ...
    def __get__(self, instance: object, owner: Optional[type] = ...) -> Memoized[_R]: ...
    def cache_info(self) -> CacheInfo: ...
    def cache_clear(self) -> None: ...
    def cache_parameters(self) -> Dict[str, Any]: ...

class Cache(MutableMapping[_K, _V]):
    def __init__(self, max_cache_size: int = ..., ttl: float = ..., shard_count: int = ...,
                 strategy: str = ..., bloom: bool = ..., probability: float = ..., *,
                 filter: Optional[str] = ..., seed: int = ..., metrics: bool = ...,
                 clock: Optional[Callable[[], float]] = ..., mrc: bool = ...,
                 on_remove: Optional[Callable[[_K, _V, str], object]] = ...,
                 max_bytes: Optional[int] = ...,
                 weigher: Optional[Callable[[_K, _V], int]] = ...,
                 refresh_after: Optional[float] = ...,
                 negative_ttl: Optional[float] = ...) -> None: ...
    # what cache users ask for most
    def get_or_load(self, key: _K, fn: Callable[[_K], _V], /) -> _V: ...
    @overload
    def peek(self, __key: _K, __default: None = ...) -> Optional[_V]: ...
    @overload
    def peek(self, __key: _K, __default: Union[_V, _T]) -> Union[_V, _T]: ...
    def ttl_get(self, key: _K, /) -> float: ...
    def ttl_set(self, key: _K, seconds: float, /) -> None: ...
    def resize(self, max_cache_size: Optional[int] = ..., max_bytes: Optional[int] = ...) -> None: ...
    @property
    def max_bytes(self) -> int: ...
    def save(self, path: Union[str, bytes, "os.PathLike[str]"], /) -> None: ...
    def load(self, path: Union[str, bytes, "os.PathLike[str]"], /) -> None: ...
    def hottest(self, n: int, /) -> List[Tuple[_K, _V]]: ...
    def coldest(self, n: int, /) -> List[Tuple[_K, _V]]: ...
    # the original's API
    @overload
    def add(self, key: _K, value: _V, ttl: Optional[float] = ...) -> None: ...
    @overload
    def add(self, key: _K, *, entry: _V, ttl: Optional[float] = ...) -> None: ...
    @overload
    def get(self, key: _K, default: None = ...) -> Optional[_V]: ...
    @overload
    def get(self, key: _K, default: Union[_V, _T]) -> Union[_V, _T]: ...
    def clear(self, keep_metrics: bool = ...) -> None: ...
    def get_metrics(self) -> GeneralInfo: ...
    @property
    def max_cache_size(self) -> int: ...
    @property
    def ttl(self) -> float: ...
    @property
    def shard_count(self) -> int: ...
    @property
    def strategy(self) -> str: ...
    @property
    def bloom(self) -> bool: ...
    @property
    def probability(self) -> float: ...
    @property
    def current_size(self) -> int: ...
    @property
    def total_requests(self) -> int: ...
    @property
    def latencies(self) -> Union[LatencyMetrics, List[LatencyMetrics]]: ...
    @property
    def metric_lifespan(self) -> Union[LifespanMetrics, List[LifespanMetrics]]: ...
    @property
    def metrics(self) -> Union[CacheMetrics, List[CacheMetrics]]: ...
    # beyond the original
    @property
    def filter(self) -> str: ...
    @property
    def totals(self) -> CacheMetrics: ...
    @property
    def closed(self) -> bool: ...
    @property
    def dashboard(self) -> Optional[Dashboard]: ...
    def stats(self, shard: Optional[int] = ...) -> CacheStats: ...
    def mrc(self) -> Dict[float, Optional[float]]: ...
    def policy_current(self) -> str: ...
    def delete(self, key: _K) -> bool: ...
    def expire(self) -> int: ...
    def close(self) -> None: ...
    def copy(self: _C) -> _C: ...
    def __copy__(self: _C) -> _C: ...
    def __enter__(self: _C) -> _C: ...
    def __exit__(self, *exc: object) -> None: ...
    @overload
    def memoize(self, func: Callable[..., _R]) -> Memoized[_R]: ...
    @overload
    def memoize(self, func: None = ..., *, typed: bool = ...,
                ttl: Optional[float] = ...) -> Callable[[Callable[..., _R]], Memoized[_R]]: ...
    # the mapping
    def __getitem__(self, key: _K) -> _V: ...
    def __setitem__(self, key: _K, value: _V) -> None: ...
    def __delitem__(self, key: _K) -> None: ...
    def __iter__(self) -> Iterator[_K]: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object) -> bool: ...
    def keys(self) -> KeysView[_K]: ...
    def items(self) -> ItemsView[_K, _V]: ...
    def values(self) -> ValuesView[_V]: ...
    @overload
    def pop(self, key: _K) -> _V: ...
    @overload
    def pop(self, key: _K, default: Union[_V, _T]) -> Union[_V, _T]: ...
    def popitem(self) -> Tuple[_K, _V]: ...

class Dashboard(str):
    def __new__(cls, url: str, cache: Cache[Any, Any]) -> Dashboard: ...
    @property
    def url(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def stop(self) -> None: ...
    def wait(self, timeout: Optional[float] = ...) -> bool: ...
    def __enter__(self) -> Dashboard: ...
    def __exit__(self, *exc: object) -> None: ...

def strategies() -> List[str]: ...
def filters() -> List[str]: ...
@overload
def cached(maxsize: Callable[..., _R]) -> Memoized[_R]: ...
@overload
def cached(maxsize: int = ..., typed: bool = ..., *, ttl: Optional[float] = ..., strategy: str = ...,
           shard_count: int = ..., **cache_options: Any) -> Callable[[Callable[..., _R]], Memoized[_R]]: ...
def launch_dashboard(cache: Cache[Any, Any], listen: Optional[str] = ..., token: Optional[str] = ...,
                     quiet: bool = ..., *, block: Optional[bool] = ...) -> Dashboard: ...
