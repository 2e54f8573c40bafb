#!/usr/bin/env python3
"""`coffer cp` beside oss2's `resumable_upload` (and `aws s3 cp` on the S3 listener, when the aws
CLI is installed) on the same data, against one release coffer on
loopback: one large file, and a tree of many small ones. Prints a table; progress goes to stderr.

    tests/sdk/.venv/bin/python bench/cli_cp.py                  # 1 x 1 GiB, 1000 x 100 KiB
    BIG_MIB=256 SMALL_COUNT=200 RUNS=3 tests/sdk/.venv/bin/python bench/cli_cp.py

Both clients get the same parallelism (PARALLEL, default 4: requests in flight) and part size
(PART_MIB, default 8) and the same multipart threshold (16 MiB); oss2 uploads the small files
from a thread pool of PARALLEL threads, one resumable_upload each (below the threshold that is one
PutObject, as `coffer cp` does); `aws s3 cp` gets the same as max_concurrent_requests,
multipart_chunksize and multipart_threshold. Each run writes fresh keys; the data is read from the page cache
after the first run. COFFER_BIN picks the binary (default target/release/coffer), which serves and
is the client.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "sdk"))

import oss2  # noqa: E402

from coffer_harness import REGION, CofferServer  # noqa: E402

MiB = 1024 * 1024
BIG_MIB = int(os.environ.get("BIG_MIB", "1024"))
SMALL_COUNT = int(os.environ.get("SMALL_COUNT", "1000"))
SMALL_KIB = int(os.environ.get("SMALL_KIB", "100"))
RUNS = int(os.environ.get("RUNS", "1"))
PARALLEL = int(os.environ.get("PARALLEL", "4"))
PART_MIB = int(os.environ.get("PART_MIB", "8"))
THRESHOLD_MIB = 16


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> int:
    binary = Path(os.environ.get("COFFER_BIN", ROOT / "target" / "release" / "coffer"))
    if not binary.exists():
        log(f"no binary at {binary}: cargo build --release -p coffer, or set COFFER_BIN")
        return 2
    os.environ["COFFER_BIN"] = str(binary)
    with tempfile.TemporaryDirectory(prefix="coffer-cli-bench-", dir=ROOT / "target") as work:
        work = Path(work)
        server = CofferServer.create(work / "server")
        server.start()
        try:
            return run(server, work)
        finally:
            server.stop()


def run(server: CofferServer, work: Path) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env.update(
        COFFER_CONFIG=str(work / "config.toml"),
        XDG_CACHE_HOME=str(work / "cache"),
        COFFER_ENDPOINT=server.endpoint,
        COFFER_ACCESS_KEY_ID=server.access_key_id,
        COFFER_ACCESS_KEY_SECRET=server.access_key_secret,
    )
    cli = [str(server.binary)]
    tuning = ["--parallel", str(PARALLEL), "--part-size-mib", str(PART_MIB),
              "--multipart-threshold-mib", str(THRESHOLD_MIB)]
    subprocess.run([*cli, "mb", "oss://bench"], env=env, check=True, capture_output=True)
    bucket = oss2.Bucket(oss2.AuthV4(server.access_key_id, server.access_key_secret), server.endpoint,
                         "bench", region=REGION)

    log(f"writing 1 x {BIG_MIB} MiB and {SMALL_COUNT} x {SMALL_KIB} KiB ...")
    big = work / "big.bin"
    with open(big, "wb") as f:
        for _ in range(BIG_MIB):
            f.write(os.urandom(MiB))
    small = work / "small"
    small.mkdir()
    for i in range(SMALL_COUNT):
        (small / f"f{i:05}.bin").write_bytes(os.urandom(SMALL_KIB * 1024))

    def coffer_big(run: int) -> None:
        subprocess.run([*cli, "cp", str(big), f"oss://bench/cbig-{run}", *tuning],
                       env=env, check=True, capture_output=True)

    def oss2_big(run: int) -> None:
        oss2.resumable_upload(bucket, f"obig-{run}", str(big), store=oss2.ResumableStore(root=str(work)),
                              multipart_threshold=THRESHOLD_MIB * MiB, part_size=PART_MIB * MiB,
                              num_threads=PARALLEL)

    def coffer_small(run: int) -> None:
        subprocess.run([*cli, "cp", "-r", str(small), f"oss://bench/csmall-{run}", *tuning],
                       env=env, check=True, capture_output=True)

    def oss2_small(run: int) -> None:
        files = sorted(small.iterdir())

        def one(p: Path) -> None:
            oss2.resumable_upload(bucket, f"osmall-{run}/{p.name}", str(p),
                                  store=oss2.ResumableStore(root=str(work)),
                                  multipart_threshold=THRESHOLD_MIB * MiB, part_size=PART_MIB * MiB,
                                  num_threads=1)

        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(one, files))

    aws = shutil.which("aws")
    aws_env = dict(env, AWS_ACCESS_KEY_ID=server.access_key_id, AWS_SECRET_ACCESS_KEY=server.access_key_secret,
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(work / "aws-config"),
                   AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials"))
    (work / "aws-config").write_text(
        "[default]\nrequest_checksum_calculation = when_required\n"
        "response_checksum_validation = when_required\ns3 =\n  addressing_style = path\n"
        f"  max_concurrent_requests = {PARALLEL}\n  multipart_threshold = {THRESHOLD_MIB}MB\n"
        f"  multipart_chunksize = {PART_MIB}MB\n")

    def aws_cp(*args: str) -> None:
        subprocess.run([aws, "--endpoint-url", server.s3_endpoint, "--no-progress", "--only-show-errors",
                        "s3", "cp", *args], env=aws_env, check=True, capture_output=True)

    def aws_big(run: int) -> None:
        aws_cp(str(big), f"s3://bench/abig-{run}")

    def aws_small(run: int) -> None:
        aws_cp("--recursive", str(small), f"s3://bench/asmall-{run}")

    big_clients = [("coffer cp", coffer_big), ("oss2 resumable_upload", oss2_big)]
    small_clients = [("coffer cp -r", coffer_small), ("oss2 resumable_upload", oss2_small)]
    if aws and server.s3_port:
        big_clients.append(("aws s3 cp (S3 API)", aws_big))
        small_clients.append(("aws s3 cp --recursive", aws_small))
    else:
        log("no aws CLI (or no S3 listener): its rows are left out")
    cases = [
        (f"1 x {BIG_MIB} MiB", BIG_MIB * MiB, 1, big_clients),
        (f"{SMALL_COUNT} x {SMALL_KIB} KiB", SMALL_COUNT * SMALL_KIB * 1024, SMALL_COUNT, small_clients),
    ]
    rows = []
    for name, size, count, clients in cases:
        times: dict[str, list[float]] = {c: [] for c, _ in clients}
        for run in range(1, RUNS + 1):
            # Alternate which client goes first, so neither always meets a warmer server.
            order = clients if run % 2 else list(reversed(clients))
            for client, fn in order:
                log(f"{name}: {client}, run {run}")
                start = time.perf_counter()
                fn(run)
                times[client].append(time.perf_counter() - start)
        for client, _ in clients:
            s = statistics.median(times[client])
            rows.append((name, client, s, size / s / 1e6, count / s))

    print(f"uploads to coffer on loopback, parallel {PARALLEL}, parts of {PART_MIB} MiB, "
          f"median of {RUNS} run(s)")
    print(f"{'data':<18} {'client':<24} {'seconds':>8} {'MB/s':>8} {'objects/s':>10}")
    for name, client, s, mbps, ops in rows:
        print(f"{name:<18} {client:<24} {s:>8.2f} {mbps:>8.1f} {ops:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
