"""Several Python threads on one cache: no crash, no deadlock, no lost
references, invariants intact. Threads interleave inside __eq__ and __del__
(Python code the library calls with no lock held) as well as between calls.

Workers never assert: each one records what it saw (values, errors) and the
main thread checks the records after joining, so a failure is reported, not
lost in a thread. Random choices use the run's seed (conftest.py)."""
import random
import sys
import threading
import urllib.request

import pytest

import macho
from macho import Cache

from test_objects import Collide


def run_threads(n, fn):
    """Run fn(i) in n threads switching as often as possible; return the
    exceptions they raised and whether any hung."""
    errors = []

    def wrap(i):
        try:
            fn(i)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=120)
        hung = [t for t in ts if t.is_alive()]
    finally:
        sys.setswitchinterval(old)
    return errors, hung


def test_threads_sharing_a_cache_keep_it_consistent(seed):
    c = Cache(max_cache_size=64, shard_count=4)
    values = [object() for _ in range(16)]
    before = [sys.getrefcount(v) for v in values]
    seen = [[] for _ in range(4)]  # per thread: every value a get returned

    def work(i):
        rng = random.Random(seed + i)
        for _ in range(5000):
            k = rng.randrange(200)
            op = rng.random()
            if op < 0.4:
                seen[i].append((k, c.get(k)))
            elif op < 0.5:
                seen[i].append((k, c.get(k, None) if k % 2 else c.pop(k, None)))
            elif op < 0.9:
                c[k] = values[k % 16]
            elif op < 0.98:
                c.delete(k)
            else:
                seen[i].append(("len", len(c)))

    errors, hung = run_threads(4, work)
    assert not hung, "a thread hung (deadlock?)"
    assert not errors, errors
    for records in seen:
        for k, v in records:
            if k == "len":
                assert v <= 64
            else:
                assert v is None or v is values[k % 16], (k, v)
    assert len(c) <= 64
    for k, v in c.items():
        assert v is values[k % 16]
    del records, k, v
    seen.clear()
    c.clear()
    assert [sys.getrefcount(v) for v in values] == before


def test_threads_colliding_in_python_eq_do_not_deadlock(seed):
    c = Cache(max_cache_size=32, shard_count=2)
    keys = [Collide("k%d" % i) for i in range(24)]
    seen = [[] for _ in range(4)]

    def work(i):
        rng = random.Random(seed + 100 + i)
        for _ in range(1500):
            k = rng.choice(keys)
            if rng.random() < 0.5:
                c.add(k, k.name)
            else:
                seen[i].append((k.name, c.get(Collide(k.name))))
            if rng.random() < 0.01:
                c.clear()

    errors, hung = run_threads(4, work)
    assert not hung and not errors, (hung, errors)
    for records in seen:
        for name, v in records:
            assert v is None or v == name
    assert len(c) <= 32
    names = [k.name for k in c]
    assert len(names) == len(set(names)), "a key is stored twice"


def test_counters_add_up_under_threads():
    c = Cache(max_cache_size=1000, shard_count=8)

    def work(i):
        for j in range(2000):
            c[(i, j % 100)] = j
            c.get((i, j % 50))

    errors, hung = run_threads(4, work)
    assert not hung and not errors
    t = c.totals
    assert t["adds"] == 8000 and t["gets"] == 8000
    assert t["hits"] + t["misses"] == 8000 and c.total_requests == 16000


def test_a_close_from_another_thread_never_frees_a_cache_in_use(seed):
    # One thread's lookups run Python __eq__ (giving up the GIL) while another
    # closes the cache: every call either completes or raises CacheClosedError.
    c = Cache(max_cache_size=64)
    for i in range(20):
        c[Collide("k%d" % i)] = i
    outcomes = [[] for _ in range(3)]

    def work(i):
        rng = random.Random(seed + 300 + i)
        for n in range(10**6):  # until this thread has seen the cache closed
            if i == 0 and n == 1500:
                c.close()
            try:
                outcomes[i].append(c.get(Collide("k%d" % rng.randrange(20))))
            except macho.CacheClosedError:
                outcomes[i].append("closed")
                return

    errors, hung = run_threads(3, work)
    assert not hung and not errors, (hung, errors)
    for per in outcomes:
        assert per[-1] == "closed"
        assert all(isinstance(o, int) for o in per[:-1])


def test_memoised_calls_from_many_threads_run_each_key_once(seed):
    calls = []

    @macho.cached(maxsize=1000)
    def f(x):
        calls.append(x)
        return -x

    results = [[] for _ in range(4)]

    def work(i):
        rng = random.Random(seed + 400 + i)
        for _ in range(2000):
            x = rng.randrange(50)
            results[i].append((x, f(x)))

    errors, hung = run_threads(4, work)
    assert not hung and not errors
    for per in results:
        assert all(v == -x for x, v in per)
    assert sorted(calls) == sorted(set(calls))  # no key computed twice
    info = f.cache_info()
    assert info.hits + info.misses == 8000 and info.misses == len(calls)


def test_the_dashboard_thread_reads_while_python_threads_write(seed):
    if not macho._macho.HAVE_DASHBOARD:
        pytest.skip("built without the dashboard")
    c = Cache(max_cache_size=100, shard_count=4)
    dash = macho.launch_dashboard(c, quiet=True, block=False)
    stop = []
    statuses = []

    def work(i):
        if i == 0:  # the poller: HTTP requests answered by libmacho's own thread
            n = 0
            while not stop or n < 3:
                for path in ("api/stats", "metrics"):
                    with urllib.request.urlopen(dash.url + path, timeout=30) as r:
                        statuses.append((r.status, len(r.read()) > 0))
                n += 1
            return
        rng = random.Random(seed + i)
        for j in range(4000):
            c[rng.randrange(500)] = j
            c.get(rng.randrange(500))
        stop.append(i)

    errors, hung = run_threads(3, work)
    dash.stop()
    assert not hung and not errors, (hung, errors)
    assert statuses and all(s == (200, True) for s in statuses)
    assert len(c) <= 100
