"""launch_dashboard: a Dashboard (the URL, a str) with stop(); block=True
serves until stop() or Ctrl-C; errors name their cause (an occupied port is
OSError EADDRINUSE, "address already in use")."""
import errno
import socket
import threading
import urllib.request

import pytest

import macho
from macho import Cache, Dashboard, launch_dashboard

pytestmark = pytest.mark.skipif(not macho._macho.HAVE_DASHBOARD,
                                reason="built without the dashboard")


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.read()


def test_a_dashboard_is_its_url_and_stops(capsys):
    c = Cache(max_cache_size=10)
    dash = launch_dashboard(c, block=False)
    assert isinstance(dash, Dashboard) and isinstance(dash, str)
    assert dash.url == dash and dash.startswith("http://127.0.0.1:")
    assert capsys.readouterr().out.strip() == "macho dashboard: %s" % dash.url
    assert launch_dashboard(c, quiet=True, block=False) is dash  # idempotent
    assert c.dashboard is dash and dash.running
    c["k"] = "v"
    status, body = fetch(dash.url + "api/stats")
    assert status == 200 and body.startswith(b"{")
    dash.stop()
    assert not dash.running and c.dashboard is None
    with pytest.raises(OSError):
        fetch(dash.url + "api/stats")
    dash.stop()  # idempotent
    again = launch_dashboard(c, quiet=True, block=False)  # a new one may start
    assert again.running and fetch(again.url + "metrics")[0] == 200
    again.stop()


def test_block_serves_until_stop_is_called_from_another_thread():
    c = Cache()
    result = []
    t = threading.Thread(target=lambda: result.append(launch_dashboard(c, quiet=True, block=True)))
    t.start()
    for _ in range(3000):
        if c.dashboard is not None:
            break
        threading.Event().wait(0.01)
    dash = c.dashboard
    assert dash is not None and fetch(dash.url + "api/stats")[0] == 200
    assert t.is_alive()  # still blocking
    dash.stop()
    t.join(30)
    assert not t.is_alive() and result == [dash] and not dash.running


def test_a_dashboard_is_a_context_manager():
    c = Cache()
    with launch_dashboard(c, quiet=True, block=False) as dash:
        assert fetch(dash.url + "metrics")[0] == 200
    assert not dash.running


def test_an_occupied_port_says_address_already_in_use():
    if macho._macho.strerror(macho._macho.EADDRINUSE_STATUS) == macho._macho.strerror(-99999):
        pytest.skip("this libmacho has no MACHO_EADDRINUSE yet (it comes with the dashboard's "
                    "branch); an occupied port is then OSError EIO")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        c = Cache()
        with pytest.raises(OSError, match="address already in use") as info:
            launch_dashboard(c, listen="127.0.0.1:%d" % port, quiet=True, block=False)
        assert info.value.errno == errno.EADDRINUSE
        assert c.dashboard is None
        c["still"] = "usable"
        assert c["still"] == "usable"
    finally:
        holder.close()


@pytest.mark.parametrize("kwargs, exc", [
    ({"listen": "not an address"}, ValueError),
    ({"listen": "127.0.0.1:99999"}, ValueError),
    ({"listen": "[" + "1" * 300 + "]:80"}, ValueError),
    ({"listen": "0.0.0.0:0"}, ValueError),          # not loopback: needs a token
    ({"listen": "127.0.0.1:0", "token": "bad token!"}, ValueError),
    ({"listen": 8080}, TypeError),
    ({"token": 5}, TypeError),
    ({"block": "yes"}, TypeError),
])
def test_bad_dashboard_arguments_raise_and_start_nothing(kwargs, exc):
    c = Cache()
    with pytest.raises(exc):
        launch_dashboard(c, quiet=True, **({"block": False} | kwargs))
    assert c.dashboard is None


def test_launch_dashboard_needs_a_cache():
    with pytest.raises(TypeError, match="macho.Cache"):
        launch_dashboard({}, block=False)
