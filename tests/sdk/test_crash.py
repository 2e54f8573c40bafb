"""Crash consistency: SIGKILL the server in the middle of concurrent uploads, restart it on the
same data directory, and check that acknowledged writes survive and nothing is half-written."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

import oss2
import pytest

from coffer_harness import CofferServer
from sdkutil import md5_hex_upper, oss2_bucket_for

THREADS = 16
UPLOADS_PER_THREAD = 6
KILL_AFTER_ACKS = 12
WAIT_FOR_ACKS_S = 300
SIZES = [0, 1, 1000, 64 * 1024, 300 * 1024, 1024 * 1024, 2 * 1024 * 1024 + 5, 4 * 1024 * 1024 - 3]
OVERWRITTEN = [f"base/over-{i}" for i in range(4)]
UNTOUCHED = [f"base/keep-{i}" for i in range(4)]


@dataclass
class Ledger:
    """What every thread attempted and what the server acknowledged."""

    lock: threading.Condition = field(default_factory=threading.Condition)
    # key -> contents the object may legitimately have after the crash (besides being absent)
    candidates: dict[str, list[bytes]] = field(default_factory=dict)
    acked: dict[str, bytes] = field(default_factory=dict)
    # per write (by id of its contents): the writes of the same key in flight when it began; any of
    # them may commit after it (the same batch is acknowledged in any order)
    overlapping: dict[int, list[bytes]] = field(default_factory=dict)
    pending: dict[str, list[bytes]] = field(default_factory=dict)
    bad_acks: list[str] = field(default_factory=list)
    errors_before_kill: list[str] = field(default_factory=list)
    killed: bool = False

    def attempt(self, key: str, data: bytes) -> None:
        with self.lock:
            self.candidates.setdefault(key, []).append(data)
            pending = self.pending.setdefault(key, [])
            self.overlapping[id(data)] = list(pending)
            pending.append(data)

    def ack(self, key: str, data: bytes, etag: str) -> None:
        with self.lock:
            if etag != md5_hex_upper(data):
                self.bad_acks.append(f"{key}: etag {etag} != md5 {md5_hex_upper(data)}")
            self.acked[key] = data
            pending = self.pending.get(key, [])
            for i, c in enumerate(pending):
                if c is data:
                    del pending[i]
                    break
            self.lock.notify_all()

    def fail(self, key: str, err: Exception) -> None:
        with self.lock:
            if not self.killed:
                self.errors_before_kill.append(f"{key}: {err!r}")
            self.lock.notify_all()


def uploader(server: CofferServer, bucket_name: str, t: int, ledger: Ledger, done: threading.Event) -> None:
    rng = random.Random(t)
    bucket = oss2_bucket_for(server, bucket_name)
    try:
        plan = []
        if t < len(OVERWRITTEN):
            plan.append(OVERWRITTEN[t])
        plan += [f"t{t:02d}/obj-{j}" for j in range(UPLOADS_PER_THREAD)]
        for key in plan:
            data = rng.randbytes(rng.choice(SIZES))
            ledger.attempt(key, data)
            try:
                result = bucket.put_object(key, data)
            except Exception as e:  # noqa: BLE001 - connection errors after the kill are expected
                ledger.fail(key, e)
                return
            ledger.ack(key, data, result.etag)
    finally:
        done.set()


@pytest.fixture
def crash_server(tmp_path):
    server = CofferServer.create(tmp_path / "crash")
    server.start()
    yield server
    if server.proc is not None:
        server.kill()


def test_acknowledged_uploads_survive_sigkill(crash_server):
    server = crash_server
    bucket_name = "crash-test"
    bucket = oss2_bucket_for(server, bucket_name)
    bucket.create_bucket()

    ledger = Ledger()
    base = {}
    for i, key in enumerate(OVERWRITTEN + UNTOUCHED):
        data = random.Random(1000 + i).randbytes(100_000 + i)
        bucket.put_object(key, data)
        base[key] = data
        ledger.candidates[key] = [data]
        ledger.acked[key] = data

    threads, dones = [], []
    for t in range(THREADS):
        done = threading.Event()
        th = threading.Thread(target=uploader, args=(server, bucket_name, t, ledger, done), daemon=True)
        threads.append(th)
        dones.append(done)
        th.start()

    baseline_acks = len(ledger.acked)
    with ledger.lock:
        ledger.lock.wait_for(
            lambda: len(ledger.acked) - baseline_acks >= KILL_AFTER_ACKS or ledger.errors_before_kill,
            timeout=WAIT_FOR_ACKS_S,
        )
        assert not ledger.errors_before_kill, f"uploads failed before the kill: {ledger.errors_before_kill}"
        assert len(ledger.acked) - baseline_acks >= KILL_AFTER_ACKS, "uploads too slow to reach the kill point"
        ledger.killed = True
        in_flight = sum(1 for d in dones if not d.is_set())
        server.kill()
    for th in threads:
        th.join(timeout=120)
        assert not th.is_alive(), "an uploader thread hung after the kill"

    assert not ledger.bad_acks, ledger.bad_acks
    print(f"killed with {in_flight} uploader threads still running; {len(ledger.acked) - baseline_acks} acked")

    server.start()  # same data dir, same credentials, new port
    bucket = oss2_bucket_for(server, bucket_name)

    problems = []
    # 1. Every acknowledged object is intact (content and ETag).
    for key, data in ledger.acked.items():
        try:
            got = bucket.get_object(key).read()
            head = bucket.head_object(key)
        except oss2.exceptions.NoSuchKey:
            problems.append(f"acknowledged {key} ({len(data)} bytes) is missing")
            continue
        # The acknowledged version, or a later attempt whose acknowledgement was lost in the kill.
        cands = ledger.candidates[key]
        later = cands[max(i for i, c in enumerate(cands) if c is data) :]
        if not any(got == c for c in later):
            problems.append(f"acknowledged {key}: content differs ({len(got)} vs {len(data)} bytes)")
        if head.etag != md5_hex_upper(got):
            problems.append(f"{key}: etag {head.etag} does not match its content")

    # 2. Unacknowledged attempts are absent or complete, never partial.
    for key, cands in ledger.candidates.items():
        if key in ledger.acked:
            continue
        try:
            got = bucket.get_object(key).read()
        except oss2.exceptions.NoSuchKey:
            continue
        if not any(got == c for c in cands):
            problems.append(f"unacknowledged {key} is visible with {len(got)} bytes matching no attempted content")

    # 3. Overwritten baseline objects hold either the old or a new complete version.
    for key in OVERWRITTEN:
        try:
            got = bucket.get_object(key).read()
        except oss2.exceptions.NoSuchKey:
            problems.append(f"baseline {key} vanished during an interrupted overwrite")
            continue
        if not any(got == c for c in ledger.candidates[key]):
            problems.append(f"baseline {key} is neither the old nor a new version")
    for key in UNTOUCHED:
        if bucket.get_object(key).read() != base[key]:
            problems.append(f"untouched baseline {key} changed")

    # 4. Listing works and agrees with the objects.
    listed = {o.key: o for o in oss2.ObjectIteratorV2(bucket, max_keys=7)}
    for key in ledger.acked:
        if key not in listed:
            problems.append(f"acknowledged {key} missing from the listing")
    for key, info in listed.items():
        if key not in ledger.candidates:
            problems.append(f"listing shows unknown key {key}")
            continue
        try:
            head = bucket.head_object(key)
        except oss2.exceptions.NoSuchKey:
            problems.append(f"listed {key} cannot be read")
            continue
        if info.size != head.content_length or info.etag != head.etag:
            problems.append(f"listing of {key} ({info.size}, {info.etag}) disagrees with HEAD")
    list(oss2.MultipartUploadIterator(bucket))

    assert not problems, "\n".join(problems)

    # 5. New writes succeed after the restart, including multipart and overwrites.
    for i in range(3):
        data = random.Random(5000 + i).randbytes(200_000)
        bucket.put_object(f"after/{i}", data)
        assert bucket.get_object(f"after/{i}").read() == data
    upload_id = bucket.init_multipart_upload("after/mp").upload_id
    part1, part2 = b"a" * 102400, b"b"
    e1 = bucket.upload_part("after/mp", upload_id, 1, part1).etag
    e2 = bucket.upload_part("after/mp", upload_id, 2, part2).etag
    bucket.complete_multipart_upload(
        "after/mp", upload_id, [oss2.models.PartInfo(1, e1), oss2.models.PartInfo(2, e2)]
    )
    assert bucket.get_object("after/mp").read() == part1 + part2
    bucket.put_object(OVERWRITTEN[0], b"rewritten")
    assert bucket.get_object(OVERWRITTEN[0]).read() == b"rewritten"

    code = server.stop()
    assert code == 0, f"coffer exited with {code} on SIGTERM after the restart; log:\n{server.log_tail()}"


SMALL_THREADS = 24
SMALL_PUTS_PER_THREAD = 80
SMALL_KILL_AFTER_ACKS = 300
SMALL_SIZES = [0, 1, 100, 4096, 4096, 4096, 16 * 1024, 40 * 1024]
SHARED_KEYS = [f"shared-{i}" for i in range(3)]
EXCLUSIVE_KEY = "exclusive"


def small_uploader(server: CofferServer, bucket_name: str, t: int, ledger: Ledger, done: threading.Event) -> None:
    """Small PUTs back to back: mostly new keys, some overwrites of keys other threads also write,
    and some `x-oss-forbid-overwrite` PUTs of one key, of which all but the first must be refused
    (a refused write shares its batch with the others and must not take them down with it)."""
    rng = random.Random(100 + t)
    bucket = oss2_bucket_for(server, bucket_name)
    try:
        for j in range(SMALL_PUTS_PER_THREAD):
            roll = rng.random()
            if roll < 0.1:
                key, headers = SHARED_KEYS[j % len(SHARED_KEYS)], None
            elif roll < 0.15:
                key, headers = EXCLUSIVE_KEY, {"x-oss-forbid-overwrite": "true"}
            else:
                key, headers = f"s{t:02d}/obj-{j}", None
            data = rng.randbytes(rng.choice(SMALL_SIZES))
            ledger.attempt(key, data)
            try:
                result = bucket.put_object(key, data, headers=headers)
            except oss2.exceptions.ServerError as e:
                if key == EXCLUSIVE_KEY and e.status == 409:
                    continue  # the key exists: the refusal expected of every PUT but the first
                ledger.fail(key, e)
                return
            except Exception as e:  # noqa: BLE001 - connection errors after the kill are expected
                ledger.fail(key, e)
                return
            ledger.ack(key, data, result.etag)
    finally:
        done.set()


def test_acknowledged_small_puts_survive_sigkill_mid_batch(crash_server):
    """Many small PUTs at once share metadata commits (group commit). SIGKILL while batches are
    in flight: every acknowledged PUT must be there after the restart (its own content or a later
    attempt's), and an unacknowledged one either absent or complete. A SIGKILL keeps what reached
    the kernel, so this shows that nothing is acknowledged before its batch is committed; that the
    commit reaches the disk is redb's fsync."""
    server = crash_server
    bucket_name = "crash-small"
    bucket = oss2_bucket_for(server, bucket_name)
    bucket.create_bucket()
    ledger = Ledger()

    threads, dones = [], []
    for t in range(SMALL_THREADS):
        done = threading.Event()
        th = threading.Thread(target=small_uploader, args=(server, bucket_name, t, ledger, done), daemon=True)
        threads.append(th)
        dones.append(done)
        th.start()
    with ledger.lock:
        ledger.lock.wait_for(
            lambda: len(ledger.acked) >= SMALL_KILL_AFTER_ACKS or ledger.errors_before_kill,
            timeout=WAIT_FOR_ACKS_S,
        )
        assert not ledger.errors_before_kill, f"PUTs failed before the kill: {ledger.errors_before_kill}"
        assert len(ledger.acked) >= SMALL_KILL_AFTER_ACKS, "PUTs too slow to reach the kill point"
        ledger.killed = True
        in_flight = sum(1 for d in dones if not d.is_set())
        server.kill()
        acked_at_kill = len(ledger.acked)
    for th in threads:
        th.join(timeout=120)
        assert not th.is_alive(), "an uploader thread hung after the kill"
    assert not ledger.bad_acks, ledger.bad_acks
    assert in_flight > SMALL_THREADS // 2, f"only {in_flight} uploaders were still running at the kill"
    print(f"killed with {in_flight} uploader threads running; {acked_at_kill} acked")

    server.start()
    bucket = oss2_bucket_for(server, bucket_name)
    problems = []
    for key, data in ledger.acked.items():
        try:
            got = bucket.get_object(key).read()
        except oss2.exceptions.NoSuchKey:
            problems.append(f"acknowledged {key} ({len(data)} bytes) is missing")
            continue
        cands = ledger.candidates[key]
        later = cands[max(i for i, c in enumerate(cands) if c is data) :]
        later += ledger.overlapping.get(id(data), [])
        if key == EXCLUSIVE_KEY:
            later = [data]  # every later attempt was refused or never acknowledged
        if not any(got == c for c in later):
            problems.append(f"acknowledged {key}: content differs ({len(got)} vs {len(data)} bytes)")
    listed = {o.key for o in oss2.ObjectIteratorV2(bucket)}
    for key, cands in ledger.candidates.items():
        if key in ledger.acked:
            if key not in listed:
                problems.append(f"acknowledged {key} missing from the listing")
            continue
        try:
            got = bucket.get_object(key).read()
        except oss2.exceptions.NoSuchKey:
            continue
        if not any(got == c for c in cands):
            problems.append(f"unacknowledged {key} holds {len(got)} bytes matching no attempt")
    assert not problems, "\n".join(problems)

    bucket.put_object("after", b"x" * 4096)
    assert bucket.get_object("after").read() == b"x" * 4096
    assert server.stop() == 0


def test_sigterm_then_restart_keeps_everything(tmp_path):
    server = CofferServer.create(tmp_path / "restart")
    server.start()
    try:
        bucket = oss2_bucket_for(server, "restart-test")
        bucket.create_bucket()
        data = random.Random(7).randbytes(1_000_000)
        bucket.put_object("k", data, headers={"x-oss-meta-a": "b", "Content-Type": "application/x-r"})
        bucket.append_object("ap", 0, b"abc")
        upload_id = bucket.init_multipart_upload("pending").upload_id
        bucket.upload_part("pending", upload_id, 1, b"part")
        assert server.stop() == 0
        server.start()
        bucket = oss2_bucket_for(server, "restart-test")
        got = bucket.get_object("k")
        assert got.read() == data
        assert got.headers.get("x-oss-meta-a") == "b"
        assert got.content_type == "application/x-r"
        assert bucket.append_object("ap", 3, b"def").next_position == 6
        assert bucket.get_object("ap").read() == b"abcdef"
        assert [p.part_number for p in bucket.list_parts("pending", upload_id).parts] == [1]
        assert [u.upload_id for u in oss2.MultipartUploadIterator(bucket)] == [upload_id]
        assert server.stop() == 0
    finally:
        server.kill()
