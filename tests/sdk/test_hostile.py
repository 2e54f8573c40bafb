"""Hostile clients against the real binary: slow heads and bodies, idle sockets, descriptor
exhaustion. Each test starts its own server with tight limits; all traffic is on loopback and
every wait is bounded.

Idle sockets come from 127.0.0.2 (Linux routes all of 127/8 to loopback), so the per-address cap
they hit does not also apply to the probes sent from 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import resource
import shutil
import socket
import time

import pytest
import requests

from coffer_harness import CofferServer

# The longest any test waits for the server to act on a hostile connection.
BOUND_S = 15


@pytest.fixture
def tight(tmp_path):
    server = CofferServer.create(tmp_path / "tight")
    server.extra_args = [
        "--header-read-timeout", "1",
        "--idle-timeout", "2",
        "--min-body-rate", "1000",
        "--body-rate-window", "1",
    ]
    server.start()
    yield server
    assert server.stop() == 0, server.log_tail()


def connect(server: CofferServer, source: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection((server.host, server.port), timeout=BOUND_S, source_address=(source, 0))
    return s


def closed_by_server(s: socket.socket) -> bool:
    """Reads until the server closes the connection (True) or BOUND_S passes (False)."""
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        try:
            if s.recv(65536) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
    return False


def trickle_until_closed(s: socket.socket, data: bytes, pause: float) -> bool:
    """Sends `data` a byte at a time, `pause` seconds apart (the attack's own pacing); True when
    the server closes the connection before the bytes or BOUND_S run out."""
    s.settimeout(pause)
    deadline = time.monotonic() + BOUND_S
    for b in data:
        if time.monotonic() > deadline:
            return False
        try:
            s.sendall(bytes([b]))
            if s.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def live(server: CofferServer, timeout: float = 1.0) -> bool:
    r = requests.get(server.endpoint + "/health/live", timeout=timeout)
    return r.status_code == 200


def test_a_head_sent_slowly_is_cut(tight):
    s = connect(tight)
    with contextlib.closing(s):
        head = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
        assert trickle_until_closed(s, head, 0.2), "a head trickled over the header timeout was not cut"
    assert live(tight)


def test_a_head_never_finished_is_cut(tight):
    s = connect(tight)
    with contextlib.closing(s):
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        assert closed_by_server(s)


def test_an_idle_keep_alive_connection_is_closed(tight):
    s = connect(tight)
    with contextlib.closing(s):
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(BOUND_S)
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        assert closed_by_server(s)


@pytest.mark.parametrize("api", ["oss", "kms"])
def test_a_body_sent_below_the_minimum_rate_is_cut(tight, api):
    port = tight.port if api == "oss" else tight.kms_port
    s = socket.create_connection((tight.host, port), timeout=BOUND_S)
    with contextlib.closing(s):
        s.sendall(
            b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
            if api == "oss"
            else b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        # 5 bytes every 0.2 s is 25 bytes per second, far under the 1000 asked for.
        assert trickle_until_closed(s, b"x" * 5000, 0.04), "a trickled body was not cut"
    assert live(tight)


def test_two_thousand_idle_sockets_do_not_stop_the_server(tight):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    socks = []
    try:
        for _ in range(2000):
            try:
                socks.append(connect(tight, source="127.0.0.2"))
            except OSError:
                break
        assert len(socks) == 2000
        assert live(tight)
        metrics = requests.get(tight.endpoint + "/metrics", timeout=BOUND_S).text
        assert "coffer_http_connections_refused_total" in metrics
    finally:
        for s in socks:
            s.close()
    assert live(tight)


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit")
def test_descriptor_exhaustion_keeps_health_answering_and_the_log_small(tmp_path):
    server = CofferServer.create(tmp_path / "nofile")
    server.launcher = ["prlimit", "--nofile=256:256", "--"]
    server.start()
    socks = []
    try:
        for _ in range(300):
            try:
                socks.append(connect(server, source="127.0.0.2"))
            except OSError:
                break
        assert len(socks) == 300
        for _ in range(5):
            assert live(server), "health probe not answered within a second"
        # A spinning accept loop would write megabytes per second; a line per thousand events
        # stays small.
        assert server.log_path.stat().st_size < 200_000, server.log_tail()
    finally:
        for s in socks:
            s.close()
        assert server.stop() == 0, server.log_tail()
