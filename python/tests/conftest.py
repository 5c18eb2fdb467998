"""Test configuration: every run of the property tests uses a seed that is
printed in the header, so a failure can be replayed exactly:
    MACHO_TEST_SEED=<seed> scripts/python-tests.sh
(Hypothesis also prints the failing example and a @reproduce_failure blob.)"""
import os
import random

import pytest
from hypothesis import settings

# No example database: runs leave no .hypothesis/ directory behind, and the
# printed seed alone replays a run.
settings.register_profile("macho", database=None)
settings.load_profile("macho")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    seed = os.environ.get("MACHO_TEST_SEED")
    seed = int(seed) if seed else random.SystemRandom().randrange(2**32)
    config._macho_seed = seed
    if getattr(config.option, "hypothesis_seed", None) is None:
        config.option.hypothesis_seed = seed


def pytest_report_header(config):
    return "macho: hypothesis seed %s (replay with MACHO_TEST_SEED=%s)" % (
        config.option.hypothesis_seed, config.option.hypothesis_seed)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # Shown with -q too, next to the result line.
    terminalreporter.write_line("macho: hypothesis seed %s (replay with MACHO_TEST_SEED=%s)"
                                % (config.option.hypothesis_seed, config.option.hypothesis_seed))
