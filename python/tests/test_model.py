"""Property tests: random add/get/delete/contains/clear sequences against a
small pure-Python reference model. LRU and FIFO are compared exactly, step
by step (return values and the stored key set); the other policies are held
to the invariants every policy must keep (capacity, membership, the value
last added, a key just added is present). Hypothesis prints the failing
sequence and a @reproduce_failure blob to replay it."""
from collections import OrderedDict

from hypothesis import given, settings, strategies as st, HealthCheck

import macho
from macho import Cache

from conftest import FakeClock

KEYS = st.integers(min_value=0, max_value=12)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), KEYS, st.integers(0, 3)),
        st.tuples(st.just("get"), KEYS, st.just(0)),
        st.tuples(st.just("delete"), KEYS, st.just(0)),
        st.tuples(st.just("contains"), KEYS, st.just(0)),
        st.tuples(st.just("clear"), st.just(0), st.just(0)),
    ),
    max_size=120,
)
SETTINGS = settings(max_examples=300,
                    suppress_health_check=[HealthCheck.too_slow])


class Model:
    """LRU or FIFO over an OrderedDict: the first key is the next victim.
    libmacho's replace counts as a use (LRU moves it) and leaves FIFO's
    order alone; get is a use for LRU only; contains is a peek."""

    def __init__(self, capacity, policy):
        self.cap, self.policy, self.d = capacity, policy, OrderedDict()

    def add(self, k, v):
        if k in self.d:
            self.d[k] = v
            if self.policy == "lru":
                self.d.move_to_end(k)
            return None
        if len(self.d) >= self.cap:
            self.d.popitem(last=False)
        self.d[k] = v
        return None

    def get(self, k, _=0):
        if k not in self.d:
            return None
        if self.policy == "lru":
            self.d.move_to_end(k)
        return self.d[k]

    def delete(self, k, _=0):
        return self.d.pop(k, _MISSING) is not _MISSING

    def contains(self, k, _=0):
        return k in self.d

    def clear(self, *_):
        self.d.clear()


_MISSING = object()


def apply(cache, op, k, v):
    if op == "add":
        return cache.add(k, "v%d" % v)
    if op == "get":
        return cache.get(k)
    if op == "delete":
        return cache.delete(k)
    if op == "contains":
        return k in cache
    return cache.clear()


def apply_model(model, op, k, v):
    if op == "add":
        return model.add(k, "v%d" % v)
    return getattr(model, op)(k, v)


@SETTINGS
@given(cap=st.integers(1, 8), policy=st.sampled_from(["lru", "fifo"]), ops=OPS)
def test_lru_and_fifo_match_the_reference_model_exactly(cap, policy, ops):
    cache, model = Cache(max_cache_size=cap, strategy=policy), Model(cap, policy)
    for i, (op, k, v) in enumerate(ops):
        got, want = apply(cache, op, k, v), apply_model(model, op, k, v)
        assert got == want, "step %d %s(%r): cache %r, model %r" % (i, op, k, got, want)
        assert sorted(cache) == sorted(model.d), "step %d %s(%r)" % (i, op, k)
    m = cache.metrics
    assert m["current_size"] == len(model.d)


@SETTINGS
@given(cap=st.integers(1, 8), policy=st.sampled_from(macho.strategies()), ops=OPS,
       shards=st.integers(1, 2))
def test_every_policy_keeps_the_cache_invariants(cap, policy, ops, shards):
    shards = min(shards, cap)
    cache = Cache(max_cache_size=cap, strategy=policy, shard_count=shards)
    last = {}  # the value last added per key that may still be cached
    for i, (op, k, v) in enumerate(ops):
        size, present = len(cache), k in cache
        got = apply(cache, op, k, v)
        where = "step %d %s(%r) policy=%s" % (i, op, k, policy)
        if op == "add" and shards == 1:
            want = size if present else min(cap, size + 1)
            assert len(cache) == want, "an add evicted more than needed: " + where
        if op == "add":
            last[k] = "v%d" % v
            assert k in cache, "a key just added is missing: " + where
            assert cache.get(k) == last[k], where
        elif op == "get":
            assert got is None or got == last.get(k), where
        elif op == "delete":
            assert k not in cache, where
            last.pop(k, None)
        elif op == "clear":
            assert len(cache) == 0, where
            last.clear()
        keys = list(cache)
        assert len(keys) == len(set(keys)) == len(cache) <= cap, where
        assert set(keys) <= set(last), where
        for key in keys:
            assert key in cache, where


TTL_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), KEYS, st.sampled_from([None, 1, 3, 10])),
        st.tuples(st.just("get"), KEYS, st.just(None)),
        st.tuples(st.just("advance"), st.integers(0, 4), st.just(None)),
        st.tuples(st.just("expire"), st.just(0), st.just(None)),
    ),
    max_size=100,
)


@SETTINGS
@given(cap=st.integers(1, 8), policy=st.sampled_from(macho.strategies()), ops=TTL_OPS)
def test_no_policy_ever_returns_an_expired_value(cap, policy, ops):
    clock = FakeClock()
    cache = Cache(max_cache_size=cap, ttl=5.0, strategy=policy, clock=clock)
    now, last = 0, {}  # key -> (value, deadline) of its last add
    for i, (op, k, ttl) in enumerate(ops):
        where = "step %d %s(%r, %r) policy=%s now=%d" % (i, op, k, ttl, policy, now)
        if op == "add":
            cache.add(k, (k, i), ttl=ttl)
            last[k] = ((k, i), now + (ttl if ttl is not None else 5))
        elif op == "get":
            got = cache.get(k)
            # Past the deadline: gone. At the deadline itself either answer is
            # right (the core keeps deadlines in 1 ms ticks, never early).
            if k in last and now > last[k][1]:
                assert got is None, "an expired value came back: " + where
            else:
                assert got is None or got == last[k][0], where
        elif op == "advance":
            clock.advance(k)
            now += k
        else:
            cache.expire()
            for key in cache:
                assert now <= last[key][1], "expire() left an expired entry: " + where
        assert len(cache) <= cap, where
