"""The original macho README's examples, run as they were written (one fix:
the first example lacks a comma after `bloom=True`, a SyntaxError in the
original too). Comments are the original's."""
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest

import macho


def test_initialise_caching_example():
    # ---------- Imports ----------

    from macho import Cache         # Main cache-class

    # ---------- Create Class ----------

    macho_cache = Cache(
        max_cache_size=100,         # Maximum items/entries stores across shards (Default: 100)
        ttl=600.0,                  # Time-to-live for each item/entry (Default: 600.0)
        shard_count=1,              # Number of caching shards shared by the system (Default: 1)
        strategy="lru",             # Eviction policy for deleting data entries (Default: 'lru')
        bloom=True,                 # Activate the probabilistic Bloom filter (Default: False)
        probability=0.5             # False positive rate for Bloom Filter (Default: 0.5)
    )

    # Add items/entries to the Cache
    for index in range(5):
        macho_cache.add(f"{index}_key", f"{index}_value")   # Requires key: Any, value: Any

    # Get items/entries from the Cache
    assert macho_cache.get(key="1_key") == "1_value"    # Returns 1_value
    assert macho_cache.get(key="2_key") == "2_value"    # Returns 2_value
    assert macho_cache.get(key="6_key") is None         # Returns None (Key doesn't represent a stored value)

    # Clear all items/entries from the current Cache
    macho_cache.clear()             # Deletes ALL currently stored items/entries
    assert macho_cache.current_size == 0


def test_eviction_policies_example():
    from macho import Cache

    # LRU policy
    LRU_cache = Cache(
        strategy="lru"
    )
    # FIFO policy
    LRU_cache = Cache(
        strategy="fifo"
    )
    # Random policy
    LRU_cache = Cache(
        strategy="random"
    )
    assert LRU_cache.strategy == "random"
    # Raises ValueError
    with pytest.raises(ValueError):
        Error_cache = Cache(
            strategy="something"
        )


def test_sharding_example():
    from macho import Cache

    # Instantiate the Cache-object
    sharded_cache = Cache(
        max_cache_size=100,         # Each shard holds 20 independent entries.
        shard_count=5               # Parameter value MUST be 1 or above. Other will raise error
    )
    assert [m["max_size"] for m in sharded_cache.metrics] == [20] * 5
    with pytest.raises(ValueError):
        Cache(shard_count=0)


def test_bloom_filter_example():
    from macho import Cache

    # Instantiate the Cache-object
    bloom_cache = Cache(
        max_cache_size=50,
        ttl=200.0,
        strategy="lru",
        bloom=True,                 # Enables the use of Bloom Filter for quick lookups
        probability=0.5             # Determines the probability of a False Positive
    )

    bloom_cache.add("random_key", "Charizard")
    assert bloom_cache.get("not_present") is None  # Quicker lookup than ordinary cache lookup
    assert bloom_cache.get("random_key") == "Charizard"


def test_metrics_example():
    from macho import Cache

    # Instantiate the Cache-object
    data_cache = Cache(
        max_cache_size=10,
        ttl=5.0,
        shard_count=2,
        strategy="fifo",
        bloom=False
    )

    data_cache.current_size         # Returns the current number of stored items across shards.
    data_cache.total_requests       # Returns the number of total get() and add() calls made.
    data_cache.latencies            # Returns a dictionary representing method-call latency.
    data_cache.metric_lifespan      # Returns a dictionary representing individual entry lifespans
    data_cache.metrics              # Returns a dictionary filled with general cache information.

    data_cache.add("a", 1)
    data_cache.get("a")
    assert data_cache.current_size == 1 and data_cache.total_requests == 2
    assert len(data_cache.metrics) == 2  # one dict per shard, as the original


DASHBOARD_SCRIPT = """
from macho import Cache, launch_dashboard

# Instantiate the Cache-object
dashboard_cache = Cache(
    max_cache_size=10,
    ttl=5.0,
    shard_count=2,
    strategy="fifo",
    bloom=False
)

launch_dashboard(dashboard_cache)       # This function launches the Streamlit dashboard
"""


def line_reader(proc):
    """Lines of proc's stdout as they come (a thread feeds a queue)."""
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put("")
    threading.Thread(target=pump, daemon=True).start()
    return lambda timeout: lines.get(timeout=timeout)


def test_dashboard_example_stays_up_until_interrupted(tmp_path):
    # Run as the README's script: the dashboard must keep serving after the
    # last line (the process used to exit at once) until Ctrl-C stops it.
    if not macho._macho.HAVE_DASHBOARD:
        pytest.skip("built without the dashboard")
    script = tmp_path / "dashboard_example.py"
    script.write_text(DASHBOARD_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    read_line = line_reader(proc)
    try:
        line = read_line(60)
        assert line.startswith("macho dashboard: http://127.0.0.1:"), (line, proc.stderr.read())
        url = line.split()[-1]
        assert "until interrupted" in read_line(60)
        for _ in range(2):  # still up, answering
            with urllib.request.urlopen(url + "api/stats", timeout=30) as r:
                assert r.status == 200 and r.read().startswith(b"{")
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        assert "stopped" in read_line(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
