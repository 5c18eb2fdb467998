"""Cache as a collections.abc.MutableMapping, checked against a dict as the
model (hypothesis): every mapping operation returns what the dict returns and
leaves the same contents, as long as nothing is evicted or expires."""
import collections.abc

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from macho import Cache

KEYS = st.one_of(st.integers(-3, 12), st.sampled_from(["a", "b", "", "é"]),
                 st.tuples(st.integers(0, 2)))
VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=3))
OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), KEYS, VALUES),
    st.tuples(st.just("getitem"), KEYS, st.none()),
    st.tuples(st.just("get"), KEYS, VALUES),
    st.tuples(st.just("delitem"), KEYS, st.none()),
    st.tuples(st.just("contains"), KEYS, st.none()),
    st.tuples(st.just("pop"), KEYS, VALUES),
    st.tuples(st.just("popitem"), st.none(), st.none()),
    st.tuples(st.just("setdefault"), KEYS, VALUES),
    st.tuples(st.just("update"), st.dictionaries(KEYS, VALUES, max_size=3), st.none()),
    st.tuples(st.just("len"), st.none(), st.none()),
    st.tuples(st.just("clear"), st.none(), st.none()),
), max_size=60)


def step(m, op, k, v):
    """One operation on a mapping m; returns what it returned or raised."""
    try:
        if op == "set":
            m[k] = v
            return None
        if op == "getitem":
            return m[k]
        if op == "get":
            return m.get(k, v)
        if op == "delitem":
            del m[k]
            return None
        if op == "contains":
            return k in m
        if op == "pop":
            return m.pop(k, v)
        if op == "popitem":
            item = m.popitem()
            return ("popped", item)
        if op == "setdefault":
            return m.setdefault(k, v)
        if op == "update":
            m.update(k)
            return None
        if op == "len":
            return len(m)
        m.clear()
        return None
    except KeyError:
        return KeyError


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, shards=st.integers(1, 3))
def test_the_mapping_protocol_matches_a_dict(ops, shards):
    c, d = Cache(max_cache_size=1000, shard_count=shards), {}
    for i, (op, k, v) in enumerate(ops):
        got = step(c, op, k, v)
        if op == "popitem" and got != KeyError:
            # Which pair comes out is the mapping's choice: the same one must leave d.
            pk, pv = got[1]
            assert d.pop(pk) == pv, "step %d: popitem gave a pair the model lacks" % i
            want = got
        else:
            want = step(d, op, k, v)
        assert got == want, "step %d %s(%r, %r): cache %r, dict %r" % (i, op, k, v, got, want)
        assert c == d and d == c, "step %d %s: contents differ" % (i, op)
        assert sorted(map(repr, c)) == sorted(map(repr, d))
        assert len(c) == len(d)


def test_a_cache_is_a_mutable_mapping():
    c = Cache()
    assert isinstance(c, collections.abc.MutableMapping)
    assert issubclass(Cache, collections.abc.Mapping)


def test_setitem_and_delitem_work_as_in_a_dict():
    c = Cache()
    c["a"] = 1
    c["a"] = 2
    assert c["a"] == 2 and len(c) == 1
    del c["a"]
    with pytest.raises(KeyError) as info:
        del c["a"]
    assert info.value.args == ("a",)
    assert "a" not in c


def test_subscript_raises_keyerror_carrying_the_key():
    c = Cache()
    with pytest.raises(KeyError) as info:
        c[("a", 1)]
    assert info.value.args == (("a", 1),)


def test_a_stored_none_is_a_value():
    c = Cache()
    c["k"] = None
    assert "k" in c and c["k"] is None and c.get("k", "default") is None
    assert c.pop("k", "default") is None


def test_the_views_are_live_and_set_like():
    c = Cache()
    c.update({"a": 1, "b": 2})
    keys, items, values = c.keys(), c.items(), c.values()
    c["c"] = 3
    assert keys == {"a", "b", "c"} and keys & {"a", "z"} == {"a"}
    assert items == {("a", 1), ("b", 2), ("c", 3)} and ("a", 1) in items
    assert sorted(values) == [1, 2, 3] and 3 in values and 4 not in values
    assert len(keys) == len(items) == len(values) == 3


def test_iterating_counts_no_request():
    c = Cache()
    c.update({"a": 1, "b": 2})
    before = c.total_requests
    list(c), list(c.items()), list(c.values()), "a" in c
    assert c.total_requests == before


def test_iteration_is_over_a_snapshot_so_the_cache_may_change_meanwhile():
    c = Cache()
    c.update({i: i for i in range(10)})
    for k in c:
        del c[k]
        c[k + 100] = k
    assert sorted(c) == list(range(100, 110))


def test_equality_is_a_mappings():
    a, b = Cache(), Cache(max_cache_size=7, strategy="fifo")
    a.update(x=1, y=2)
    b.update(y=2, x=1)
    assert a == b and a == {"x": 1, "y": 2} and {"x": 1, "y": 2} == a
    b["x"] = 5
    assert a != b
    assert a != [("x", 1)]


def test_a_cache_is_unhashable_as_a_mutable_mapping_is():
    with pytest.raises(TypeError, match="unhashable"):
        hash(Cache())


def test_popitem_empties_the_cache_then_raises():
    c = Cache(max_cache_size=1000, shard_count=3)  # roomy: shards fill unevenly
    c.update({i: -i for i in range(100)})
    seen = {}
    while c:
        k, v = c.popitem()
        seen[k] = v
    assert seen == {i: -i for i in range(100)}
    with pytest.raises(KeyError):
        c.popitem()


def test_mapping_operations_keep_the_caches_eviction():
    c = Cache(max_cache_size=2)  # LRU
    c["a"], c["b"] = 1, 2
    c["a"]          # a is most recent
    c["c"] = 3      # evicts b
    assert dict(c.items()) == {"a": 1, "c": 3}
    assert c.metrics["evictions"] == 1


def test_the_generic_alias_works_at_run_time():
    alias = Cache[str, int]
    assert alias.__origin__ is Cache and alias.__args__ == (str, int)
    c = alias(max_cache_size=3)
    assert isinstance(c, Cache)
