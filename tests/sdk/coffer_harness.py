"""Start and stop the real coffer binary for the real-client tests.

The server contract relied on here (see tests/sdk/README.md):

    coffer server --listen 127.0.0.1:0 --data-dir DIR --ready-file FILE

with COFFER_ROOT_ACCESS_KEY_ID / COFFER_ROOT_ACCESS_KEY_SECRET in the environment. Once it
listens it writes FILE atomically as JSON ``{"oss": "127.0.0.1:PORT"}``. It exits with code 0
on SIGTERM and logs to stderr.

With COFFER_SDK_META=postgres every server keeps its state in a fresh database of a throwaway
PostgreSQL cluster that this module starts (initdb into a temporary directory, listening only on a
Unix socket there; as the `postgres` account when run as root, which PostgreSQL requires). The
PostgreSQL binaries come from COFFER_PG_BIN, else PATH, else the newest /usr/lib/postgresql/*/bin.

With COFFER_SDK_BLOB=s3 every server keeps object data under its own root in a bucket of a
SeaweedFS server (`weed mini`, COFFER_WEED or `weed` on PATH) that this module starts on loopback.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "cn-hangzhou"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def _pg_program(name: str) -> list[str]:
    bin_dir = os.environ.get("COFFER_PG_BIN")
    if not bin_dir and not shutil.which("initdb"):
        versions = sorted(
            (int(p.name), p / "bin")
            for p in Path("/usr/lib/postgresql").glob("*")
            if p.name.isdigit()
        )
        bin_dir = str(versions[-1][1]) if versions else None
    program = str(Path(bin_dir) / name) if bin_dir else name
    return ["runuser", "-u", "postgres", "--", program] if os.geteuid() == 0 else [program]


class _PgCluster:
    """One throwaway PostgreSQL cluster per test process, stopped at exit."""

    _instance: "_PgCluster | None" = None

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="coffer-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, user="postgres")
        data = self.dir / "data"
        subprocess.run(
            [*_pg_program("initdb"), "--no-sync", "-A", "trust", "-U", "coffer", "-E", "UTF8",
             "--locale=C", "-D", str(data)],
            check=True, capture_output=True,
        )
        subprocess.run(
            [*_pg_program("pg_ctl"), "-w", "-s", "-D", str(data), "-l", str(self.dir / "log"),
             "-o", f"-c listen_addresses='' -k {self.dir} -c fsync=off", "start"],
            check=True, capture_output=True,
        )
        self.databases = 0
        atexit.register(self.stop)

    @classmethod
    def get(cls) -> "_PgCluster":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def fresh_database_url(self) -> str:
        self.databases += 1
        name = f"sdk{os.getpid()}_{self.databases}"
        subprocess.run(
            [*_pg_program("createdb"), "-h", str(self.dir), "-U", "coffer", name],
            check=True, capture_output=True,
        )
        host = urllib.parse.quote(str(self.dir), safe="")
        return f"postgresql://coffer@{host}/{name}"

    def stop(self) -> None:
        subprocess.run(
            [*_pg_program("pg_ctl"), "-s", "-m", "immediate", "-D", str(self.dir / "data"), "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_weed_base() -> int:
    """A base port in 20000..39000 whose eight ports and their gRPC twins (10000 higher) are free
    now, starting from one spread by process id (several test processes run at once)."""
    import socket

    start = os.getpid() % 190
    for i in range(190):
        base = 20_000 + ((start + i) % 190) * 100
        try:
            for port in [base + k for k in range(8)] + [base + 10_000 + k for k in range(8)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range for SeaweedFS")


class _Weed:
    """One SeaweedFS server per test process, stopped at exit."""

    _instance: "_Weed | None" = None
    KEY_ID = "coffer-sdk"
    SECRET = "coffer-sdk-secret"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="coffer-weed-"))
        base = _free_weed_base()
        self.s3_port = base + 3
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.KEY_ID, AWS_SECRET_ACCESS_KEY=self.SECRET)
        self.proc = subprocess.Popen(
            [os.environ.get("COFFER_WEED", "weed"), "mini", f"-dir={self.dir}", "-ip=127.0.0.1",
             "-ip.bind=127.0.0.1", "-admin.ui=false", "-bucket=coffer",
             f"-master.port={base}", f"-volume.port={base + 1}", f"-filer.port={base + 2}",
             f"-s3.port={base + 3}", f"-admin.port={base + 4}", f"-webdav.port={base + 5}",
             f"-s3.port.iceberg={base + 6}", f"-s3.port.lance={base + 7}"],
            cwd=self.dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "weed.log", "wb"),
        )
        self.servers = 0
        atexit.register(self.stop)
        # Ready once its shell lists the bucket it creates at start (the S3 port answers earlier).
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                listed = subprocess.run(
                    [os.environ.get("COFFER_WEED", "weed"), "shell", f"-master=127.0.0.1:{base}"],
                    input=b"s3.bucket.list\n", capture_output=True, timeout=5,
                ).stdout
            except subprocess.TimeoutExpired:
                listed = b""  # the master is not up yet
            if b"coffer" in listed:
                break
            if time.monotonic() > deadline:
                log = (self.dir / "weed.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"SeaweedFS did not create its bucket; log:\n{log}")
            time.sleep(0.2)  # polling interval for readiness, not synchronisation

    @classmethod
    def get(cls) -> "_Weed":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def fresh_location(self) -> str:
        self.servers += 1
        return f"s3://coffer/sdk{os.getpid()}-{self.servers}?endpoint=http://127.0.0.1:{self.s3_port}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def coffer_binary() -> Path:
    """The binary under test: $COFFER_BIN, else target/release/coffer of this checkout."""
    override = os.environ.get("COFFER_BIN")
    if override:
        return Path(override)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    if not target.is_absolute():
        target = REPO_ROOT / target
    return target / "release" / "coffer"


def random_credentials() -> tuple[str, str]:
    """A fresh root key pair, shaped like Alibaba's (LTAI… id, 30-char secret)."""
    alphabet = string.ascii_letters + string.digits
    ak = "LTAI" + "".join(secrets.choice(alphabet) for _ in range(20))
    sk = "".join(secrets.choice(alphabet) for _ in range(30))
    return ak, sk


@dataclass
class CofferServer:
    """One coffer process on a data directory; can be killed and restarted on the same dir."""

    data_dir: Path
    work_dir: Path
    access_key_id: str
    access_key_secret: str
    binary: Path = field(default_factory=coffer_binary)
    proc: subprocess.Popen | None = None
    host: str = ""
    port: int = 0
    kms_port: int = 0
    s3_port: int = 0
    console_port: int = 0
    extra_env: dict = field(default_factory=dict)
    # Extra `coffer server` flags, and a command the binary runs under (e.g. `prlimit ... --`).
    extra_args: list = field(default_factory=list)
    launcher: list = field(default_factory=list)
    starts: int = 0
    log_path: Path | None = None

    @classmethod
    def create(cls, work_dir: Path) -> "CofferServer":
        work_dir.mkdir(parents=True, exist_ok=True)
        data_dir = work_dir / "data"
        data_dir.mkdir(exist_ok=True)
        ak, sk = random_credentials()
        server = cls(data_dir=data_dir, work_dir=work_dir, access_key_id=ak, access_key_secret=sk)
        if os.environ.get("COFFER_SDK_META") == "postgres":
            server.extra_args += ["--meta", _PgCluster.get().fresh_database_url()]
        if os.environ.get("COFFER_SDK_BLOB") == "s3":
            weed = _Weed.get()
            server.extra_args += ["--blob", weed.fresh_location()]
            server.extra_env.update(
                COFFER_S3_ACCESS_KEY_ID=weed.KEY_ID, COFFER_S3_SECRET_ACCESS_KEY=weed.SECRET
            )
        return server

    # -- addresses -------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def kms_endpoint(self) -> str:
        """host:port of the KMS API listener."""
        return f"{self.host}:{self.kms_port}"

    @property
    def s3_endpoint(self) -> str:
        """URL of the S3 API listener."""
        return f"http://{self.host}:{self.s3_port}"

    @property
    def console_endpoint(self) -> str:
        """URL of the web console."""
        return f"http://{self.host}:{self.console_port}"

    @property
    def localhost_endpoint(self) -> str:
        return f"http://localhost:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the binary and wait (bounded, polling) for its ready file."""
        if not self.binary.exists():
            raise RuntimeError(
                f"coffer binary not found at {self.binary}; build it with "
                "`cargo build --release -p coffer` or set COFFER_BIN"
            )
        assert self.proc is None, "server already running"
        self.starts += 1
        ready = self.work_dir / f"ready-{self.starts}.json"
        self.log_path = self.work_dir / f"coffer-{self.starts}.log"
        env = dict(os.environ)
        env["COFFER_ROOT_ACCESS_KEY_ID"] = self.access_key_id
        env["COFFER_ROOT_ACCESS_KEY_SECRET"] = self.access_key_secret
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(self.extra_env)
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [
                    *self.launcher,
                    str(self.binary),
                    "server",
                    "--listen",
                    "127.0.0.1:0",
                    "--data-dir",
                    str(self.data_dir),
                    "--ready-file",
                    str(ready),
                    "--kms-listen",
                    "127.0.0.1:0",
                    *self.extra_args,
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if ready.exists():
                try:
                    info = json.loads(ready.read_text())
                    break
                except ValueError:
                    # The contract says the file is written atomically, so a partial file is a
                    # server bug; still, keep polling until the deadline before failing.
                    pass
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                raise RuntimeError(
                    f"coffer exited with code {code} before becoming ready; log:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"coffer did not write {ready} within {READY_TIMEOUT_S}s; log:\n{self.log_tail()}"
                )
            time.sleep(0.05)  # polling interval for readiness, not synchronisation
        host, _, port = info["oss"].rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.kms_port = int(info["kms"].rpartition(":")[2]) if "kms" in info else 0
        self.s3_port = int(info["s3"].rpartition(":")[2]) if "s3" in info else 0
        self.console_port = int(info["console"].rpartition(":")[2]) if "console" in info else 0

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None, "server not running"
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise RuntimeError(f"coffer did not exit within {STOP_TIMEOUT_S}s of SIGTERM")
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: simulates a crash (power loss of the process, not of the disk)."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 60) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])
