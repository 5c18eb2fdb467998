"""macho.Tier against a real redis-server started by the test (on a free
loopback port; skipped with a message when the binary is missing). An outside
client speaking RESP over a socket plays another application and is the model:
after each change and each fault, what the tier returns is what Redis holds."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import macho

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS is None or not macho._tier.available(),
    reason="no redis-server binary or no hiredis in this build (scripts/deps.sh installs both)")


class Resp:
    """A minimal RESP2 client: enough for SET/GET/DEL/CLIENT LIST/KILL."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.f = self.s.makefile("rb")

    def __call__(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self._read()

    def _read(self):
        line = self.f.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def kill_named(self, name):
        killed = 0
        for line in self("CLIENT", "LIST").decode().splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if fields.get("name") == name:
                killed += self("CLIENT", "KILL", "ID", fields["id"])
        return killed

    def close(self):
        self.s.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="macho-tier-py.")
    for _ in range(5):
        port = free_port()
        p = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", d, "--logfile", ""],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            try:
                c = Resp(port)
                if c("PING") == "PONG":
                    c.close()
                    break
            except OSError:
                time.sleep(0.01)
        else:
            p.kill()
            p.wait()
            continue
        yield port
        p.kill()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)
        return
    pytest.fail("redis-server would not start")


@pytest.fixture
def outside(server):
    c = Resp(server)
    c("FLUSHALL")
    yield c
    c.close()


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.001)
    return cond()


def tier(server, **kw):
    kw.setdefault("key_prefix", "py:")
    kw.setdefault("heartbeat_interval", 0.05)
    kw.setdefault("timeout", 2.0)
    kw.setdefault("heartbeat_timeout", 2.0)
    kw.setdefault("reconnect_max", 0.05)
    return macho.Tier(redis="127.0.0.1:%d" % server, **kw)


def test_reads_through_redis_then_answers_from_l1(server, outside):
    outside("SET", "py:user", "Ada")
    with tier(server) as t:
        assert t.get("user") == b"Ada"
        assert t.stats["l2_hits"] == 1
        assert t.get("user") == b"Ada"
        s = t.stats
        assert s["l1_hits"] == 1 and s["l2_hits"] == 1
        assert t.get("nobody") is None
        assert t.get("nobody", "dflt") == "dflt"
        assert "user" in t and "nobody" not in t
        with pytest.raises(KeyError):
            t["nobody"]
        assert len(t) == 1 and t.current_size == 1
        assert t.keys() == [b"user"]


def test_writes_through_to_redis_and_l1(server, outside):
    with tier(server, decode_responses=True) as t:
        t.add("k", "välue")
        assert outside("GET", "py:k") == "välue".encode()
        assert outside("PTTL", "py:k") == -1
        assert t.get("k") == "välue"
        t.add("k", b"bytes", ttl=30)
        assert 25000 < outside("PTTL", "py:k") <= 30000
        t[b"raw\x00key"] = bytearray(b"\x00\x01")
        assert outside("GET", b"py:raw\x00key") == b"\x00\x01"
        assert t.delete("k") is True
        assert t.delete("k") is False
        assert outside("EXISTS", "py:k") == 0
        del t[b"raw\x00key"]
        with pytest.raises(KeyError):
            del t["absent"]
        big = os.urandom(1 << 20)
        t2 = tier(server)
        t2.add("big", big)
        t2.clear()
        assert t2.get("big") == big
        t2.close()


def test_a_write_elsewhere_is_seen_once_invalidated(server, outside):
    outside("SET", "py:color", "red")
    with tier(server) as t:
        assert t.get("color") == b"red"
        before = t.stats["invalidations"]
        outside("SET", "py:color", "blue")
        assert wait_for(lambda: t.stats["invalidations"] > before)
        assert t.get("color") == b"blue"
        outside("FLUSHALL")
        assert wait_for(lambda: t.stats["flushes"]["server"] >= 1)  # one per tracked connection
        assert t.get("color") is None


def test_another_process_sees_a_write(server, outside):
    script = (
        "import macho, sys, time\n"
        "t = macho.Tier(redis='127.0.0.1:%d', key_prefix='py:')\n"
        "assert t.get('shared') == b'one'\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "deadline = time.monotonic() + 5\n"
        "while t.get('shared') != b'two' and time.monotonic() < deadline: pass\n"
        "print(t.get('shared').decode(), t.stats['invalidations'], flush=True)\n" % server)
    outside("SET", "py:shared", "one")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready"
        with tier(server) as a:
            a.add("shared", "two")
        child.stdin.write("go\n")
        child.stdin.flush()
        value, invalidations = child.stdout.readline().split()
        assert value == "two" and int(invalidations) >= 1
    finally:
        child.wait(10)
    assert child.returncode == 0


def test_the_loader_runs_once_per_key_and_its_errors_propagate(server, outside):
    calls = []
    gate = threading.Event()

    def loader(key):
        calls.append(key)
        if key == b"boom":
            raise KeyError("no such user")
        if key == b"none":
            return None
        if key == b"hot":
            gate.wait(5)
        return (b"loaded:" + key, 60)

    with tier(server, loader=loader) as t:
        out = []
        threads = [threading.Thread(target=lambda: out.append(t.get("hot"))) for _ in range(6)]
        for th in threads:
            th.start()
        assert wait_for(lambda: t.stats["joined"] == 5)
        gate.set()
        for th in threads:
            th.join()
        assert out == [b"loaded:hot"] * 6
        assert calls.count(b"hot") == 1
        assert outside("GET", "py:hot") == b"loaded:hot"
        assert 55000 < outside("PTTL", "py:hot") <= 60000
        with pytest.raises(KeyError, match="no such user"):
            t.get("boom")
        assert outside("EXISTS", "py:boom") == 0
        assert t.get("none", 7) == 7
        assert t.stats["load_errors"] == 1


def test_bad_arguments_raise_and_change_nothing(server, outside):
    with pytest.raises(ConnectionError, match="connecting to Redis"):
        macho.Tier(redis="127.0.0.1:%d" % free_port(), connect_timeout=0.2)
    with pytest.raises(ValueError):
        macho.Tier(redis="not an address")
    with pytest.raises(ValueError):
        tier(server, max_cache_size=0)
    with pytest.raises(ValueError):
        tier(server, strategy="nope")
    with pytest.raises(ValueError):
        tier(server, heartbeat_timeout=0)
    with pytest.raises(TypeError):
        tier(server, loader=5)
    with pytest.raises(TypeError):
        tier(server, timeout="1")
    t = tier(server)
    with pytest.raises(TypeError):
        t.get(42)
    with pytest.raises(TypeError):
        t.add("k", 42)
    with pytest.raises(ValueError):
        t.add("k", "v", ttl=-1)
    with pytest.raises(TypeError):
        t.add("k", "v", ttl="1")
    assert outside("DBSIZE") == 0
    t.close()
    t.close()
    assert t.closed
    with pytest.raises(ValueError, match="closed"):
        t.get("k")


def test_after_a_killed_connection_nothing_stale_is_served(server, outside):
    keys = ["a", "b", "c"]
    with tier(server) as t:
        for k in keys:
            outside("SET", "py:" + k, "old")
            assert t.get(k) == b"old"
        assert outside.kill_named("macho-tier-invalidations") >= 1
        assert wait_for(lambda: t.stats["flushes"]["invalidation"] >= 1)
        for k in keys:
            outside("SET", "py:" + k, "new")
        assert t.wait_ready(5)
        for k in keys:
            assert t.get(k) == b"new"
        data_before = sum(t.stats["flushes"].values())
        assert outside.kill_named("macho-tier-data") >= 1
        for k in keys:
            outside("SET", "py:" + k, "newer")
        assert wait_for(lambda: sum(t.stats["flushes"].values()) > data_before)
        assert t.wait_ready(5)
        for k in keys:
            assert t.get(k) == b"newer"
        assert t.stats["tracking"] is True
        assert isinstance(t.last_error, str)


def test_many_threads_agree_with_redis(server, outside):
    with tier(server, max_cache_size=16, connections=3) as t:
        errors = []

        def work(n):
            try:
                for i in range(400):
                    k = "k%d" % (i % 24)
                    if i % 5 == 0:
                        t.add(k, "%s#%d-%d" % (k, n, i))
                    else:
                        v = t.get(k)
                        if v is not None and not v.startswith(k.encode() + b"#"):
                            errors.append((k, v))
            except Exception as e:  # collected, asserted in the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for th in threads:
            th.start()
        for i in range(200):
            outside("SET", "py:k%d" % (i % 24), "k%d#outside-%d" % (i % 24, i))
        for th in threads:
            th.join()
        assert errors == []
        # Quiescence: a fence key's invalidation comes after every earlier one.
        outside("SET", "py:fence", "1")
        assert wait_for(lambda: (t.get("fence"), "fence" in t)[1])
        outside("SET", "py:fence", "2")
        assert wait_for(lambda: t.stats["invalidations"] > 0 and t.get("fence") == b"2")
        for i in range(24):
            assert t.get("k%d" % i) == outside("GET", "py:k%d" % i)
