"""Memoisation: macho.cached and Cache.memoize, checked against
functools.lru_cache's conventions (cache_info, cache_clear, typed keys,
keyword arguments, methods) and for single-call semantics: the function runs
once per key while its result is cached, even when threads ask at once."""
import functools
import threading

import pytest

import macho
from macho import Cache, CacheInfo

from conftest import FakeClock


def counted(fn):
    calls = []

    @functools.wraps(fn)
    def inner(*a, **kw):
        calls.append((a, kw))
        return fn(*a, **kw)
    inner.calls = calls
    return inner


def test_cached_calls_once_per_key_and_counts_like_lru_cache():
    base = counted(lambda x, y=0: x * 10 + y)
    f = macho.cached(maxsize=10)(base)
    g = functools.lru_cache(maxsize=10)(base)
    for args, kw in [((1,), {}), ((1,), {}), ((2,), {}), ((1,), {"y": 3}), ((1,), {"y": 3}),
                     ((2,), {})]:
        assert f(*args, **kw) == g(*args, **kw)
    assert f.cache_info() == CacheInfo(hits=3, misses=3, maxsize=10, currsize=3)
    assert tuple(f.cache_info()) == tuple(g.cache_info())
    assert len(base.calls) == 6  # three from each


def test_cache_clear_forgets_results_and_zeroes_the_counts():
    f = macho.cached(maxsize=4)(counted(lambda x: -x))
    f(1), f(1)
    f.cache_clear()
    assert f.cache_info() == CacheInfo(0, 0, 4, 0)
    f(1)
    assert len(f.__wrapped__.calls) == 2


def test_bare_decorator_and_wraps():
    @macho.cached
    def square(x):
        """Square it."""
        return x * x
    assert square(3) == 9 and square.__name__ == "square" and square.__doc__ == "Square it."
    assert square.cache_parameters() == {"maxsize": 128, "typed": False, "ttl": None,
                                         "strategy": "lru"}
    assert isinstance(square.cache, Cache) and square.__wrapped__(4) == 16


def test_typed_keys_tell_int_from_float():
    f = macho.cached(maxsize=8, typed=True)(counted(lambda x: type(x).__name__))
    assert (f(1), f(1.0), f(1)) == ("int", "float", "int")
    assert len(f.__wrapped__.calls) == 2
    u = macho.cached(maxsize=8)(counted(lambda x, y: type(x).__name__))
    assert (u(1, 0), u(1.0, 0)) == ("int", "int")  # equal argument tuples: one key


def test_maxsize_and_ttl_bound_what_stays():
    clock = FakeClock()
    f = macho.cached(maxsize=2, ttl=5.0, clock=clock)(counted(lambda x: x))
    f(1), f(2), f(3)  # 1 evicted (LRU)
    f(1)
    assert len(f.__wrapped__.calls) == 4
    clock.advance(6)
    f(1)
    assert len(f.__wrapped__.calls) == 5
    assert f.cache_info().currsize <= 2


def test_methods_are_memoised_per_instance():
    class Account:
        def __init__(self, n):
            self.n = n
            self.calls = 0

        @macho.cached(maxsize=16)
        def balance(self, day):
            self.calls += 1
            return self.n * day

        def __hash__(self):
            return hash(self.n)

        def __eq__(self, other):
            return isinstance(other, Account) and other.n == self.n

    a, b = Account(2), Account(3)
    assert (a.balance(5), a.balance(5), b.balance(5)) == (10, 10, 15)
    assert (a.calls, b.calls) == (1, 1)
    assert Account.balance.cache_info().hits == 1
    assert Account.balance(a, 5) == 10  # unbound call, same key


def test_memoize_on_a_shared_cache_keeps_functions_apart():
    c = Cache(max_cache_size=100)
    c["user-data"] = 1

    @c.memoize
    def double(x):
        return 2 * x

    @c.memoize(ttl=60.0)
    def triple(x):
        return 3 * x

    assert (double(5), triple(5), double(5)) == (10, 15, 10)
    assert double.cache_info().hits == 1 and triple.cache_info().hits == 0
    assert len(c) == 3 and c["user-data"] == 1
    double.cache_clear()
    assert len(c) == 2 and triple(5) == 15 and triple.cache_info().hits == 1


def test_an_exception_is_not_cached():
    state = {"n": 0}

    @macho.cached(maxsize=4)
    def flaky(x):
        state["n"] += 1
        if state["n"] == 1:
            raise ValueError("first time")
        return x

    with pytest.raises(ValueError):
        flaky(1)
    assert flaky(1) == 1 and flaky(1) == 1
    assert state["n"] == 2 and flaky.cache_info() == CacheInfo(1, 2, 4, 1)


def test_unhashable_arguments_raise_typeerror_as_lru_cache_does():
    f = macho.cached(maxsize=4)(lambda x: x)
    with pytest.raises(TypeError, match="unhashable"):
        f([1])


def test_a_recursive_function_on_its_own_key_does_not_deadlock():
    @macho.cached(maxsize=100)
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)
    assert fib(60) == 1548008755920
    assert fib.cache_info().misses == 61


def test_concurrent_callers_of_one_key_run_the_function_once():
    started, release = threading.Event(), threading.Event()
    calls = []

    @macho.cached(maxsize=8)
    def slow(x):
        calls.append(x)
        started.set()
        release.wait(30)  # every other thread arrives while this one computes
        return x * 2

    results, errors = [], []

    def worker():
        try:
            results.append(slow(21))
        except BaseException as e:  # collected, asserted in the main thread
            errors.append(e)

    first = threading.Thread(target=worker)
    first.start()
    assert started.wait(30)
    others = [threading.Thread(target=worker) for _ in range(7)]
    for t in others:
        t.start()
    # let the others reach the wait on the in-flight call
    for _ in range(200):
        if slow._waiting() >= 7:
            break
        threading.Event().wait(0.01)
    release.set()
    for t in [first] + others:
        t.join(30)
    assert not errors and results == [42] * 8
    assert calls == [21]
    assert slow.cache_info() == CacheInfo(hits=7, misses=1, maxsize=8, currsize=1)


@pytest.mark.parametrize("kwargs, exc", [({"maxsize": 0}, ValueError), ({"maxsize": None}, ValueError),
                                         ({"maxsize": "8"}, TypeError), ({"maxsize": True}, TypeError),
                                         ({"maxsize": 2**64}, OverflowError),
                                         ({"ttl": 0}, ValueError), ({"ttl": float("nan")}, ValueError),
                                         ({"ttl": "1"}, TypeError), ({"typed": 1}, TypeError),
                                         ({"strategy": "nope"}, ValueError)])
def test_bad_decorator_arguments_raise(kwargs, exc):
    with pytest.raises(exc):
        macho.cached(**kwargs)


def test_memoize_rejects_what_is_not_callable():
    with pytest.raises(TypeError):
        Cache().memoize(5)
