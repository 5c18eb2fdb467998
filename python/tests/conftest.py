"""Test configuration.

Seeds: property tests (hypothesis) and the randomised thread tests use one
seed, fixed by default so that CI runs are reproducible, and printed in the
header and the summary:
    scripts/python-tests.sh                          # the fixed seed (CI)
    MACHO_TEST_SEED=1234 scripts/python-tests.sh     # replay a given seed
    MACHO_TEST_SEED=random scripts/python-tests.sh   # a fresh seed (printed)
Hypothesis also prints the failing example and a @reproduce_failure blob.

Time: tests never sleep. FakeClock is the cache's clock= hook: a callable
returning seconds that the test moves by hand.
"""
import os
import random

import pytest
from hypothesis import settings

FIXED_SEED = 20261129

# No example database: runs leave no .hypothesis/ directory behind, and the
# printed seed alone replays a run.
settings.register_profile("macho", database=None, deadline=None)
settings.load_profile("macho")


def _seed_from_env():
    raw = os.environ.get("MACHO_TEST_SEED", "")
    if raw == "random":
        return random.SystemRandom().randrange(2**32)
    return int(raw) if raw else FIXED_SEED


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    seed = _seed_from_env()
    config._macho_seed = seed
    if getattr(config.option, "hypothesis_seed", None) is None:
        config.option.hypothesis_seed = seed


def _seed_line(config):
    return "macho: seed %s (replay with MACHO_TEST_SEED=%s; fresh seed: MACHO_TEST_SEED=random)" % (
        config._macho_seed, config._macho_seed)


def pytest_report_header(config):
    return _seed_line(config)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminalreporter.write_line(_seed_line(config))  # shown with -q too


@pytest.fixture
def seed(request):
    """The run's seed, for tests that draw their own random numbers."""
    return request.config._macho_seed


class FakeClock:
    """clock= for a Cache: seconds that only move when the test says so."""

    def __init__(self, start=1000.0):
        self.now = float(start)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()
