"""Three coffer nodes on one PostgreSQL database and one S3 bucket (SeaweedFS), on loopback ports:
any node serves any request.

- oss2 writes through every node and reads through the two others, for every encryption method;
- a RAM user and a CMK made through node A work at once on B and C, and a revocation on A
  reaches B within the staleness bound docs/deployment.md states;
- one node killed with SIGKILL during concurrent uploads through all three loses no acknowledged
  object and leaves no visible partial one;
- a signed KMS request accepted by one node is refused as a replay by another; KMS usage made
  through every node is summed in the database and the audit trail holds every node's records;
- the SSE-OSS keyring is shared through the database (no node is given a copy of a file): a
  rotation on A is used by B for new objects, which C reads.

The nodes share what an operator gives every node of a deployment: the root key and the root key
pair (environment), the database URL and the blob location. Each has its own data directory."""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import subprocess
import threading
import time
from pathlib import Path

import oss2
import pytest
import requests

from coffer_harness import CofferServer, _PgCluster, _Weed, random_credentials
from sdkutil import md5_hex_upper, oss2_bucket_for, unique_bucket_name
from test_cli import Cli, admin_endpoint as cli_admin_endpoint
from test_kms_api import KmsTarget, RawKms, expect, old_client
from test_ram import Ram, admin_endpoint, allow

SSE = "x-oss-server-side-encryption"
KEY_ID = "x-oss-server-side-encryption-key-id"
METHODS = [None, "AES256", "SM4", "KMS"]
# How long a revocation may take to reach another node: the stated bound (1 s) plus room for a
# loaded machine. A poll deadline, not a timing assertion.
REVOCATION_DEADLINE_S = 15
# How long shared counters and a keyring rotation may take to reach another node (stated: about
# one second). A poll deadline, not a timing assertion.
FOLLOW_DEADLINE_S = 15


class Cluster:
    """Three nodes over one database and one blob location."""

    def __init__(self, work: Path, names=("a", "b", "c")):
        url = _PgCluster.get().fresh_database_url()
        weed = _Weed.get()
        blob = weed.fresh_location()
        ak, sk = random_credentials()
        env = {
            "COFFER_ROOT_KEY": secrets.token_hex(32),
            "COFFER_S3_ACCESS_KEY_ID": weed.KEY_ID,
            "COFFER_S3_SECRET_ACCESS_KEY": weed.SECRET,
        }
        self.nodes: dict[str, CofferServer] = {}
        for name in names:
            node_dir = work / name
            (node_dir / "data").mkdir(parents=True)
            self.nodes[name] = CofferServer(
                data_dir=node_dir / "data",
                work_dir=node_dir,
                access_key_id=ak,
                access_key_secret=sk,
                extra_env=dict(env),
                extra_args=["--meta", url, "--blob", blob],
            )

    def start(self) -> None:
        # Nothing is copied between data directories: the SSE-OSS keyring is in the database.
        for node in self.nodes.values():
            node.start()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.kill()

    def __getitem__(self, name: str) -> CofferServer:
        return self.nodes[name]

    def others(self, name: str) -> list[CofferServer]:
        return [n for k, n in self.nodes.items() if k != name]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("multinode"))
    c.start()
    yield c
    c.stop()


@pytest.fixture
def shared_bucket(cluster) -> str:
    name = unique_bucket_name("mn")
    oss2_bucket_for(cluster["a"], name).create_bucket()
    return name


def sse_headers(method: str | None, key_id: str | None = None) -> dict:
    headers = {} if method is None else {SSE: method}
    if key_id:
        headers[KEY_ID] = key_id
    return headers


# -- every node reads what every node wrote ---------------------------------------------------


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m or "none")
def test_objects_written_through_each_node_read_through_the_others(cluster, shared_bucket, method):
    rng = random.Random(hash(method) & 0xFFFF)
    for writer_name, writer in cluster.nodes.items():
        data = rng.randbytes(300_000 + rng.randrange(1000))
        key = f"from-{writer_name}"
        put = oss2_bucket_for(writer, shared_bucket).put_object(key, data, headers=sse_headers(method))
        assert put.etag == md5_hex_upper(data)
        for reader in cluster.others(writer_name):
            b = oss2_bucket_for(reader, shared_bucket, "v4")
            got = b.get_object(key)
            assert got.read() == data
            assert got.headers.get(SSE) == method
            assert b.get_object(key, byte_range=(1000, 2999)).read() == data[1000:3000]
        # An overwrite through another node replaces it for every node.
        other = cluster.others(writer_name)[0]
        oss2_bucket_for(other, shared_bucket).put_object(key, b"second", headers=sse_headers(method))
        for node in cluster.nodes.values():
            assert oss2_bucket_for(node, shared_bucket).get_object(key).read() == b"second"


def test_multipart_upload_spread_over_the_nodes(cluster, shared_bucket):
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    key = "spread"
    upload_id = oss2_bucket_for(a, shared_bucket).init_multipart_upload(key, headers={SSE: "SM4"}).upload_id
    parts = [random.Random(i).randbytes(100 * 1024 + i) for i in range(3)]
    infos = []
    for number, (node, data) in enumerate(zip([a, b, c], parts), start=1):
        etag = oss2_bucket_for(node, shared_bucket).upload_part(key, upload_id, number, data).etag
        infos.append(oss2.models.PartInfo(number, etag))
    listed = oss2_bucket_for(c, shared_bucket).list_parts(key, upload_id).parts
    assert [p.part_number for p in listed] == [1, 2, 3]
    oss2_bucket_for(b, shared_bucket).complete_multipart_upload(key, upload_id, infos)
    for node in cluster.nodes.values():
        got = oss2_bucket_for(node, shared_bucket).get_object(key)
        assert got.read() == b"".join(parts)
        assert got.headers.get(SSE) == "SM4"


# -- identities and keys made on one node -----------------------------------------------------


def kms_of(node: CofferServer, ak: str | None = None, sk: str | None = None):
    return old_client(KmsTarget(node.kms_endpoint, ak or node.access_key_id, sk or node.access_key_secret))


def test_ram_user_and_cmk_made_on_a_work_at_once_on_b_and_c(cluster, shared_bucket, tmp_path):
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    # Every node has served requests already (the lookups are warm), so "at once" is checked
    # against caches that were filled before the identities existed.
    for node in cluster.nodes.values():
        oss2_bucket_for(node, shared_bucket).put_object("warm", b"x")
    ram_a = Ram(a, admin_endpoint(a))
    user = ram_a.user("mn")
    ram_a.policy(
        [allow(["oss:*"], [f"acs:oss:*:*:{shared_bucket}", f"acs:oss:*:*:{shared_bucket}/*"]),
         allow(["kms:*"], ["*"])],
        tmp_path,
        user=user.name,
    )
    key_id = kms_of(a).call("CreateKey", Description="made on a")["KeyMetadata"]["KeyId"]

    # At once: no waiting between the writes on A and their use on B and C.
    ub = user.bucket(b, shared_bucket, "v4")
    ub.put_object("by-user", b"user data", headers=sse_headers("KMS", key_id))
    for node in (a, c):
        got = user.bucket(node, shared_bucket).get_object("by-user")
        assert got.read() == b"user data"
        assert got.headers.get(KEY_ID) == key_id
    described = kms_of(c, user.access_key_id, user.access_key_secret).call("DescribeKey", KeyId=key_id)
    assert described["KeyMetadata"]["KeyState"] == "Enabled"
    listed = kms_of(b).call("ListKeys", PageSize=100)["Keys"]["Key"]
    assert key_id in [k["KeyId"] for k in listed]

    # A CMK rotated on C: its new version is used by A and B.
    kms_of(c).call("CreateKeyVersion", KeyId=key_id)
    oss2_bucket_for(a, shared_bucket).put_object("after-rotation", b"r", headers=sse_headers("KMS", key_id))
    assert oss2_bucket_for(b, shared_bucket).get_object("after-rotation").read() == b"r"

    # Revocations made on A reach B within the staleness bound.
    kms_of(a).call("DisableKey", KeyId=key_id)
    deadline = time.monotonic() + REVOCATION_DEADLINE_S
    while True:
        try:
            oss2_bucket_for(b, shared_bucket).put_object("k", b"x", headers=sse_headers("KMS", key_id))
        except oss2.exceptions.ServerError as e:
            assert e.status == 409 and "disabled" in e.message, e
            break
        assert time.monotonic() < deadline, "a CMK disabled on A still encrypts on B"
        time.sleep(0.1)  # polling interval
    assert user.bucket(c, shared_bucket).get_object("warm").read() == b"x"
    ram_a.cli("access-key", "disable", "--user", user.name, user.access_key_id)
    deadline = time.monotonic() + REVOCATION_DEADLINE_S
    while True:
        try:
            user.bucket(c, shared_bucket).get_object("warm").read()
        except oss2.exceptions.ServerError as e:
            assert e.status == 403, e
            break
        assert time.monotonic() < deadline, "an access key disabled on A still signs on C"
        time.sleep(0.1)  # polling interval


def test_a_name_taken_on_one_node_is_taken_on_all(cluster, tmp_path):
    name = f"once-{secrets.token_hex(4)}"
    Ram(cluster["a"], admin_endpoint(cluster["a"])).cli("user", "create", name)
    ram_b = Ram(cluster["b"], admin_endpoint(cluster["b"]))
    with pytest.raises(Exception) as e:
        ram_b.cli("user", "create", name)
    assert "EntityAlreadyExists" in str(e.value), e.value
    alias = f"alias/mn-{secrets.token_hex(4)}"
    k1 = kms_of(cluster["b"]).call("CreateKey")["KeyMetadata"]["KeyId"]
    k2 = kms_of(cluster["c"]).call("CreateKey")["KeyMetadata"]["KeyId"]
    kms_of(cluster["b"]).call("CreateAlias", KeyId=k1, AliasName=alias)
    with pytest.raises(Exception) as e:
        kms_of(cluster["c"]).call("CreateAlias", KeyId=k2, AliasName=alias)
    assert "AlreadyExist" in str(e.value), e.value


# -- what the nodes share besides records: nonces, KMS usage and audit, the SSE keyring -------


def test_a_signed_kms_request_accepted_by_one_node_is_refused_by_the_others(cluster):
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    key_id = kms_of(a).call("CreateKey")["KeyMetadata"]["KeyId"]
    # The same signed request (same nonce and time; the RPC signature does not cover the host),
    # as someone who captured it on its way to A would send it to B and C.
    nonce, when = uuid_hex(), now_utc()
    raw = lambda node: RawKms(KmsTarget(node.kms_endpoint, node.access_key_id, node.access_key_secret))
    assert raw(a).call("DescribeKey", {"KeyId": key_id}, nonce=nonce, timestamp=when).status_code == 200
    for node in (b, c, a):
        expect(raw(node).call("DescribeKey", {"KeyId": key_id}, nonce=nonce, timestamp=when),
               400, "SignatureNonceUsed")
    # A fresh nonce is still accepted everywhere.
    for node in (b, c):
        assert raw(node).call("DescribeKey", {"KeyId": key_id}).status_code == 200


def node_cli(node: CofferServer, home: Path) -> Cli:
    home.mkdir(parents=True, exist_ok=True)
    cli = Cli(node, home)
    cli.run(
        "config",
        "--endpoint", node.endpoint,
        "--kms-endpoint", f"http://{node.kms_endpoint}",
        "--admin-endpoint", cli_admin_endpoint(node),
        "--access-key-id", node.access_key_id,
        "--access-key-secret", node.access_key_secret,
    )
    return cli


def test_kms_usage_and_audit_add_up_over_the_nodes(cluster, tmp_path):
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    key_id = kms_of(a).call("CreateKey")["KeyMetadata"]["KeyId"]
    calls = {"a": 2, "b": 3, "c": 1}
    for name, n in calls.items():
        for _ in range(n):
            kms_of(cluster[name]).call("GenerateDataKey", KeyId=key_id, KeySpec="AES_256")
    total = sum(calls.values())
    # Each node adds its counts to the database about every second; C's answer is the sum.
    cli_c = node_cli(c, tmp_path / "c")
    deadline = time.monotonic() + FOLLOW_DEADLINE_S
    while True:
        usage = {r["operation"]: r for r in cli_c.lines("kms", "usage", "--key", key_id)}
        got = usage.get("GenerateDataKey", {}).get("calls", 0)
        if got == total:
            break
        assert got < total, usage
        assert time.monotonic() < deadline, f"usage on c stayed at {got} of {total}: {usage}"
        time.sleep(0.2)
    assert usage["CreateKey"]["calls"] == 1
    # The trail in the database has every node's records, read through B page by page.
    cli_b = node_cli(b, tmp_path / "b")
    records = cli_b.lines("kms", "audit", "--key", key_id, "--page-size", "2")
    ops = [r["operation"] for r in records]
    assert ops.count("GenerateDataKey") == total and ops.count("CreateKey") == 1, ops
    assert cli_b.lines("kms", "audit", "--key", key_id) == records
    assert cli_b.lines("kms", "audit", "--key", key_id, "--tail", "2") == records[-2:]


def keyring_primary(node: CofferServer) -> int:
    text = requests.get(f"{node.endpoint}/metrics", timeout=10).text
    found = re.search(r"^coffer_sse_keyring_primary_version (\d+)$", text, re.M)
    assert found, f"no keyring gauge on /metrics of {node.endpoint}"
    return int(found.group(1))


def test_a_keyring_rotation_on_a_is_used_by_b_and_read_on_c(cluster, shared_bucket):
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    for node in (a, b, c):
        assert not (node.data_dir / "keyring.sealed").exists(), "the keyring is in the database"
    before = oss2_bucket_for(a, shared_bucket)
    before.put_object("before-rotation", b"old version", headers=sse_headers("AES256"))
    url = a.extra_args[a.extra_args.index("--meta") + 1]
    env = dict(a.extra_env, RUST_BACKTRACE="0")
    env["PATH"] = os.environ.get("PATH", "")
    done = subprocess.run(
        [str(a.binary), "keyring", "rotate", "--meta", url, "--data-dir", str(a.data_dir), "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    versions = json.loads(done.stdout)
    primary = max(v["version"] for v in versions if v["primary"])
    assert primary >= 2 and len(versions) == primary
    # B follows the database within the stated bound; then what it writes uses the new version.
    deadline = time.monotonic() + FOLLOW_DEADLINE_S
    while keyring_primary(b) != primary:
        assert time.monotonic() < deadline, "the rotation did not reach b"
        time.sleep(0.2)
    body = secrets.token_bytes(100_000)
    oss2_bucket_for(b, shared_bucket).put_object("after-rotation", body, headers=sse_headers("AES256"))
    on_c = oss2_bucket_for(c, shared_bucket)
    got = on_c.get_object("after-rotation")
    assert got.headers[SSE] == "AES256" and got.read() == body
    assert on_c.get_object("before-rotation").read() == b"old version"
    deadline = time.monotonic() + FOLLOW_DEADLINE_S
    while keyring_primary(c) != primary or keyring_primary(a) != primary:
        assert time.monotonic() < deadline, "the rotation did not reach every node"
        time.sleep(0.2)


def uuid_hex() -> str:
    return secrets.token_hex(16)


def now_utc():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


# -- SIGKILL of one node during concurrent uploads through all three --------------------------

THREADS_PER_NODE = 5
UPLOADS_PER_THREAD = 8
KILL_AFTER_ACKS = 20
SIZES = [0, 1, 1000, 64 * 1024, 300 * 1024, 1024 * 1024, 2 * 1024 * 1024 + 5]


class Ledger:
    def __init__(self):
        self.lock = threading.Condition()
        self.candidates: dict[str, list[bytes]] = {}
        self.acked: dict[str, bytes] = {}
        self.problems: list[str] = []
        self.errors: list[str] = []

    def attempt(self, key, data):
        with self.lock:
            self.candidates.setdefault(key, []).append(data)

    def ack(self, key, data, etag):
        with self.lock:
            if etag != md5_hex_upper(data):
                self.problems.append(f"{key}: etag {etag} != md5")
            self.acked[key] = data
            self.lock.notify_all()


def uploader(node: CofferServer, name: str, bucket: str, t: int, ledger: Ledger, victim: str):
    rng = random.Random(f"{name}{t}")
    b = oss2_bucket_for(node, bucket)
    for j in range(UPLOADS_PER_THREAD):
        key = f"{name}/t{t}/obj-{j}"
        data = rng.randbytes(rng.choice(SIZES))
        ledger.attempt(key, data)
        try:
            result = b.put_object(key, data, headers=sse_headers(rng.choice(METHODS)))
        except Exception as e:  # noqa: BLE001 - the victim's clients fail after the kill
            with ledger.lock:
                if name != victim:
                    ledger.errors.append(f"{key} through {name}: {e!r}")
                ledger.lock.notify_all()
            return
        ledger.ack(key, data, result.etag)


def test_sigkill_of_one_node_loses_no_acknowledged_object(tmp_path):
    cluster = Cluster(tmp_path)
    cluster.start()
    try:
        bucket = unique_bucket_name("mnkill")
        oss2_bucket_for(cluster["a"], bucket).create_bucket()
        ledger = Ledger()
        victim = "b"
        threads = [
            threading.Thread(target=uploader, args=(node, name, bucket, t, ledger, victim), daemon=True)
            for name, node in cluster.nodes.items()
            for t in range(THREADS_PER_NODE)
        ]
        for th in threads:
            th.start()
        with ledger.lock:
            ledger.lock.wait_for(
                lambda: sum(k.startswith(victim) for k in ledger.acked) >= KILL_AFTER_ACKS // 3
                and len(ledger.acked) >= KILL_AFTER_ACKS,
                timeout=300,
            )
            cluster[victim].kill()
        for th in threads:
            th.join(timeout=300)
            assert not th.is_alive(), "an uploader hung"
        assert not ledger.errors, ledger.errors
        assert not ledger.problems, ledger.problems

        problems = []
        for reader_name in ("a", "c"):
            b = oss2_bucket_for(cluster[reader_name], bucket)
            for key, data in ledger.acked.items():
                try:
                    if b.get_object(key).read() != data:
                        problems.append(f"{key} through {reader_name}: content differs")
                except oss2.exceptions.NoSuchKey:
                    problems.append(f"acknowledged {key} missing through {reader_name}")
            listed = {o.key: o for o in oss2.ObjectIteratorV2(b)}
            for key, info in listed.items():
                if key not in ledger.candidates:
                    problems.append(f"unknown key {key} listed")
                    continue
                got = b.get_object(key).read()
                if not any(got == c for c in ledger.candidates[key]):
                    problems.append(f"{key} is visible with {len(got)} bytes matching no attempt")
                if info.size != len(got):
                    problems.append(f"{key}: listed size {info.size} != {len(got)}")
            for key in ledger.acked:
                if key not in listed:
                    problems.append(f"acknowledged {key} not listed through {reader_name}")
        assert not problems, "\n".join(problems)

        # The killed node comes back on the same database and blobs and serves them.
        cluster[victim].start()
        b = oss2_bucket_for(cluster[victim], bucket)
        for key, data in ledger.acked.items():
            assert b.get_object(key).read() == data
        b.put_object("after", b"back")
        assert oss2_bucket_for(cluster["c"], bucket).get_object("after").read() == b"back"
    finally:
        cluster.stop()


# -- periodic duties run on one node at a time ------------------------------------------------


def duty_metrics(node: CofferServer) -> tuple[int, dict[str, int]]:
    """(coffer_duty_lease_held, coffer_duty_runs_total by duty) from the node's /metrics."""
    text = requests.get(f"{node.endpoint}/metrics", timeout=10).text
    held, runs = None, {}
    for line in text.splitlines():
        if line.startswith("coffer_duty_lease_held "):
            held = int(line.split()[1])
        m = re.match(r'coffer_duty_runs_total\{duty="(\w+)"\} (\d+)', line)
        if m:
            runs[m.group(1)] = int(m.group(2))
    assert held is not None, f"no duty lease gauge on /metrics of {node.endpoint}"
    return held, runs


def wait_for_one_holder(nodes: list[CofferServer]) -> CofferServer:
    deadline = time.monotonic() + 30
    while True:
        holders = [n for n in nodes if duty_metrics(n)[0] == 1]
        assert len(holders) <= 1, "two nodes hold the duty lease at once"
        if holders:
            return holders[0]
        assert time.monotonic() < deadline, "no node took the duty lease"
        time.sleep(0.2)  # polling interval


def test_periodic_duties_run_on_one_node_and_move_when_it_dies(tmp_path):
    cluster = Cluster(tmp_path)
    clock = tmp_path / "kms-clock"
    clock.write_text("0")
    for node in cluster.nodes.values():
        # The KMS's schedule runs every 200 ms under the test clock, which all nodes read.
        node.extra_env["COFFER_TEST_KMS_CLOCK_FILE"] = str(clock)
    cluster.start()
    try:
        nodes = list(cluster.nodes.values())
        holder = wait_for_one_holder(nodes)
        before = {n.port: duty_metrics(n)[1] for n in nodes}
        time.sleep(2)  # a window in which the holder's schedule runs several times
        after = {n.port: duty_metrics(n)[1] for n in nodes}
        for n in nodes:
            ran = after[n.port]["kms_schedule"] - before[n.port]["kms_schedule"]
            if n is holder:
                assert ran > 0, "the lease holder did not run the KMS schedule"
            else:
                assert after[n.port] == {k: 0 for k in after[n.port]}, "a node without the lease ran duties"

        # A deletion window ends once for the cluster: scheduled through a node that does not
        # hold the lease, carried out by the one that does, seen by all.
        other = next(n for n in nodes if n is not holder)
        key_id = kms_of(other).call("CreateKey")["KeyMetadata"]["KeyId"]
        kms_of(other).call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
        clock.write_text(str(8 * 24 * 3600))
        deadline = time.monotonic() + 30
        while True:
            try:
                kms_of(other).call("DescribeKey", KeyId=key_id)
            except Exception as e:  # noqa: BLE001 - the SDK's ServerException
                assert "NotFound" in str(e), e
                break
            assert time.monotonic() < deadline, "the deletion window ended but the key stays"
            time.sleep(0.2)  # polling interval
        clock.write_text("0")

        # The holder dies: another node takes the duties over, still only one.
        holder.kill()
        rest = [n for n in nodes if n is not holder]
        successor = wait_for_one_holder(rest)
        first = duty_metrics(successor)[1]["kms_schedule"]
        deadline = time.monotonic() + 30
        while duty_metrics(successor)[1]["kms_schedule"] == first:
            assert time.monotonic() < deadline, "the new holder does not run the KMS schedule"
            time.sleep(0.2)  # polling interval
        for n in rest:
            if n is not successor:
                assert duty_metrics(n)[1]["kms_schedule"] == 0
    finally:
        cluster.stop()
