"""macho -- an in-memory cache, backed by libmacho (C).

A drop-in for the original pure-Python ``macho``: ``from macho import Cache,
launch_dashboard`` works unchanged, with the same constructor (arguments
normalised and validated as the original did), methods, properties and
dictionary keys. The storage, eviction, expiry and metrics live in libmacho
(a sharded C cache in object mode: keys are hashed with ``hash()`` and
compared with ``==``, keys and values are held by reference), so an operation
costs a small constant instead of the original's scan of every entry.

``Cache`` is also a ``collections.abc.MutableMapping`` (``c[k] = v``, ``del
c[k]``, ``pop``, ``update``, views, ``==``), generic (``Cache[str, int]``),
picklable and copyable, and a context manager that closes it; ``cached`` and
``Cache.memoize`` memoise functions with ``cache_info()``/``cache_clear()`` as
``functools.lru_cache`` does. Every intended difference from the original is
listed in python/README.md.

And what cache users ask for most: ``get_or_load(key, fn)`` (one load per
key under a stampede, ``negative_ttl``, ``refresh_after``),
``on_remove=fn(key, value, reason)``, ``max_bytes=``/``weigher=`` (a byte
budget that holds), ``resize()``, ``peek()``, ``ttl_get()``/``ttl_set()``,
``hottest(n)``/``coldest(n)``, and ``save(path)``/``load(path)`` snapshots
(pickle) for a warm restart.
"""
from __future__ import annotations

import collections
import math
import queue
import sys
import threading
from collections.abc import ItemsView, MutableMapping, ValuesView
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypedDict

from . import _macho
from ._macho import CacheClosedError
from ._macho import CacheCore as _CacheCore

# macho.Tier (python/macho/_tier.c) lives in the same shared object as
# _macho, as a second module: load it from there under its own name.
import importlib.machinery as _machinery
import importlib.util as _util

_spec = _util.spec_from_file_location(
    "macho._tier", _macho.__file__, loader=_machinery.ExtensionFileLoader("macho._tier", _macho.__file__))
_tier = _util.module_from_spec(_spec)
_spec.loader.exec_module(_tier)
sys.modules["macho._tier"] = _tier
Tier = _tier.Tier

__all__ = ["Cache", "Tier", "CacheClosedError", "CacheInfo", "CacheMetrics", "CacheStats", "Dashboard",
           "Distribution", "GeneralInfo", "LatencyMetrics", "LifespanByReason", "LifespanMetrics",
           "Memoized", "cached", "filters", "launch_dashboard", "strategies", "__version__"]
__version__ = "0.1.0"

_MISSING: Any = object()

# ---- background reloads (refresh_after) ------------------------------------------------
# One daemon thread per process runs every cache's reloads, so that loaders
# (Python code) run with the GIL like any other thread. A queued reload holds
# its cache; close() cancels the reloads of its cache that have not run.
_refresh_queue: "queue.SimpleQueue[Tuple[Any, Any]]" = queue.SimpleQueue()
_refresh_thread: Optional[threading.Thread] = None
_refresh_lock = threading.Lock()


def _refresh_worker() -> None:
    while True:
        cache, job = _refresh_queue.get()
        try:
            cache._refresh_run(job)
        except Exception:  # a reload cancelled by close(): nothing to do
            pass
        del cache, job


def _submit_refresh(cache: Any, job: Any) -> None:
    global _refresh_thread
    if _refresh_thread is None:
        with _refresh_lock:
            if _refresh_thread is None:
                t = threading.Thread(target=_refresh_worker, name="macho-refresh", daemon=True)
                t.start()
                _refresh_thread = t
    _refresh_queue.put((cache, job))


def strategies() -> List[str]:
    """Names of the eviction policies this build of libmacho implements."""
    return [name for name, ok in _macho.policies() if ok]


def filters() -> List[str]:
    """Names of the membership filters this build implements ('none' included)."""
    return [name for name, ok in _macho.filters() if ok]


# ---- the shapes of the metrics dicts (also in __init__.pyi) -------------------------------


class Distribution(TypedDict):
    """A distribution of durations in seconds (libmacho histogram, percentiles within 1%)."""
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
    """Cache.latencies (one shard, or the whole cache): the original's keys, then ours."""
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
    """Cache.metric_lifespan: the original's keys, then ours."""
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
    """Cache.metrics (one shard) and Cache.totals: the original's keys, then ours."""
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
    """Cache.stats(): one shape whatever the shard count."""
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
    """Cache.get_metrics(), as the original's."""
    max_cache_size: int
    current_size: int
    ttl: float
    shard_count: int
    bloom: bool
    probability: float


def _type_error(name: str, want: str, got: Any) -> TypeError:
    # The original's messages, plus what was given.
    return TypeError("Parameter '%s' must be of type: %s, not %s" % (name, want, type(got).__name__))


class _ItemsView(ItemsView):  # type: ignore[type-arg]
    """items(): iterates over a snapshot of the live entries, counting nothing."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Tuple[Any, Any]]:
        return iter(self._mapping._snapshot(1))  # type: ignore[attr-defined]


class _ValuesView(ValuesView):  # type: ignore[type-arg]
    """values(): iterates over a snapshot of the live values, counting nothing."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        return iter([v for _, v in self._mapping._snapshot(1)])  # type: ignore[attr-defined]

    def __contains__(self, value: object) -> bool:
        return any(v is value or v == value for _, v in self._mapping._snapshot(1))  # type: ignore[attr-defined]


class Cache(_CacheCore, MutableMapping):  # type: ignore[type-arg]
    """An in-memory cache with TTL, sharding, eviction strategies and filters,
    and a mutable mapping.

    Parameters (the original macho's, normalised and checked as it did):

    max_cache_size: int
        Maximum number of entries across all shards (default 100, at least 1).
    ttl: float
        Time-to-live of each entry in seconds (default 600.0); an int is also
        accepted. ``float('inf')`` (or NaN, as in the original) means entries
        never expire; ``0`` or less means every entry expires as soon as it is
        added (the original's meaning: ``get`` never returns it).
    shard_count: int
        Number of independent shards (default 1), 1 <= shard_count <=
        max_cache_size. Capacity is split evenly, the first shards taking the
        remainder, as the original did.
    strategy: str
        Eviction policy, case-insensitive as in the original: 'lru' (default),
        'fifo', 'random', and whatever else libmacho implements ('lfu', 'mfu',
        'sieve', 's3fifo', 'wtinylfu', 'arc', 'auto': follows the best of several by
        miniature simulation); see ``macho.strategies()``.
    bloom: bool
        Put a Bloom filter in front of each shard (default False); same as
        ``filter='bloom'``.
    probability: float
        The filter's target false-positive rate, in (0, 1) (default 0.5).

    Keyword-only, beyond the original:

    filter: str
        'none', 'bloom', 'cuckoo' or 'xor'. Overrides ``bloom`` unless they
        contradict each other (then ValueError).
    seed: int
        Seed of libmacho's hashing and of the random policy, in [0, 2**64).
    metrics: bool
        True (default): latency and lifespan figures. False: counters only.
    mrc: bool
        True: keep the live miss-ratio curve (``mrc()``): the estimated miss
        ratio at 0.25, 0.5, 1, 2, 4 and 8 times ``max_cache_size``, by
        miniature simulation of a sample of the keys (libmacho's config.mrc;
        off by default: it costs memory, a few MB at most, and gets then take
        the shard lock).
    clock: callable returning seconds (float), or None
        Time source for TTLs and lifespans instead of the monotonic clock,
        read once at the start of every call (tests advance a fake clock
        instead of sleeping). Time never goes back: a smaller reading is
        ignored.
    on_remove: callable ``fn(key, value, reason)``, or None
        Called once for every entry that leaves and every value replaced,
        ``reason`` one of 'evicted', 'expired', 'deleted', 'replaced',
        'cleared', 'rejected' (W-TinyLFU's admission refused it); on the thread
        whose call caused it, with no lock held (it may use the cache). An
        exception in it goes to ``sys.unraisablehook`` and changes nothing.
        ``close()`` reports what it drops as 'cleared'.
    max_bytes: int, or None
        A byte budget the entries never exceed: each is charged 48 bytes plus
        ``weigher(key, value)``, by default ``sys.getsizeof(key) +
        sys.getsizeof(value)`` (as cachetools' getsizeof). Split across shards.
    weigher: callable ``fn(key, value) -> int``, or None
        The weight of an entry for ``max_bytes``; with it (or max_bytes) a
        budget can also be set later by ``resize(max_bytes=...)``.
    refresh_after: float seconds, or None
        ``get_or_load`` of an entry written longer ago returns it at once and
        reloads it in the background, once per key; a failed reload keeps the
        old value until its ttl. Reloads run on one daemon thread of this
        module shared by every cache.
    negative_ttl: float seconds, or None
        How long ``get_or_load`` remembers that its loader raised KeyError.

    Raises TypeError for an argument of the wrong type, ValueError for one out
    of range and OverflowError for an integer too large for libmacho; the
    message names the argument.

    Thread-safe: several Python threads may share one cache. ``close()`` (or
    leaving a ``with`` block) frees it; any later call raises
    ``CacheClosedError``.

    With ``shard_count > 1``, ``latencies``, ``metric_lifespan`` and ``metrics``
    are lists with one dict per shard (as in the original); ``stats()`` has one
    shape whatever the shard count.
    """

    __slots__ = ("_max_cache_size", "_ttl", "_shard_count", "_strategy", "_bloom",
                 "_probability", "_filter", "_seed", "_metrics_on", "_clock", "_dashboard",
                 "_popbuf", "_mrc_on", "_features")

    def __init__(self, max_cache_size: int = 100, ttl: float = 600.0, shard_count: int = 1,
                 strategy: str = "lru", bloom: bool = False, probability: float = 0.5, *,
                 filter: Optional[str] = None, seed: int = 0, metrics: bool = True,
                 clock: Optional[Any] = None, mrc: bool = False,
                 on_remove: Optional[Callable[[Any, Any, str], Any]] = None,
                 max_bytes: Optional[int] = None,
                 weigher: Optional[Callable[[Any, Any], int]] = None,
                 refresh_after: Optional[float] = None,
                 negative_ttl: Optional[float] = None) -> None:
        # The original's checks, in its order (models.py/main.py), then ours.
        if not isinstance(max_cache_size, int):
            raise _type_error("max_cache_size", "int", max_cache_size)
        if isinstance(ttl, bool) or not isinstance(ttl, (float, int)):
            raise _type_error("ttl", "float", ttl)
        if not isinstance(shard_count, int):
            raise _type_error("shard_count", "int", shard_count)
        if not shard_count > 0:
            raise ValueError("Parameter 'shard_count': shard count value must be positive, got %d"
                             % shard_count)
        if not isinstance(strategy, str):
            raise _type_error("strategy", "str", strategy)
        if not isinstance(bloom, bool):
            raise _type_error("bloom", "bool", bloom)
        if not isinstance(probability, float):
            raise _type_error("probability", "float", probability)
        if not 0.0 < probability < 1.0:
            raise ValueError("Parameter 'probability': probability value must be between "
                             "0.00 - 1.00 (exclusive), got %r" % (probability,))
        if max_cache_size < 1:
            raise ValueError("Parameter 'max_cache_size' must be at least 1, got %d"
                             % max_cache_size)
        if shard_count > max_cache_size:
            raise ValueError("Parameter 'shard_count' (%d) must not exceed 'max_cache_size' (%d): "
                             "every shard needs room for an entry" % (shard_count, max_cache_size))
        policy = strategy.casefold()  # as the original's check_cache_list()
        known = dict(_macho.policies())
        if policy not in known:
            raise ValueError("Parameter 'strategy': eviction strategy %r not supported (one of %s)"
                             % (strategy, ", ".join(known)))
        if not known[policy]:
            raise ValueError("Parameter 'strategy': %r is not implemented in this build of "
                             "libmacho (available: %s)" % (strategy, ", ".join(strategies())))
        if filter is None:
            filter = "bloom" if bloom else "none"
        elif not isinstance(filter, str):
            raise _type_error("filter", "str", filter)
        elif bloom and filter != "bloom":
            raise ValueError("Parameters 'bloom=True' and filter=%r contradict each other"
                             % (filter,))
        kfilters = dict(_macho.filters())
        if filter not in kfilters:
            raise ValueError("Parameter 'filter' must be one of %s, got %r"
                             % (", ".join(kfilters), filter))
        if not kfilters[filter]:
            raise ValueError("Parameter 'filter': %r is not implemented in this build of "
                             "libmacho (available: %s)" % (filter, ", ".join(filters())))
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise _type_error("seed", "int", seed)
        if not 0 <= seed < 2**64:
            raise OverflowError("Parameter 'seed' must be in [0, 2**64), got %d" % seed)
        if not isinstance(metrics, bool):
            raise _type_error("metrics", "bool", metrics)
        if clock is not None and not callable(clock):
            raise _type_error("clock", "callable returning seconds", clock)
        if not isinstance(mrc, bool):
            raise _type_error("mrc", "bool", mrc)
        if max_cache_size >= 2**64:
            raise OverflowError("Parameter 'max_cache_size' must be below 2**64, got %d"
                                % max_cache_size)
        if shard_count >= 2**32:
            raise OverflowError("Parameter 'shard_count' must be below 2**32, got %d" % shard_count)
        try:
            fttl = float(ttl)
        except OverflowError:
            raise OverflowError("Parameter 'ttl' is too large for a float: %d" % ttl) from None
        if on_remove is not None and not callable(on_remove):
            raise _type_error("on_remove", "callable fn(key, value, reason)", on_remove)
        if weigher is not None and not callable(weigher):
            raise _type_error("weigher", "callable fn(key, value) -> int", weigher)
        if max_bytes is not None:
            if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
                raise _type_error("max_bytes", "int", max_bytes)
            if max_bytes < shard_count:
                raise ValueError("Parameter 'max_bytes' must give every shard a byte (at least %d), "
                                 "got %d" % (shard_count, max_bytes))
            if max_bytes >= 2**64:
                raise OverflowError("Parameter 'max_bytes' must be below 2**64, got %d" % max_bytes)
        for name, val in (("refresh_after", refresh_after), ("negative_ttl", negative_ttl)):
            if val is None:
                continue
            if isinstance(val, bool) or not isinstance(val, (float, int)):
                raise _type_error(name, "float", val)
            if math.isnan(val) or val <= 0:
                raise ValueError("Parameter '%s' must be a positive number of seconds, got %r"
                                 % (name, val))
        super().__init__(capacity=int(max_cache_size), ttl=fttl, shards=int(shard_count), policy=policy,
                         filter=filter, fp_rate=probability, seed=seed, metrics=metrics,
                         clock=clock, mrc=mrc, on_remove=on_remove, max_bytes=max_bytes, weigher=weigher,
                         refresh_after=float(refresh_after or 0),
                         negative_ttl=float(negative_ttl or 0), submit=_submit_refresh)
        self._features = {"on_remove": on_remove, "max_bytes": max_bytes, "weigher": weigher,
                          "refresh_after": refresh_after, "negative_ttl": negative_ttl}
        self._max_cache_size = int(max_cache_size)
        self._ttl = fttl
        self._shard_count = int(shard_count)
        self._strategy = strategy
        self._bloom = filter == "bloom"
        self._probability = probability
        self._filter = filter
        self._seed = seed
        self._metrics_on = metrics
        self._clock = clock
        self._mrc_on = mrc
        self._dashboard: Optional[Dashboard] = None
        self._popbuf: List[Any] = []

    # ---- configuration (read-only, as the original's attributes) -------------------
    @property
    def max_cache_size(self) -> int:
        """Maximum number of entries across shards."""
        return self._max_cache_size

    @property
    def ttl(self) -> float:
        """Default time-to-live in seconds."""
        return self._ttl

    @property
    def shard_count(self) -> int:
        """Number of shards."""
        return self._shard_count

    @property
    def strategy(self) -> str:
        """Eviction policy name, as given."""
        return self._strategy

    @property
    def bloom(self) -> bool:
        """True when a Bloom filter guards each shard."""
        return self._bloom

    @property
    def probability(self) -> float:
        """Target false-positive rate of the filter."""
        return self._probability

    @property
    def filter(self) -> str:
        """Membership filter name ('none' when there is none)."""
        return self._filter

    @property
    def dashboard(self) -> Optional["Dashboard"]:
        """The running dashboard (launch_dashboard), or None."""
        d = self._dashboard
        return d if d is not None and d.running else None

    # ---- sizes and counts ----------------------------------------------------------
    @property
    def current_size(self) -> int:
        """Entries stored now, across shards (expired ones not yet reclaimed included)."""
        return len(self)

    @property
    def total_requests(self) -> int:
        """Number of get() and add() calls (c[k] and c[k] = v count too), across shards."""
        return int(self._counters()["requests"])

    @property
    def max_bytes(self) -> int:
        """The byte budget (0 = none); see the class's max_bytes."""
        return int(self._features["max_bytes"] or 0)

    def resize(self, max_cache_size: Optional[int] = None, max_bytes: Optional[int] = None) -> None:
        """Change the entry capacity and/or the byte budget of this live cache.

        Shrinking evicts by the strategy (``on_remove`` sees 'evicted') in small
        steps while other threads go on using the cache; it returns once the cache
        is within the new limits. ``max_bytes=0`` removes the budget; a budget
        needs a cache opened with ``max_bytes=`` or ``weigher=``.
        """
        if max_cache_size is not None:
            if isinstance(max_cache_size, bool) or not isinstance(max_cache_size, int):
                raise _type_error("max_cache_size", "int", max_cache_size)
            if max_cache_size < self._shard_count:
                raise ValueError("Parameter 'max_cache_size' must be at least shard_count (%d), got %d"
                                 % (self._shard_count, max_cache_size))
        if max_bytes is not None:
            if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
                raise _type_error("max_bytes", "int", max_bytes)
            if max_bytes < 0 or 0 < max_bytes < self._shard_count:
                raise ValueError("Parameter 'max_bytes' must be 0 (none) or at least shard_count "
                                 "(%d), got %d" % (self._shard_count, max_bytes))
        self._resize(capacity=max_cache_size, max_bytes=max_bytes)
        if max_cache_size is not None:
            self._max_cache_size = max_cache_size
        if max_bytes is not None:
            self._features["max_bytes"] = max_bytes or None

    # ---- the mapping -----------------------------------------------------------------
    def keys(self):  # type: ignore[override]
        """A set-like view of the live keys."""
        return collections.abc.KeysView(self)

    def items(self):  # type: ignore[override]
        """A set-like view of the live (key, value) pairs; iterating it counts nothing."""
        return _ItemsView(self)

    def values(self):  # type: ignore[override]
        """A view of the live values; iterating it counts nothing."""
        return _ValuesView(self)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove key and return its value (counts a get and a delete); default,
        or KeyError, when it is absent."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        self.delete(key)
        return value

    def popitem(self) -> Tuple[Any, Any]:
        """Remove and return some (key, value) pair; KeyError when empty."""
        buf = self._popbuf
        while True:
            if not buf:
                buf.extend(self._snapshot(0, 64))
                if not buf:
                    raise KeyError("popitem(): cache is empty")
            key = buf.pop()
            value = self.get(key, _MISSING)
            if value is not _MISSING and self.delete(key):
                return key, value

    def clear(self, keep_metrics: bool = False) -> None:
        """Drop every entry, and (as the original did) reset the counters,
        latencies and lifespans, unless keep_metrics=True."""
        self._clear()
        self._popbuf.clear()
        if not keep_metrics:
            self._stats_reset()

    def copy(self) -> "Cache":
        """A new cache with the same configuration and live entries (the same
        key and value objects) with their remaining TTLs; fresh counters."""
        return self.__copy__()

    # ---- copies, pickling, closing ------------------------------------------------------
    def _init_kwargs(self) -> Dict[str, Any]:
        return {"max_cache_size": self._max_cache_size, "ttl": self._ttl,
                "shard_count": self._shard_count, "strategy": self._strategy,
                "bloom": self._bloom, "probability": self._probability, "filter": self._filter,
                "seed": self._seed, "metrics": self._metrics_on, "clock": self._clock,
                "mrc": self._mrc_on, **self._features}

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Configuration and the live entries with the TTL each has left; the
        # counters, the metrics and the policy's history start afresh.
        return (_restore, (type(self), self._init_kwargs(), self._snapshot(2)))

    def __copy__(self) -> "Cache":
        return _restore(type(self), self._init_kwargs(), self._snapshot(2))

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- metrics ---------------------------------------------------------------------
    def _metrics_of(self, shard: int) -> Dict[str, Any]:
        k = self._counters(shard)
        lookups = k["hits"] + k["misses"]
        return {
            "current_size": k["entries"],
            "max_size": self._max_cache_size if shard == -1 else k["capacity_entries"],
            "ttl": self._ttl,
            "hits": k["hits"],
            "misses": k["misses"],
            "total_requests": k["requests"],
            "hit_ratio": round(k["hits"] / lookups, 2) if lookups else 0.0,
            "evictions": k["evictions"],
            "memory_size": k["memory_bytes"],
            "lifespan_metrics": _lifespan_dict(self, shard),
            "latencies": _latency_dict(self, shard),
            # Beyond the original:
            "hit_ratio_exact": k["hits"] / lookups if lookups else 0.0,
            "expirations": k["expirations"],
            "deletes": k["deletes"],
            "gets": k["gets"],
            "adds": k["puts"],
            "strategy": self._strategy,
            "filter": self._filter,
            "filter_queries": k["filter_queries"],
            "filter_negatives": k["filter_negatives"],
            "filter_false_positives": k["filter_false_positives"],
        }

    def _per_shard(self, fn: Any) -> Any:
        if self._shard_count > 1:
            return [fn(self, i) for i in range(self._shard_count)]
        return fn(self, -1)

    @property
    def latencies(self) -> Any:
        """add/get latency figures in seconds (the original's keys, plus
        percentiles): a dict, or a list of one dict per shard when
        shard_count > 1. Typed as LatencyMetrics."""
        return self._per_shard(_latency_dict)

    @property
    def metric_lifespan(self) -> Any:
        """Lifespans (seconds) of entries that left the cache (the original's
        keys, plus percentiles and by_reason): a dict, or a list of one dict per
        shard when shard_count > 1. Typed as LifespanMetrics."""
        return self._per_shard(_lifespan_dict)

    @property
    def metrics(self) -> Any:
        """General figures (the original's keys: current_size, max_size, ttl,
        hits, misses, total_requests, hit_ratio, evictions, memory_size,
        lifespan_metrics, latencies; plus expirations, deletes, gets, adds,
        hit_ratio_exact and filter counts): a dict, or a list of one dict per
        shard when shard_count > 1. Typed as CacheMetrics."""
        return self._per_shard(Cache._metrics_of)

    @property
    def totals(self) -> Dict[str, Any]:
        """The metrics dict for the whole cache, whatever the shard count."""
        return self._metrics_of(-1)

    def mrc(self) -> Dict[float, Optional[float]]:
        """The live miss-ratio curve (needs ``mrc=True``): {multiple: estimated
        miss ratio} for 0.25, 0.5, 1, 2, 4 and 8 times ``max_cache_size``, over
        the gets since the cache was created (None before a sampled get). At
        1.0 it estimates the cache's own miss ratio; 1 - miss ratio is the hit
        ratio a cache of that size would have. Raises RuntimeError when the
        curve is off."""
        return dict(self._mrc()["miss_ratio"])

    def policy_current(self) -> str:
        """The eviction policy the cache follows now: ``strategy``, or under
        'auto' the candidate it follows at the moment."""
        return self._policy_current()[0]

    def stats(self, shard: Optional[int] = None) -> Dict[str, Any]:
        """One shape whatever the shard count (CacheStats): counters and the
        latency and lifespan distributions (seconds) of the whole cache, or of
        one shard (0 <= shard < shard_count)."""
        if shard is None:
            i = -1
        elif isinstance(shard, bool) or not isinstance(shard, int):
            raise TypeError("a shard index must be an int or None, not %s" % type(shard).__name__)
        elif not 0 <= shard < self._shard_count:
            raise IndexError("shard %d out of range (the cache has %d)" % (shard, self._shard_count))
        else:
            i = shard
        k = self._counters(i)
        s = self._stats(i)
        lookups = k["hits"] + k["misses"]
        return {
            "shard": shard, "shards": self._shard_count, "entries": k["entries"],
            "capacity": k["capacity_entries"], "hits": k["hits"], "misses": k["misses"],
            "gets": k["gets"], "adds": k["puts"], "deletes": k["deletes"],
            "requests": k["requests"], "evictions": k["evictions"],
            "expirations": k["expirations"],
            "hit_ratio": k["hits"] / lookups if lookups else 0.0,
            "memory_bytes": k["memory_bytes"], "filter_queries": k["filter_queries"],
            "filter_negatives": k["filter_negatives"],
            "filter_false_positives": k["filter_false_positives"],
            "latency_sample_every": s["latency_sample_every"],
            "get_latency": s["get_latency"], "add_latency": s["put_latency"],
            "lifespan": s["lifespan"], "lifespan_by_reason": s["lifespan_by_reason"],
        }

    def get_metrics(self) -> Dict[str, Any]:
        """The configuration summary the original returned."""
        return {
            "max_cache_size": self.max_cache_size,
            "current_size": self.current_size,
            "ttl": self.ttl,
            "shard_count": self.shard_count,
            "bloom": self.bloom,
            "probability": self.probability,
        }

    # ---- memoisation -------------------------------------------------------------------
    def memoize(self, func: Any = None, *, typed: bool = False, ttl: Optional[float] = None) -> Any:
        """Decorator: memoise a function in this cache (shared with whatever
        else the cache holds; each function's keys are kept apart). ttl
        overrides the cache's TTL for its results. Usable bare (@c.memoize) or
        with arguments (@c.memoize(typed=True)). See macho.cached."""
        def deco(f: Any) -> Any:
            return _make_memo(f, self, typed=typed, ttl=ttl, shared=True)
        return deco(func) if func is not None else deco

    def __repr__(self) -> str:
        return "<Cache(size=%d, ttl=%s, eviction strategy=%s)>" % (
            self._max_cache_size, self._ttl, self._strategy)


def _restore(cls: Any, kwargs: Dict[str, Any], entries: List[Tuple[Any, Any, float]]) -> Cache:
    c = cls(**kwargs)
    for key, value, ttl in entries:
        c.add(key, value, ttl=ttl)
    c._stats_reset()  # a copy starts with fresh counters
    return c


# ---- metrics from libmacho's stats API ---------------------------------------------------
# libmacho keeps log-linear histograms (percentiles within 1%), not the last
# 1000 raw samples the original kept, so the sample lists are empty.


def _latency_dict(cache: Cache, shard: int) -> Dict[str, Any]:
    s = cache._stats(shard)
    out: Dict[str, Any] = {}
    for op, key in (("add", "put_latency"), ("get", "get_latency")):
        h = s[key]
        out["%s_latency_seconds" % op] = h["mean"]
        out["max_%s_latency" % op] = h["max"]
        out["min_%s_latency" % op] = h["min"]
        out["%s_latency" % op] = []
        for p in ("p50", "p90", "p99", "p999"):
            out["%s_latency_%s" % (op, p)] = h[p]
        out["%s_latency_samples" % op] = h["count"]
    out["latency_sample_every"] = s["latency_sample_every"]
    return out


def _lifespan_dict(cache: Cache, shard: int) -> Dict[str, Any]:
    s = cache._stats(shard)
    h = s["lifespan"]
    return {
        "max": h["max"],
        "min": h["min"],
        "count": h["count"],
        "total": h["sum"],
        "average": h["mean"],
        "median": h["p50"],
        "all_lifespans": [],
        "p90": h["p90"],
        "p99": h["p99"],
        "p999": h["p999"],
        "by_reason": s["lifespan_by_reason"],
    }


# ---- memoisation ----------------------------------------------------------------------------

CacheInfo = collections.namedtuple("CacheInfo", ["hits", "misses", "maxsize", "currsize"])
CacheInfo.__doc__ = "cache_info() of a memoised function, as functools.lru_cache's."


class _Namespace:
    """The key prefix of one function memoised in a shared cache (identity)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return "<memoize %s>" % self.name

    def __reduce__(self) -> Any:
        return (_Namespace, (self.name,))


class _Call:
    """One computation in flight (single-flight: other callers wait for it)."""

    __slots__ = ("owner", "done", "ok", "value", "waiters")

    def __init__(self, owner: int) -> None:
        self.owner = owner
        self.waiters = 0
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None


class Memoized(_macho.Memo):
    """A memoised function. Its hit path is C (macho._macho.Memo); a miss
    comes here: the first caller of a key computes it while later callers of
    the same key wait for that result (single flight), so the function runs
    once per key while the result stays cached, even under threads. A
    recursive call on the same key from the computing thread computes
    directly (no deadlock). An exception is not cached: the waiters retry."""

    def __init__(self, func: Any, cache: Cache, typed: bool, ttl: Optional[float],
                 shared: bool, maxsize: Optional[int]) -> None:
        ns = _Namespace(getattr(func, "__qualname__", repr(func))) if shared else None
        super().__init__(func, cache, self._miss, typed, ns)
        self._lock = threading.Lock()
        self._inflight: Dict[Any, _Call] = {}
        self._misses = 0
        self._waits = 0
        self._ttl = ttl
        self._typed = typed
        self._shared = shared
        self._maxsize = maxsize

    def _miss(self, key: Any, args: Tuple[Any, ...], kwargs: Optional[Dict[str, Any]]) -> Any:
        me = threading.get_ident()
        kw = kwargs or {}
        while True:
            with self._lock:
                call = self._inflight.get(key)
                if call is None:
                    call = self._inflight[key] = _Call(me)
                    break
                if call.owner == me:  # recursion on its own key
                    self._misses += 1
                    return self._func(*args, **kw)
                call.waiters += 1
            call.done.wait()
            if call.ok:
                with self._lock:
                    self._waits += 1
                return call.value
            # The computation raised: try again (perhaps as the computing caller).
        try:
            # Another caller may have stored the result between our miss and
            # taking the in-flight slot: look again before computing.
            value = self.cache.get(key, _MISSING)
            if value is not _MISSING:
                with self._lock:
                    self._waits += 1
            else:
                with self._lock:
                    self._misses += 1
                value = self._func(*args, **kw)
                self.cache.add(key, value, ttl=self._ttl)
            call.value, call.ok = value, True
            return value
        finally:
            with self._lock:
                del self._inflight[key]
            call.done.set()

    def _waiting(self) -> int:
        """Callers waiting now for a computation in flight (tests)."""
        with self._lock:
            return sum(c.waiters for c in self._inflight.values())

    def cache_info(self) -> CacheInfo:
        """CacheInfo(hits, misses, maxsize, currsize), as functools.lru_cache:
        hits = calls answered from the cache (or by waiting for a computation of
        the same key), misses = calls that ran the function. currsize is the
        cache's size (shared with whatever else a memoize cache holds)."""
        return CacheInfo(self._hits + self._waits, self._misses,
                         self._maxsize if self._maxsize is not None else self.cache.max_cache_size,
                         len(self.cache))

    def cache_clear(self) -> None:
        """Forget every result of this function and zero cache_info()."""
        if self._shared:
            ns = self._namespace
            for k in list(self.cache):
                if type(k) is tuple and len(k) == 2 and k[0] is ns:
                    self.cache.delete(k)
        else:
            self.cache.clear()
        with self._lock:
            self._hits = 0
            self._misses = 0
            self._waits = 0

    def cache_parameters(self) -> Dict[str, Any]:
        """The decorator's parameters, as functools.lru_cache's."""
        return {"maxsize": self.cache_info().maxsize, "typed": self._typed, "ttl": self._ttl,
                "strategy": self.cache.strategy}

    def __repr__(self) -> str:
        return "<macho memoised %s>" % getattr(self._func, "__qualname__", self._func)




def _make_memo(func: Any, cache: Cache, *, typed: bool, ttl: Optional[float], shared: bool,
               maxsize: Optional[int] = None) -> Memoized:
    if not callable(func):
        raise TypeError("memoize needs a callable, not %s" % type(func).__name__)
    if not isinstance(typed, bool):
        raise _type_error("typed", "bool", typed)
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
            raise _type_error("ttl", "float", ttl)
        if math.isnan(ttl) or ttl <= 0:
            raise ValueError("Parameter 'ttl' must be a positive number of seconds "
                             "(float('inf') = never expires), got %r" % (ttl,))
    m = Memoized(func, cache, typed, ttl, shared, maxsize)
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(m, attr, getattr(func, attr))
        except AttributeError:
            pass
    m.__dict__.update(getattr(func, "__dict__", {}))
    m.__wrapped__ = func  # type: ignore[attr-defined]
    return m


def cached(maxsize: Any = 128, typed: bool = False, *, ttl: Optional[float] = None,
           strategy: str = "lru", shard_count: int = 1, **cache_options: Any) -> Any:
    """Memoising decorator backed by a private macho.Cache, as
    functools.lru_cache(maxsize, typed) with a TTL and a choice of policy::

        @macho.cached(maxsize=1000, ttl=60.0, strategy="s3fifo")
        def lookup(user_id): ...

    ttl: seconds a result stays valid (None = forever). Other keyword options
    go to Cache (seed, filter, metrics, clock). Usable bare (@macho.cached).
    The wrapper has cache_info(), cache_clear(), cache_parameters(), .cache
    (the Cache) and __wrapped__; it works on methods (self is part of the key,
    as with lru_cache) and calls the function once per key while its result is
    cached, even when several threads ask for it at once.
    """
    if callable(maxsize) and not isinstance(maxsize, int):  # bare @cached
        return cached()(maxsize)
    if maxsize is None:
        raise ValueError("macho.cached needs a bounded maxsize (libmacho caches have a "
                         "capacity); use functools.cache for an unbounded memo")
    if isinstance(maxsize, bool) or not isinstance(maxsize, int):
        raise _type_error("maxsize", "int", maxsize)
    if maxsize < 1:
        raise ValueError("Parameter 'maxsize' must be at least 1, got %d" % maxsize)
    if not isinstance(typed, bool):
        raise _type_error("typed", "bool", typed)
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
        raise _type_error("ttl", "float", ttl)
    if ttl is not None and (math.isnan(ttl) or ttl <= 0):
        raise ValueError("Parameter 'ttl' must be a positive number of seconds "
                         "(float('inf') = never expires), got %r" % (ttl,))
    cache = Cache(max_cache_size=maxsize, ttl=math.inf if ttl is None else float(ttl),
                  shard_count=shard_count, strategy=strategy, **cache_options)

    def deco(func: Any) -> Memoized:
        return _make_memo(func, cache, typed=typed, ttl=None, shared=False, maxsize=maxsize)
    return deco


# ---- dashboard ----------------------------------------------------------------------------


class Dashboard(str):
    """A running dashboard: the URL (it is a str, as launch_dashboard's result
    was) with stop(), running, wait() and a context manager that stops it."""

    def __new__(cls, url: str, cache: Cache) -> "Dashboard":
        self = super().__new__(cls, url)
        self._cache = cache
        self._stopped = threading.Event()
        return self

    @property
    def url(self) -> str:
        """http://HOST:PORT/ (plus ?token=T when a token is set)."""
        return str.__str__(self)

    @property
    def running(self) -> bool:
        """True until stop() (or the cache's close())."""
        c = self._cache
        return not self._stopped.is_set() and not c.closed and c._dashboard_running

    def stop(self) -> None:
        """Stop serving (waits for the server thread). Idempotent; safe from any thread."""
        c = self._cache
        if not c.closed:
            c._dashboard_stop()
        self._stopped.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until stop() is called (or timeout seconds pass); True if stopped."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> "Dashboard":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return "<macho.Dashboard %s%s>" % (self.url, "" if self.running else " (stopped)")

    def __reduce__(self) -> Any:
        return (str, (self.url,))


def _interactive() -> bool:
    return hasattr(sys, "ps1") or bool(sys.flags.interactive) or "ipykernel" in sys.modules


def launch_dashboard(cache: Cache, listen: Optional[str] = None, token: Optional[str] = None,
                     quiet: bool = False, *, block: Optional[bool] = None) -> Dashboard:
    """Start libmacho's live dashboard for ``cache`` and return it (a Dashboard:
    its URL as a str, with stop()).

    The server runs on a background C thread inside this process (no
    subprocess, no Streamlit). ``listen`` is "HOST:PORT" (default
    "127.0.0.1:0", a free port); a non-loopback HOST needs ``token``. The URL is
    printed unless quiet=True. Calling it again returns the running dashboard.

    block: True waits until the dashboard is stopped (Dashboard.stop() from
    another thread, or Ctrl-C, which stops it and returns), as the original's
    launch_dashboard ran its server in the foreground; False returns at once;
    None (default) blocks when run as a script and returns at once in an
    interactive session (REPL, Jupyter).

    An occupied port raises OSError(errno.EADDRINUSE, "... address already in
    use"); a bad listen address or token, ValueError.
    """
    if not isinstance(cache, _CacheCore):
        raise TypeError("launch_dashboard() needs a macho.Cache, not %s" % type(cache).__name__)
    if listen is not None and not isinstance(listen, str):
        raise _type_error("listen", "str", listen)
    if token is not None and not isinstance(token, str):
        raise _type_error("token", "str", token)
    if block is not None and not isinstance(block, bool):
        raise _type_error("block", "bool", block)
    dash = cache.dashboard if isinstance(cache, Cache) else None
    if dash is None:
        url = cache._dashboard_start(listen, token)
        dash = Dashboard(url, cache)
        if isinstance(cache, Cache):
            cache._dashboard = dash
        if not quiet:
            print("macho dashboard: %s" % url, file=sys.stdout, flush=True)
    if block is None:
        block = not _interactive()
    if block:
        try:  # Ctrl-C anywhere from here on stops the dashboard and returns
            if not quiet:
                print("macho dashboard: serving until interrupted (Ctrl-C)", file=sys.stdout,
                      flush=True)
            while not dash.wait(0.5):
                if not dash.running:
                    break
        except KeyboardInterrupt:
            if not quiet:
                print("macho dashboard: stopped", file=sys.stdout, flush=True)
        finally:
            dash.stop()
    return dash
