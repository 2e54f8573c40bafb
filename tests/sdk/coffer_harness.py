"""Start and stop the real coffer binary for the real-client tests.

The server contract relied on here (see tests/sdk/README.md):

    coffer server --listen 127.0.0.1:0 --data-dir DIR --ready-file FILE

with COFFER_ROOT_ACCESS_KEY_ID / COFFER_ROOT_ACCESS_KEY_SECRET in the environment. Once it
listens it writes FILE atomically as JSON ``{"oss": "127.0.0.1:PORT"}``. It exits with code 0
on SIGTERM and logs to stderr.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import string
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "cn-hangzhou"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


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
        return cls(data_dir=data_dir, work_dir=work_dir, access_key_id=ak, access_key_secret=sk)

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
