#!/usr/bin/python3
"""bench_python.py -- macho.Cache side by side with Python's usual caches, in
one run, interleaved rounds, so the ratios hold even when the machine's load
drifts.

Contenders (bound methods hoisted out of the loops where the loop calls one):
  dict          plain dict: the floor (unbounded, no eviction, no TTL)
  lru-dict      lru.LRU(cap) from Debian's python3-lru-dict: a C-extension LRU dict
  lru_cache     functools.lru_cache(maxsize=cap): one call per operation
  cachetools    cachetools.LRUCache(maxsize=cap)
  macho         macho.Cache(max_cache_size=cap): LRU, ttl 600 s, metrics on (defaults)
  macho[]       the same cache through the mapping protocol: c[k], c[k] = v
  macho-inf     ttl=inf (no deadline checks)
  macho-nomet   metrics=False (counters only)

Loops (--ops operations each, the same pre-generated keys for everyone):
  get     get-hit: every key present (the cache pre-filled with the key set)
  add     adds from cold; the bounded caches evict once full, the dict grows
  aside   cache-aside with misses: v = get(k); on a miss v = k and add(k, v);
          Zipf(--zipf) keys over 10x the capacity (hit ratio ~0.8)
lru_cache has no get/add: its loops call the memoised identity function.
The dict's and lru-dict's mapping rows (dict[], lru-dict[]) use d[k] and
d[k] = v, the fair comparison for macho[].

A round times every contender once per loop, in a rotating order (A B C,
B C A, ...); ratios are taken between contenders of the same round and
summarised as median [min, max] over rounds, so load from other processes
cancels out as far as it can. Figures are throughput (ops/s).

Usage (build first: cd python && /usr/bin/python3 setup.py build_ext --inplace):
  PYTHONPATH=python /usr/bin/python3 bench/bench_python.py [--rounds 15] [--ops 300000]
  PYTHONPATH=python /usr/bin/python3 bench/bench_python.py --instructions
The second counts instructions per operation under callgrind (the same on a
loaded machine), split into libmacho's part and the binding's (plus CPython's
call) part.
"""
import argparse
import functools
import os
import platform
import random
import statistics
import sys
import time

import cachetools
import lru

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


# ---- loops: one shape per access style ----------------------------------------------------

def loop_get(get, keys):
    t = time.perf_counter()
    for k in keys:
        get(k)
    return time.perf_counter() - t


def loop_getitem(m, keys):
    t = time.perf_counter()
    for k in keys:
        m[k]
    return time.perf_counter() - t


def loop_add(add, keys):
    t = time.perf_counter()
    for k in keys:
        add(k, k)
    return time.perf_counter() - t


def loop_setitem(m, keys):
    t = time.perf_counter()
    for k in keys:
        m[k] = k
    return time.perf_counter() - t


def loop_aside(get, add, keys):
    t = time.perf_counter()
    for k in keys:
        v = get(k)
        if v is None:
            v = k
            add(k, v)
    return time.perf_counter() - t


def loop_aside_setitem(get, m, keys):
    t = time.perf_counter()
    for k in keys:
        v = get(k)
        if v is None:
            v = k
            m[k] = v
    return time.perf_counter() - t


def loop_call(f, keys):
    t = time.perf_counter()
    for k in keys:
        f(k)
    return time.perf_counter() - t


# ---- contenders -------------------------------------------------------------------------------

def make(name, cap):
    """A fresh container for a contender."""
    if name.startswith("dict"):
        return {}
    if name.startswith("lru-dict"):
        return lru.LRU(cap)
    if name == "cachetools":
        return cachetools.LRUCache(maxsize=cap)
    if name in ("macho", "macho[]"):
        return macho.Cache(max_cache_size=cap)
    if name == "macho-inf":
        return macho.Cache(max_cache_size=cap, ttl=float("inf"))
    if name == "macho-nomet":
        return macho.Cache(max_cache_size=cap, metrics=False)
    if name == "lru_cache":
        return functools.lru_cache(maxsize=cap)(lambda k: k)
    raise ValueError(name)


def setter(name, c):
    if name.startswith("macho") and not name.endswith("[]"):
        return c.add
    return c.__setitem__


MAPPING = {"dict[]", "lru-dict[]", "macho[]"}
NAMES = ["dict", "dict[]", "lru-dict", "lru-dict[]", "lru_cache", "cachetools", "macho", "macho[]",
         "macho-inf", "macho-nomet"]


def run_one(loop, name, cap, hot, get_keys, add_keys, aside_keys):
    c = make(name, cap)
    if name == "lru_cache":
        if loop == "get":
            for k in hot:
                c(k)
            return loop_call(c, get_keys)
        return loop_call(c, add_keys if loop == "add" else aside_keys)
    if loop == "get":
        put = setter(name, c)
        for k in hot:
            put(k, k)
        return loop_getitem(c, get_keys) if name in MAPPING else loop_get(c.get, get_keys)
    if loop == "add":
        return loop_setitem(c, add_keys) if name in MAPPING else loop_add(setter(name, c), add_keys)
    if name in MAPPING:
        return loop_aside_setitem(c.get, c, aside_keys)
    return loop_aside(c.get, setter(name, c), aside_keys)


# ---- instruction counts (callgrind): what one operation costs, load or no load ----------

ONE_CASES = [("dict", "get"), ("dict", "sub"), ("dict", "set"), ("lru-dict", "get"),
             ("lru-dict", "sub"), ("lru-dict", "set"), ("macho", "get"), ("macho", "sub"),
             ("macho", "add"), ("macho", "set"), ("macho-inf", "get"), ("macho-nomet", "get")]


def run_one_case(contender, op, n):
    """One loop of n operations on 1000 resident keys, for callgrind to count."""
    keys = ["key:%d" % i for i in range(1000)]
    seq = (keys * (n // 1000 + 1))[:n]
    if contender == "none":
        for k in seq:
            pass
        return
    c = make(contender, 1000)
    put = setter(contender, c)
    for k in keys:
        put(k, k)
    if op == "get":
        g = c.get
        for k in seq:
            g(k)
    elif op == "sub":
        for k in seq:
            c[k]
    elif op == "set":
        for k in seq:
            c[k] = k
    elif op == "add":
        for k in seq:
            put(k, k)


def count_instructions(n):
    """Instructions per operation under callgrind (deterministic with a fixed
    PYTHONHASHSEED), minus an empty loop over the same keys: the call and the
    lookup, not the loop. Also the part spent inside libmacho (macho_obj_get /
    macho_obj_put inclusive), so the binding's own share shows."""
    import re
    import subprocess
    import tempfile

    def run(contender, op):
        with tempfile.NamedTemporaryFile(suffix=".cg") as out:
            r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out.name,
                                sys.executable, os.path.abspath(__file__), "--one", contender, op,
                                "--ops", str(n)], capture_output=True, text=True,
                               env=dict(os.environ, PYTHONHASHSEED="0"))
            total = int(re.search(r"refs:\s*([\d,]+)", r.stderr).group(1).replace(",", ""))
            lib = 0
            if contender.startswith("macho"):
                a = subprocess.run(["callgrind_annotate", "--inclusive=yes", out.name],
                                   capture_output=True, text=True).stdout
                fn = "macho_obj_get" if op in ("get", "sub") else "macho_obj_put "
                m = re.search(r"^\s*([\d,]+) .*/src/\w+\.c:%s" % fn.strip() + r"\b", a, re.M)
                lib = int(m.group(1).replace(",", "")) if m else 0
            return total, lib

    base, _ = run("none", "none")
    print("# instructions per operation (callgrind, PYTHONHASHSEED=0, %d ops over 1000 resident "
          "keys, minus an empty loop); python %s" % (n, platform.python_version()))
    print("%-12s %-4s %8s %10s %10s" % ("contender", "op", "total", "libmacho", "binding+call"))
    for contender, op in ONE_CASES:
        total, lib = run(contender, op)
        per, per_lib = (total - base) / n, lib / n
        print("%-12s %-4s %8.0f %10s %10s" % (contender, op, per, "%.0f" % per_lib if lib else "-",
                                              "%.0f" % (per - per_lib) if lib else "-"))


def summary(xs):
    return statistics.median(xs), min(xs), max(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=300_000, help="operations per loop and round")
    ap.add_argument("--capacity", type=int, default=10_000)
    ap.add_argument("--zipf", type=float, default=0.99)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="comma list of contenders (default: all)")
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions per operation with callgrind instead of timing")
    ap.add_argument("--one", nargs=2, metavar=("CONTENDER", "OP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        run_one_case(args.one[0], args.one[1], args.ops)
        return 0
    if args.instructions:
        count_instructions(min(args.ops, 20000))
        return 0
    names = [n for n in NAMES if not args.only or n in args.only.split(",")]
    for must in ("dict", "lru-dict"):
        if must not in names:
            names.insert(0, must)

    cap = args.capacity
    rng = random.Random(args.seed)
    hot = ["key:%d" % i for i in range(cap)]
    get_keys = [rng.choice(hot) for _ in range(args.ops)]            # every one a hit
    add_keys = ["new:%d" % rng.randrange(cap * 10) for _ in range(args.ops)]
    for k in add_keys:
        hash(k)
    aside_keys, _ = zipf_keys(args.ops, cap * 10, args.zipf, args.seed)

    print("# bench_python: %d ops per loop and round, capacity %d, %d rounds (rotating order); "
          "python %s; macho %s (libmacho %s); nproc %d; load average %s"
          % (args.ops, cap, args.rounds, platform.python_version(), macho.__version__,
             macho._macho.libmacho_version, os.cpu_count(),
             " ".join("%.2f" % x for x in os.getloadavg())))
    loops = ("get", "add", "aside")
    times = {(loop, n): [] for loop in loops for n in names}
    started = time.time()
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for loop in loops:
            for n in order:
                times[(loop, n)].append(run_one(loop, n, cap, hot, get_keys, add_keys, aside_keys))
    elapsed = time.time() - started

    ok = True
    for loop in loops:
        print("\n## %s loop: Mops/s median [min, max]; same-round throughput ratio median [min, max]"
              % loop)
        print("%-12s %22s %22s %22s" % ("contender", "Mops/s", "vs dict", "vs lru-dict"))
        for n in names:
            t = times[(loop, n)]
            rate = summary([args.ops / x / 1e6 for x in t])
            # mapping rows compare with the other mapping rows
            base_d = "dict[]" if n in MAPPING and "dict[]" in names else "dict"
            base_l = "lru-dict[]" if n in MAPPING and "lru-dict[]" in names else "lru-dict"
            vs_d = summary([d / x for d, x in zip(times[(loop, base_d)], t)])
            vs_l = summary([d / x for d, x in zip(times[(loop, base_l)], t)])
            print("%-12s %6.2f [%5.2f, %5.2f]   %6.2f [%5.2f, %5.2f]   %6.2f [%5.2f, %5.2f]"
                  % ((n,) + rate + vs_d + vs_l))
            if n in ("macho", "macho[]"):
                ok &= vs_d[0] >= 0.9 and vs_l[0] >= 1.5
    print("\ngoals (issue 14): macho and macho[] >= 0.9x dict and >= 1.5x lru-dict on every loop: %s"
          % ("met" if ok else "NOT met"))
    print("elapsed %.0f s; load average at the end %s" % (
        elapsed, " ".join("%.2f" % x for x in os.getloadavg())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
