"""Several Python threads on one cache: no crash, no deadlock, no lost
references, invariants intact. Threads interleave inside __eq__ and __del__
(Python code the library calls with no lock held) as well as between calls."""
import random
import sys
import threading

from macho import Cache

from test_objects import Collide


def run_threads(n, fn):
    errors = []

    def wrap(i):
        try:
            fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in ts), "a thread hung (deadlock?)"
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors


def test_threads_sharing_a_cache_keep_it_consistent():
    c = Cache(max_cache_size=64, shard_count=4)
    values = [object() for _ in range(16)]
    before = [sys.getrefcount(v) for v in values]

    def work(i):
        rng = random.Random(i)
        for _ in range(5000):
            k = rng.randrange(200)
            op = rng.random()
            if op < 0.5:
                v = c.get(k)
                assert v is None or v in values
            elif op < 0.9:
                c.add(k, values[k % 16])
            elif op < 0.98:
                c.delete(k)
            else:
                assert len(c) <= 64

    run_threads(4, work)
    assert len(c) <= 64
    for k in c.keys():
        assert c.get(k) is values[k % 16]
    c.clear()
    assert [sys.getrefcount(v) for v in values] == before


def test_threads_colliding_in_python_eq_do_not_deadlock():
    c = Cache(max_cache_size=32, shard_count=2)
    keys = [Collide("k%d" % i) for i in range(24)]

    def work(i):
        rng = random.Random(100 + i)
        for _ in range(1500):
            k = rng.choice(keys)
            if rng.random() < 0.5:
                c.add(k, k.name)
            else:
                v = c.get(Collide(k.name))
                assert v is None or v == k.name
            if rng.random() < 0.01:
                c.clear()

    run_threads(4, work)
    assert len(c) <= 32
    names = [k.name for k in c.keys()]
    assert len(names) == len(set(names)), "a key is stored twice"


def test_counters_add_up_under_threads():
    c = Cache(max_cache_size=1000, shard_count=8)

    def work(i):
        for j in range(2000):
            c.add((i, j % 100), j)
            c.get((i, j % 50))

    run_threads(4, work)
    t = c.totals
    assert t["adds"] == 8000 and t["gets"] == 8000
    assert t["hits"] + t["misses"] == 8000 and c.total_requests == 16000


def test_the_dashboard_thread_reads_while_python_threads_write():
    import urllib.request

    import pytest

    import macho
    if not macho._macho.HAVE_DASHBOARD:
        pytest.skip("built without the dashboard")
    c = Cache(max_cache_size=100, shard_count=4)
    url = macho.launch_dashboard(c, quiet=True)
    stop = []

    def work(i):
        if i == 0:  # the poller: HTTP requests answered by libmacho's own thread
            n = 0
            while not stop or n < 3:
                for path in ("api/stats", "metrics"):
                    with urllib.request.urlopen(url + path, timeout=30) as r:
                        assert r.status == 200 and r.read()
                n += 1
            return
        rng = random.Random(i)
        for j in range(4000):
            c.add(rng.randrange(500), j)
            c.get(rng.randrange(500))
        stop.append(i)

    run_threads(3, work)
    c._dashboard_stop()
    assert len(c) <= 100
