"""macho -- an in-memory cache, backed by libmacho (C).

A drop-in for the original pure-Python ``macho``: ``from macho import Cache,
launch_dashboard`` works unchanged, with the same constructor, methods,
properties, dictionary keys and argument errors. The storage, eviction, expiry
and metrics live in libmacho (a sharded C cache in object mode: keys are
hashed with ``hash()`` and compared with ``==``, keys and values are held by
reference), so an operation costs a small constant (a get about two dict
lookups, docs/BENCHMARKS.md) instead of a scan of every entry.

Beyond the original: every eviction policy libmacho implements
(``macho.strategies()``), a per-entry ``ttl`` in ``add``, ``delete``, a
``default`` for ``get``, ``keys()``, ``expire()``, and a ``filter=`` choice of
membership filter (``'none'``, ``'bloom'``, ``'cuckoo'``, ``'xor'``).

Differences from the original, on purpose (README.md, "Python"):

* ``key in cache`` is a peek: it does not count a request, and a key stored
  with the value ``None`` is present. ``cache[key]`` raises ``KeyError`` only
  when the key is absent (a stored ``None`` is returned).
* ``clear()`` resets the metrics as the original did; ``clear(keep_metrics=True)``
  keeps them.
* Latency and lifespan figures come from libmacho's histograms (percentiles
  within 1%; latency timed on a sample of calls, 1 in
  ``latencies['latency_sample_every']``): the raw sample lists
  (``add_latency``, ``get_latency``, ``all_lifespans``) are empty.
* ``evictions`` counts entries the policy chose to evict; expirations are
  counted separately under ``expirations`` (the original lumped them together).
* ``ttl`` must be positive (``float('inf')`` = never expires); ints are
  accepted. ``max_cache_size=True`` is rejected: a bool is not a size.
* Cycles through cached values (a value referring to its cache) are not
  collected by the garbage collector; break them with ``clear()``.
"""
from __future__ import annotations

import math
import sys
from typing import Any, Dict, Iterator, List, Optional, Union

from . import _macho
from ._macho import CacheCore as _CacheCore

__all__ = ["Cache", "launch_dashboard", "strategies", "filters", "__version__"]
__version__ = "0.1.0"


def strategies() -> List[str]:
    """Names of the eviction policies this build of libmacho implements."""
    return [name for name, ok in _macho.policies() if ok]


def filters() -> List[str]:
    """Names of the membership filters this build implements ('none' included)."""
    return [name for name, ok in _macho.filters() if ok]


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class Cache(_CacheCore):
    """An in-memory cache with TTL, sharding, eviction strategies and filters.

    Parameters (all as in the original macho):

    max_cache_size: int
        Maximum number of entries across all shards (default 100, at least 1).
    ttl: float
        Time-to-live of each entry in seconds (default 600.0). An int is also
        accepted. Must be positive; ``float('inf')`` means entries never expire.
    shard_count: int
        Number of independent shards (default 1), 1 <= shard_count <=
        max_cache_size. Capacity is split evenly, the first shards taking the
        remainder, as the original did.
    strategy: str
        Eviction policy: 'lru' (default), 'fifo', 'random', and whatever else
        libmacho implements ('lfu', 'mfu', 'sieve', 's3fifo', 'wtinylfu'); see
        ``macho.strategies()``.
    bloom: bool
        Put a Bloom filter in front of each shard (default False); same as
        ``filter='bloom'``.
    probability: float
        The filter's target false-positive rate, in (0, 1) (default 0.5).
    filter: str, keyword only
        'none', 'bloom', 'cuckoo' or 'xor' (a filter this build does not
        implement raises ValueError saying so). Overrides ``bloom`` unless
        they contradict each other (then ValueError).
    seed: int, keyword only
        Seed of libmacho's hashing and of the random policy (reproducible runs).
    metrics: bool, keyword only
        True (default): latency (a sample of calls timed) and lifespan figures.
        False: counters only (hits, misses, evictions ... still count), the
        latency and lifespan figures stay zero, and TTL deadlines use the
        kernel's coarse monotonic clock (4 ms resolution), which makes a get
        of an entry with a TTL about a third cheaper (docs/BENCHMARKS.md).

    Raises TypeError for an argument of the wrong type and ValueError for one
    out of range; the message names the argument.

    Thread-safe: several Python threads may share one cache.

    With ``shard_count > 1``, ``current_size`` and ``total_requests`` are totals
    across shards, and ``latencies``, ``metric_lifespan`` and ``metrics`` are
    lists with one dict per shard (as in the original); ``totals`` gives the
    whole-cache dict in every case.
    """

    __slots__ = ("_max_cache_size", "_ttl", "_shard_count", "_strategy", "_bloom",
                 "_probability", "_filter")

    def __init__(self, max_cache_size: int = 100, ttl: float = 600.0, shard_count: int = 1,
                 strategy: str = "lru", bloom: bool = False, probability: float = 0.5, *,
                 filter: Optional[str] = None, seed: int = 0, metrics: bool = True,
                 _manual_clock: bool = False) -> None:
        if not _is_int(max_cache_size):
            raise TypeError("Parameter 'max_cache_size' must be of type: int, not %s"
                            % type(max_cache_size).__name__)
        if not _is_real(ttl):
            raise TypeError("Parameter 'ttl' must be of type: float (or int), not %s"
                            % type(ttl).__name__)
        if not _is_int(shard_count):
            raise TypeError("Parameter 'shard_count' must be of type: int, not %s"
                            % type(shard_count).__name__)
        if not shard_count > 0:
            raise ValueError("Parameter 'shard_count' must be positive, got %d" % shard_count)
        if not isinstance(strategy, str):
            raise TypeError("Parameter 'strategy' must be of type: str, not %s"
                            % type(strategy).__name__)
        if not isinstance(bloom, bool):
            raise TypeError("Parameter 'bloom' must be of type: bool, not %s"
                            % type(bloom).__name__)
        if not _is_real(probability):
            raise TypeError("Parameter 'probability' must be of type: float, not %s"
                            % type(probability).__name__)
        if not 0.0 < probability < 1.0:
            raise ValueError("Parameter 'probability' must be between 0.00 - 1.00 (exclusive), "
                             "got %r" % (probability,))
        if max_cache_size < 1:
            raise ValueError("Parameter 'max_cache_size' must be at least 1, got %d"
                             % max_cache_size)
        if shard_count > max_cache_size:
            raise ValueError("Parameter 'shard_count' (%d) must not exceed 'max_cache_size' (%d): "
                             "every shard needs room for an entry" % (shard_count, max_cache_size))
        if math.isnan(ttl) or ttl <= 0:
            raise ValueError("Parameter 'ttl' must be a positive number of seconds "
                             "(float('inf') = never expires), got %r" % (ttl,))
        known = dict(_macho.policies())
        if strategy not in known:
            raise ValueError("Parameter 'strategy' must be one of %s, got %r"
                             % (", ".join(known), strategy))
        if not known[strategy]:
            raise ValueError("Parameter 'strategy': %r is not implemented in this build of "
                             "libmacho (available: %s)" % (strategy, ", ".join(strategies())))
        if filter is None:
            filter = "bloom" if bloom else "none"
        elif not isinstance(filter, str):
            raise TypeError("Parameter 'filter' must be of type: str, not %s"
                            % type(filter).__name__)
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
        if not _is_int(seed) or seed < 0:
            raise TypeError("Parameter 'seed' must be a non-negative int")
        if not isinstance(metrics, bool):
            raise TypeError("Parameter 'metrics' must be of type: bool, not %s"
                            % type(metrics).__name__)
        super().__init__(capacity=max_cache_size, ttl=float(ttl), shards=shard_count,
                         policy=strategy, filter=filter, fp_rate=float(probability),
                         seed=seed, manual_clock=bool(_manual_clock), metrics=metrics)
        self._max_cache_size = max_cache_size
        self._ttl = ttl
        self._shard_count = shard_count
        self._strategy = strategy
        self._bloom = filter == "bloom"
        self._probability = probability
        self._filter = filter

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
        """Eviction policy name."""
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

    # ---- sizes and counts ----------------------------------------------------------
    @property
    def current_size(self) -> int:
        """Entries stored now, across shards (expired ones not yet reclaimed included)."""
        return len(self)

    @property
    def total_requests(self) -> int:
        """Number of get() and add() calls (cache[key] counts as a get), across shards."""
        return self._counters()["requests"]

    # ---- metrics ---------------------------------------------------------------------
    def _shard_ids(self) -> List[int]:
        return list(range(self._shard_count))

    def _latencies_of(self, shard: int) -> Dict[str, Any]:
        return _latency_dict(self, shard)

    def _lifespan_of(self, shard: int) -> Dict[str, Any]:
        return _lifespan_dict(self, shard)

    def _metrics_of(self, shard: int) -> Dict[str, Any]:
        k = self._counters(shard)
        lookups = k["hits"] + k["misses"]
        if shard == -1:
            size = self.max_cache_size
        else:
            size = k["capacity_entries"]
        return {
            "current_size": k["entries"],
            "max_size": size,
            "ttl": self._ttl,
            "hits": k["hits"],
            "misses": k["misses"],
            "total_requests": k["requests"],
            "hit_ratio": round(k["hits"] / lookups, 2) if lookups else 0.0,
            "evictions": k["evictions"],
            "memory_size": k["memory_bytes"],
            "lifespan_metrics": self._lifespan_of(shard),
            "latencies": self._latencies_of(shard),
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

    def _per_shard(self, fn):
        if self._shard_count > 1:
            return [fn(i) for i in self._shard_ids()]
        return fn(-1)

    @property
    def latencies(self) -> Union[Dict[str, Any], List[Dict[str, Any]]]:
        """add/get latency figures in seconds.

        Keys as the original: add_latency_seconds (mean), max_add_latency,
        min_add_latency, add_latency (list of recent samples, or [] when the
        library keeps none), and the same for get; plus p50/p90/p99 as
        add_latency_p50 ... get_latency_p99 and add_count/get_count. A list of
        one dict per shard when shard_count > 1.
        """
        return self._per_shard(self._latencies_of)

    @property
    def metric_lifespan(self) -> Union[Dict[str, Any], List[Dict[str, Any]]]:
        """Lifespans (seconds) of entries that left the cache.

        Keys as the original: max, min, count, total, average, median,
        all_lifespans; plus p90 and p99 and a count per reason under
        by_reason. A list of one dict per shard when shard_count > 1.
        """
        return self._per_shard(self._lifespan_of)

    @property
    def metrics(self) -> Union[Dict[str, Any], List[Dict[str, Any]]]:
        """General figures: current_size, max_size, ttl, hits, misses,
        total_requests, hit_ratio (rounded to 2 places as the original),
        evictions, memory_size (bytes libmacho holds, the Python objects not
        included), lifespan_metrics, latencies; plus expirations, deletes,
        gets, adds, hit_ratio_exact and filter counts. A list of one dict
        per shard when shard_count > 1.
        """
        return self._per_shard(self._metrics_of)

    @property
    def totals(self) -> Dict[str, Any]:
        """The metrics dict for the whole cache, whatever the shard count."""
        return self._metrics_of(-1)

    def clear(self, keep_metrics: bool = False) -> None:
        """Drop every entry, and (as the original did) reset the counters,
        latencies and lifespans, unless keep_metrics=True."""
        super().clear()
        if not keep_metrics:
            self._stats_reset()

    def __iter__(self) -> Iterator[Any]:
        """Iterate over a snapshot of the keys (see keys())."""
        return iter(self.keys())

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

    def __repr__(self) -> str:
        return "<Cache(size=%d, ttl=%s, eviction strategy=%s)>" % (
            self._max_cache_size, self._ttl, self._strategy)


# ---- metrics from libmacho's stats API ---------------------------------------------------
# libmacho keeps log-linear histograms (percentiles within 1%), not the last
# 1000 raw samples the original kept, so the sample lists are empty.


def _latency_dict(cache: "Cache", shard: int) -> Dict[str, Any]:
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


def _lifespan_dict(cache: "Cache", shard: int) -> Dict[str, Any]:
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


# ---- dashboard ----------------------------------------------------------------------------


def launch_dashboard(cache: Cache, listen: Optional[str] = None, token: Optional[str] = None,
                     quiet: bool = False) -> str:
    """Start libmacho's live dashboard for ``cache`` and return its URL.

    The server runs on a background C thread inside this process (no
    subprocess, no Streamlit) and stops when the cache is freed or on
    ``cache._dashboard_stop()``. ``listen`` is "HOST:PORT" (default
    "127.0.0.1:0", a free port); a non-loopback HOST needs ``token``. The URL
    is printed unless quiet=True. Calling it again returns the same URL.
    """
    if not isinstance(cache, _CacheCore):
        raise TypeError("launch_dashboard() needs a macho.Cache, not %s" % type(cache).__name__)
    url = cache._dashboard_start(listen, token)
    if not quiet:
        print("macho dashboard: %s" % url, file=sys.stdout, flush=True)
    return url
