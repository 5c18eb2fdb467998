#!/usr/bin/python3
"""bench_python.py -- macho.Cache against Python's usual caches, same run,
same workload, so the ratios hold even on a loaded machine.

Workload (issue 7): keys drawn from a Zipf(s) distribution over a key space
10x the capacity, 90% get / 10% add, capacity 10,000. Every contender runs the
same pre-generated operation list through the same loop shape (bound methods
hoisted out of the loop), so the figures differ only by what one call costs:

  dict            plain dict .get / __setitem__, unbounded: the floor
  lru_cache       functools.lru_cache(maxsize=cap): a call per operation
                  (a get is a cached call; an add is a call that misses)
  cachetools      cachetools.LRUCache(maxsize=cap) .get / __setitem__
  macho           macho.Cache(max_cache_size=cap) .get / .add (ttl 600 s)
  macho-noexpire  the same with ttl=inf (no deadline checks)
  macho-nometrics ttl 600 s, metrics=False (counters only, coarse clock)

Three loops: "mixed" (90/10 on a cold cache), "get" (gets only, on a cache
pre-filled with the hottest keys: the lookup path alone) and "add" (adds only,
from cold; the caches evict once full, the dict grows). Each round runs
every contender once, one after another; ratios are taken between contenders
of the same round (timed seconds apart), and the median over rounds is
reported, so load from other processes cancels out as far as it can.

Usage: PYTHONPATH=<dir holding the built macho> /usr/bin/python3 bench/bench_python.py
"""
import argparse
import functools
import platform
import random
import sys
import time

import cachetools

import macho


def zipf_keys(n_ops, n_keys, s, seed):
    rng = random.Random(seed)
    cum, total = [], 0.0
    for rank in range(1, n_keys + 1):
        total += 1.0 / rank ** s
        cum.append(total)
    names = ["key:%d" % i for i in range(n_keys)]
    for k in names:
        hash(k)  # str caches its hash; every contender then pays the same
    draws = rng.choices(range(n_keys), cum_weights=cum, k=n_ops)
    return [names[d] for d in draws], names


def mixed_ops(keys, get_ratio, seed):
    rng = random.Random(seed + 1)
    return [(rng.random() < get_ratio, k) for k in keys]


# ---- one loop per contender, same shape -------------------------------------------------

def loop_mixed(get, add, ops):
    t = time.perf_counter()
    for is_get, k in ops:
        if is_get:
            get(k)
        else:
            add(k, k)
    return time.perf_counter() - t


def loop_get(get, keys):
    t = time.perf_counter()
    for k in keys:
        get(k)
    return time.perf_counter() - t


def loop_add(add, keys):
    t = time.perf_counter()
    for k in keys:
        add(k, k)
    return time.perf_counter() - t


def loop_lru_add(f, keys):
    t = time.perf_counter()
    for k in keys:
        f(k)
    return time.perf_counter() - t


def loop_lru_mixed(f, ops):
    t = time.perf_counter()
    for is_get, k in ops:
        if is_get:
            f(k)
        else:
            f(k)
    return time.perf_counter() - t


def make(name, cap):
    """A fresh contender: (get, add) callables."""
    if name == "dict":
        d = {}
        return d.get, d.__setitem__, d
    if name == "cachetools":
        c = cachetools.LRUCache(maxsize=cap)
        return c.get, c.__setitem__, c
    if name == "macho":
        c = macho.Cache(max_cache_size=cap)
        return c.get, c.add, c
    if name == "macho-noexpire":
        c = macho.Cache(max_cache_size=cap, ttl=float("inf"))
        return c.get, c.add, c
    if name == "macho-nometrics":
        c = macho.Cache(max_cache_size=cap, metrics=False)
        return c.get, c.add, c
    if name == "lru_cache":
        f = functools.lru_cache(maxsize=cap)(lambda k: k)
        return f, None, f
    raise ValueError(name)


NAMES = ["dict", "lru_cache", "cachetools", "macho", "macho-noexpire", "macho-nometrics"]


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=300_000, help="operations per round")
    ap.add_argument("--capacity", type=int, default=10_000)
    ap.add_argument("--zipf", type=float, default=0.99)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    cap = args.capacity
    keys, names = zipf_keys(args.ops, cap * 10, args.zipf, args.seed)
    ops = mixed_ops(keys, 0.9, args.seed)
    hot = names[:cap]  # Zipf ranks: the first names are the hottest
    print("# bench_python: %d ops/round, Zipf(%.2f) over %d keys, capacity %d, 90%% get / "
          "10%% add; %d rounds, contenders interleaved; python %s; macho %s (libmacho %s)"
          % (args.ops, args.zipf, cap * 10, cap, args.rounds, platform.python_version(),
             macho.__version__, macho._macho.libmacho_version))
    LOOPS = ("mixed", "get", "add")
    times = {(loop, n): [] for loop in LOOPS for n in NAMES}
    hit_ratio = 0.0
    for _ in range(args.rounds):
        for n in NAMES:
            get, add, obj = make(n, cap)
            if n == "lru_cache":
                dt = loop_lru_mixed(get, ops)
            else:
                dt = loop_mixed(get, add, ops)
            times[("mixed", n)].append(dt)
            # gets only, on a cache holding the hottest keys
            get, add, obj = make(n, cap)
            for k in hot:
                if add:
                    add(k, k)
                else:
                    get(k)
            times[("get", n)].append(loop_get(get, keys))
            if n == "macho":
                hit_ratio = obj.totals["hit_ratio_exact"]
            # adds only, from cold (evicting once full; lru_cache: a call per add)
            get, add, obj = make(n, cap)
            times[("add", n)].append(loop_lru_add(get, keys) if n == "lru_cache"
                                     else loop_add(add, keys))
    # A loaded machine slows whole stretches of a run: compare contenders timed
    # next to each other (same round), and report the median of those ratios.
    summary = {}
    for loop in LOOPS:
        print("\n## %s loop: best round's Mops/s; median over rounds of the same-round "
              "throughput ratio (higher = faster)" % loop)
        print("%-16s %10s %10s %14s" % ("contender", "Mops/s", "vs dict", "vs cachetools"))
        for n in NAMES:
            t = times[(loop, n)]
            vs_dict = median([d / x for d, x in zip(times[(loop, "dict")], t)])
            vs_ct = median([c / x for c, x in zip(times[(loop, "cachetools")], t)])
            summary[(loop, n)] = (vs_dict, vs_ct)
            print("%-16s %10.3f %10.2f %14.2f" % (n, args.ops / min(t) / 1e6, vs_dict, vs_ct))
    vs_dict, vs_ct = summary[("get", "macho")]
    print("\ntargets (get loop, macho defaults): %.2fx cachetools (want >= 3); %.2f of dict's "
          "throughput (want >= 0.5, i.e. within 2x)" % (vs_ct, vs_dict))
    print("macho hit ratio in the get loop: %.3f" % hit_ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
