"""`/health/ready` and `/metrics` of a node on PostgreSQL and S3 (SeaweedFS), each reached through
a TCP forwarder the test can cut: readiness turns 503 with the failing backend named, and back to
200 when it returns; the pool and transaction metrics are on `/metrics`."""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.parse

import requests

from coffer_harness import CofferServer, _PgCluster, _Weed
from sdkutil import oss2_bucket_for, unique_bucket_name
from test_health import SAMPLE_RE

DEADLINE_S = 30


class Forwarder:
    """Forwards TCP connections on a loopback port to `target` (a (host, port) pair or a Unix
    socket path) until cut; can be resumed on the same port."""

    def __init__(self, target):
        self.target = target
        self.port = 0
        self.listener: socket.socket | None = None
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.resume()

    def resume(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Closes the listening socket and every forwarded connection."""
        assert self.listener is not None
        try:
            # Wakes the accepting thread (closing alone does not, on Linux).
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.listener = None
        with self.lock:
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                if isinstance(self.target, str):
                    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                else:
                    upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def ready(node: CofferServer) -> requests.Response:
    return requests.get(f"{node.endpoint}/health/ready", timeout=10)


def wait_ready(node: CofferServer, status: int, reason: str = "") -> requests.Response:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        r = ready(node)
        if r.status_code == status and reason in r.text:
            return r
        assert time.monotonic() < deadline, f"readiness stayed {r.status_code} {r.text!r}"
        time.sleep(0.2)  # polling interval


def test_readiness_follows_the_database_and_the_blob_store(tmp_path):
    pg = _PgCluster.get()
    socket_url = urllib.parse.urlparse(pg.fresh_database_url())
    database = socket_url.path.lstrip("/")
    pg_forwarder = Forwarder(str(pg.dir / ".s.PGSQL.5432"))
    weed = _Weed.get()
    s3_forwarder = Forwarder(("127.0.0.1", weed.s3_port))

    node = CofferServer.create(tmp_path / "node")
    node.extra_args = [
        "--meta", f"postgresql://coffer@127.0.0.1:{pg_forwarder.port}/{database}",
        "--blob", f"s3://coffer/health-{database}?endpoint=http://127.0.0.1:{s3_forwarder.port}",
    ]
    node.extra_env.update(
        COFFER_S3_ACCESS_KEY_ID=weed.KEY_ID, COFFER_S3_SECRET_ACCESS_KEY=weed.SECRET
    )
    node.start()
    try:
        r = ready(node)
        assert (r.status_code, r.text) == (200, "ready\n")
        bucket = oss2_bucket_for(node, unique_bucket_name("health"))
        bucket.create_bucket()
        bucket.put_object("k", b"v")

        metrics = requests.get(f"{node.endpoint}/metrics", timeout=10).text
        samples = [line for line in metrics.splitlines() if line and not line.startswith("#")]
        assert all(SAMPLE_RE.match(line) for line in samples), [
            line for line in samples if not SAMPLE_RE.match(line)
        ][:5]
        count = re.search(r'coffer_pg_transaction_seconds_count\{pool="meta"\} (\d+)', metrics)
        assert count and int(count.group(1)) > 0, "no metadata transactions counted"
        for pool in ("meta", "iam", "kms"):
            assert f'coffer_pg_pool_connections{{pool="{pool}",state="idle"}}' in metrics

        pg_forwarder.cut()
        r = wait_ready(node, 503, "metadata store")
        assert r.text.startswith("not ready: the metadata store"), r.text
        pg_forwarder.resume()
        wait_ready(node, 200)
        assert bucket.get_object("k").read() == b"v"

        s3_forwarder.cut()
        r = wait_ready(node, 503, "blob store")
        assert r.text.startswith("not ready: the blob store"), r.text
        s3_forwarder.resume()
        wait_ready(node, 200)
        assert bucket.get_object("k").read() == b"v"
        assert node.stop() == 0
    finally:
        node.kill()
        for f in (pg_forwarder, s3_forwarder):
            if f.listener is not None:
                f.cut()
