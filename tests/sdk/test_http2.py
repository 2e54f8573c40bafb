"""HTTP/2 over TLS against the real binary, driven frame by frame with the `h2` package: a
connection kept busy only by client PINGs follows the idle timeout (not the header-read
timeout), the server PINGs the client, and a header block that never ends is still cut by the
header-read timeout.

The server runs with --header-read-timeout 1 and --idle-timeout 4; every wait is bounded.
"""

from __future__ import annotations

import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import hpack
import pytest
from hyperframe.frame import ContinuationFrame, HeadersFrame

from coffer_harness import CofferServer

HEADER_TIMEOUT_S = 1
IDLE_TIMEOUT_S = 4
# The longest any test waits for the server to act.
BOUND_S = 15
# How often the client PINGs and reads (it answers the server's PINGs as it reads).
STEP_S = 0.25


@pytest.fixture(scope="module")
def h2_server(tmp_path_factory):
    server = CofferServer.create(tmp_path_factory.mktemp("h2"))
    server.extra_args = [
        "--tls-self-signed",
        "--header-read-timeout", str(HEADER_TIMEOUT_S),
        "--idle-timeout", str(IDLE_TIMEOUT_S),
    ]
    server.start()
    yield server
    assert server.stop() == 0, server.log_tail()


class Client:
    """One HTTP/2 connection over TLS; `pump` reads what the server sent (and so ACKs its PINGs)."""

    def __init__(self, server: CofferServer):
        ctx = ssl.create_default_context(cafile=str(server.data_dir / "tls-self-signed.crt"))
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection((server.host, server.port), timeout=BOUND_S)
        self.sock = ctx.wrap_socket(raw, server_hostname=server.host)
        assert self.sock.selected_alpn_protocol() == "h2"
        self.authority = f"{server.host}:{server.port}"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.closed = False
        self.events: list = []

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, wait: float) -> None:
        """Reads for up to `wait` seconds; sets `closed` when the server has closed."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            self.closed = True
            return
        if not data:
            self.closed = True
            return
        events = self.conn.receive_data(data)
        self.events += events
        if any(isinstance(e, h2.events.ConnectionTerminated) for e in events):
            self.closed = True
        self.flush()

    def ping_for(self, seconds: float) -> float:
        """PINGs every STEP_S for `seconds` or until closed; returns the seconds it lasted."""
        start = time.monotonic()
        while not self.closed and time.monotonic() - start < seconds:
            try:
                self.conn.ping(b"coffer!!")
                self.flush()
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                self.closed = True
                break
            self.pump(STEP_S)
        return time.monotonic() - start

    def get(self, path: str) -> int:
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream,
            [(":method", "GET"), (":path", path), (":scheme", "https"), (":authority", self.authority)],
            end_stream=True,
        )
        self.flush()
        status = None
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline and not self.closed:
            self.pump(STEP_S)
            for e in self.events:
                if isinstance(e, h2.events.ResponseReceived) and e.stream_id == stream:
                    status = int(dict(e.headers)[b":status"])
                if isinstance(e, h2.events.StreamEnded) and e.stream_id == stream:
                    assert status is not None
                    return status
        raise AssertionError(f"no response to GET {path} (closed: {self.closed})")

    def close(self) -> None:
        self.sock.close()


def test_a_connection_kept_up_by_pings_outlives_the_header_timeout(h2_server):
    client = Client(h2_server)
    try:
        lasted = client.ping_for(HEADER_TIMEOUT_S * 2.5)
        assert not client.closed, f"closed after {lasted:.1f}s of PINGs, under the idle timeout"
        assert client.get("/health/live") == 200
    finally:
        client.close()


def test_a_connection_kept_up_by_pings_is_closed_at_the_idle_timeout(h2_server):
    client = Client(h2_server)
    try:
        assert client.get("/health/live") == 200
        lasted = client.ping_for(BOUND_S)
        assert client.closed, f"still open after {lasted:.1f}s of PINGs"
        assert IDLE_TIMEOUT_S - 0.5 <= lasted <= IDLE_TIMEOUT_S + 3, lasted
        # The server PINGs too (every half idle timeout), to find peers that vanished.
        assert any(isinstance(e, h2.events.PingReceived) for e in client.events), client.events
    finally:
        client.close()


def test_a_header_block_that_never_ends_is_cut_at_the_header_timeout(h2_server):
    client = Client(h2_server)
    try:
        # Let the SETTINGS exchange settle, then open stream 1 with a header block that goes on
        # in CONTINUATION frames and never sets END_HEADERS (bytes keep arriving: not idle).
        client.pump(STEP_S)
        block = hpack.Encoder().encode(
            [(":method", "GET"), (":path", "/health/live"), (":scheme", "https"),
             (":authority", client.authority), ("x-pad", "p" * 4000)],
            huffman=False,
        )
        first = HeadersFrame(1, data=block[:64])
        first.flags.add("END_STREAM")
        client.sock.sendall(first.serialize())
        start = time.monotonic()
        offset = 64
        while not client.closed and time.monotonic() - start < BOUND_S and offset < len(block) - 16:
            try:
                client.sock.sendall(ContinuationFrame(1, data=block[offset : offset + 16]).serialize())
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                client.closed = True
                break
            offset += 16
            client.pump(STEP_S)
        lasted = time.monotonic() - start
        assert client.closed, f"an unfinished header block was kept for {lasted:.1f}s"
        assert lasted < IDLE_TIMEOUT_S, f"cut after {lasted:.1f}s: by the idle timeout, not the header timeout"
    finally:
        client.close()
