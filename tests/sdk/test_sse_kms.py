"""SSE-KMS with named CMKs through the real SDKs: oss2 for the objects, aliyun-python-sdk-kms
(through coffer's KMS API) for the keys. A CMK's state decides whether its objects can be written
and read; HEAD and listings never need the key."""

from __future__ import annotations

import json
import os
import time

import oss2
import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkkms.request.v20160120 import (
    CancelKeyDeletionRequest,
    CreateAliasRequest,
    CreateKeyRequest,
    DisableKeyRequest,
    EnableKeyRequest,
    ScheduleKeyDeletionRequest,
)

from coffer_harness import REGION
from sdkutil import md5_hex_upper, random_bytes

SSE = "x-oss-server-side-encryption"
KEY_ID = "x-oss-server-side-encryption-key-id"


@pytest.fixture(scope="session")
def kms_client(coffer):
    if not coffer.kms_port:
        pytest.skip("the binary does not serve the KMS API")
    return AcsClient(coffer.access_key_id, coffer.access_key_secret, REGION, auto_retry=False)


def kms_call(coffer, client, request) -> dict:
    request.set_endpoint(coffer.kms_endpoint)
    request.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(request))


@pytest.fixture
def cmk(coffer, kms_client) -> str:
    return kms_call(coffer, kms_client, CreateKeyRequest.CreateKeyRequest())["KeyMetadata"]["KeyId"]


def set_state(coffer, client, cls, key_id: str, **extra):
    req = cls()
    req.set_KeyId(key_id)
    for name, value in extra.items():
        getattr(req, f"set_{name}")(value)
    kms_call(coffer, client, req)


def test_named_cmk_encrypts_and_is_echoed(bucket, cmk):
    data = random_bytes(150_000, seed=21)
    r = bucket.put_object("k", data, headers={SSE: "KMS", KEY_ID: cmk})
    assert r.headers[SSE] == "KMS"
    assert r.headers[KEY_ID] == cmk
    g = bucket.get_object("k")
    assert g.headers[KEY_ID] == cmk
    assert g.read() == data
    assert bucket.head_object("k").etag == md5_hex_upper(data)


def test_alias_names_a_cmk(coffer, kms_client, bucket, cmk):
    alias = f"alias/sse-{cmk[:8]}"
    req = CreateAliasRequest.CreateAliasRequest()
    req.set_KeyId(cmk)
    req.set_AliasName(alias)
    kms_call(coffer, kms_client, req)
    r = bucket.put_object("a", b"aliased", headers={SSE: "KMS", KEY_ID: alias})
    assert r.headers[KEY_ID] == cmk  # the resolved key id is what is recorded and echoed
    assert bucket.get_object("a").read() == b"aliased"


def test_bucket_default_with_named_cmk_and_header_precedence(bucket, cmk):
    bucket.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", cmk))
    rule = bucket.get_bucket_encryption()
    assert (rule.sse_algorithm, rule.kms_master_keyid) == ("KMS", cmk)
    bucket.put_object("d", b"by default")
    assert bucket.head_object("d").headers[KEY_ID] == cmk
    bucket.put_object("h", b"by header", headers={SSE: "AES256"})
    assert bucket.head_object("h").headers[SSE] == "AES256"
    assert KEY_ID not in bucket.head_object("h").headers


def test_disabled_cmk_blocks_put_and_get_but_not_head_or_list(coffer, kms_client, bucket, cmk):
    data = random_bytes(90_000, seed=22)
    bucket.put_object("k", data, headers={SSE: "KMS", KEY_ID: cmk})
    set_state(coffer, kms_client, DisableKeyRequest.DisableKeyRequest, cmk)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.get_object("k").read()
    assert (e.value.status, e.value.code) == (409, "KmsKeyDisabled")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_object("k2", b"x", headers={SSE: "KMS", KEY_ID: cmk})
    assert (e.value.status, e.value.code) == (409, "KmsKeyDisabled")
    assert bucket.head_object("k").content_length == len(data)  # no KMS call
    assert [o.key for o in bucket.list_objects().object_list] == ["k"]  # one bad key breaks no listing
    set_state(coffer, kms_client, EnableKeyRequest.EnableKeyRequest, cmk)
    assert bucket.get_object("k").read() == data


def test_cmk_pending_deletion_blocks_until_cancelled(coffer, kms_client, bucket, cmk):
    bucket.put_object("k", b"secret data", headers={SSE: "KMS", KEY_ID: cmk})
    set_state(coffer, kms_client, ScheduleKeyDeletionRequest.ScheduleKeyDeletionRequest, cmk, PendingWindowInDays=7)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.get_object("k").read()
    assert (e.value.status, e.value.code) == (409, "KmsKeyPendingDeletion")
    set_state(coffer, kms_client, CancelKeyDeletionRequest.CancelKeyDeletionRequest, cmk)
    # Cancelling leaves the key disabled (as Alibaba's KMS does); enabling restores access.
    try:
        assert bucket.get_object("k").read() == b"secret data"
    except oss2.exceptions.ServerError as e:
        assert e.code == "KmsKeyDisabled"
        set_state(coffer, kms_client, EnableKeyRequest.EnableKeyRequest, cmk)
        assert bucket.get_object("k").read() == b"secret data"


def test_unknown_cmk_fails_at_put(bucket):
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_object("k", b"x", headers={SSE: "KMS", KEY_ID: "0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6f"})
    assert (e.value.status, e.value.code) == (400, "KmsKeyNotFound")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object("k")


def test_copy_moves_an_object_between_cmks(coffer, kms_client, bucket, cmk):
    other = kms_call(coffer, kms_client, CreateKeyRequest.CreateKeyRequest())["KeyMetadata"]["KeyId"]
    data = random_bytes(200_000, seed=23)
    bucket.put_object("o", data, headers={SSE: "KMS", KEY_ID: cmk, "x-oss-meta-tag": "kept"})
    bucket.copy_object(bucket.bucket_name, "o", "o", headers={SSE: "KMS", KEY_ID: other})
    h = bucket.head_object("o")
    assert h.headers[KEY_ID] == other
    assert h.headers["x-oss-meta-tag"] == "kept"
    # The old CMK is no longer needed: disabling it does not affect the re-encrypted object.
    set_state(coffer, kms_client, DisableKeyRequest.DisableKeyRequest, cmk)
    assert bucket.get_object("o").read() == data


def test_multipart_and_part_copy_with_named_cmk(bucket, cmk):
    src = random_bytes(300_000, seed=24)
    bucket.put_object("src", src, headers={SSE: "SM4"})
    up = bucket.init_multipart_upload("mp", headers={SSE: "KMS", KEY_ID: cmk, "x-oss-server-side-data-encryption": "SM4"})
    assert up.headers[KEY_ID] == cmk
    p1 = bucket.upload_part("mp", up.upload_id, 1, src[:150_000])
    p2 = bucket.upload_part_copy(bucket.bucket_name, "src", (150_000, 299_999), "mp", up.upload_id, 2)
    r = bucket.complete_multipart_upload("mp", up.upload_id, [oss2.models.PartInfo(1, p1.etag), oss2.models.PartInfo(2, p2.etag)])
    assert r.headers[KEY_ID] == cmk
    g = bucket.get_object("mp")
    assert g.headers["x-oss-server-side-data-encryption"] == "SM4"
    assert g.read() == src


def test_sse_kms_calls_are_metered_and_audited_per_object(coffer, bucket, cmk):
    import subprocess

    bucket.put_object("m", b"metered", headers={SSE: "KMS", KEY_ID: cmk})
    bucket.get_object("m").read()
    bucket.get_object("m").read()

    env = dict(os.environ)
    if os.environ.get("COFFER_SDK_META") == "postgres":
        # The trail and the counters live in the database, not in the data directory: ask the
        # server (the admin API's /kms/GetUsage and /kms/ListAuditRecords) as its root.
        from test_ram import admin_endpoint

        where: list[str] = []
        env.update(COFFER_ADMIN_ENDPOINT=admin_endpoint(coffer), COFFER_ACCESS_KEY_ID=coffer.access_key_id,
                   COFFER_ACCESS_KEY_SECRET=coffer.access_key_secret, HOME=str(coffer.work_dir))
    else:
        where = ["--data-dir", str(coffer.data_dir)]

    def cli(*args: str):
        out = subprocess.run(
            [str(coffer.binary), "kms", *args, *where, "--key", cmk, "--json"],
            capture_output=True, text=True, check=True, env=env,
        ).stdout
        return out

    out = cli("usage")
    # The data-directory form prints one JSON array, the network form a JSON line per row.
    rows = json.loads(out) if out.lstrip().startswith("[") else [json.loads(x) for x in out.splitlines()]
    usage = {row["operation"]: row["calls"] for row in rows}
    assert usage["GenerateDataKey"] == 1
    assert usage["Decrypt"] == 2
    audit = [json.loads(line) for line in cli("audit").splitlines()]
    sse = [r for r in audit if r["via"] == "Oss"]
    assert {r["resource"] for r in sse} == {f"{bucket.bucket_name}/m"}
    assert all(r["key_version_id"] and r["result"] == "Success" for r in sse)


def test_deleted_cmk_makes_its_objects_unrecoverable(tmp_path):
    """Crypto-shredding end to end: once a CMK's deletion window ends, its material is destroyed
    and its objects cannot be read, even after the clock is set back. Needs the binary built with
    the `testing` feature (its KMS clock is moved forward through a file), as `.ci/run` builds it."""
    from coffer_harness import CofferServer
    from sdkutil import oss2_bucket_for

    clock = tmp_path / "kms-clock"
    clock.write_text("0")
    server = CofferServer.create(tmp_path / "shred")
    server.extra_env["COFFER_TEST_KMS_CLOCK_FILE"] = str(clock)
    server.start()
    try:
        if "KMS test clock enabled" not in server.log_tail(200):
            pytest.skip("the binary was built without the `testing` feature")
        client = AcsClient(server.access_key_id, server.access_key_secret, REGION, auto_retry=False)
        key_id = kms_call(server, client, CreateKeyRequest.CreateKeyRequest())["KeyMetadata"]["KeyId"]
        b = oss2_bucket_for(server, "shred")
        b.create_bucket()
        b.put_object("k", b"doomed", headers={SSE: "KMS", KEY_ID: key_id})
        b.put_object("other", b"survives", headers={SSE: "AES256"})
        set_state(server, client, ScheduleKeyDeletionRequest.ScheduleKeyDeletionRequest, key_id, PendingWindowInDays=7)
        clock.write_text(str(8 * 86400))
        deadline = time.monotonic() + 30
        while True:  # the server's KMS schedule runs every 200 ms under the test clock
            try:
                b.get_object("k").read()
            except oss2.exceptions.ServerError as e:
                if e.code == "KmsKeyNotFound":
                    break
            assert time.monotonic() < deadline, "the CMK was not deleted at the end of its window"
            time.sleep(0.2)
        clock.write_text("0")
        with pytest.raises(oss2.exceptions.ServerError) as e:
            b.get_object("k").read()
        assert (e.value.status, e.value.code) == (400, "KmsKeyNotFound")
        assert b.head_object("k").content_length == len(b"doomed")  # metadata stays; data is gone
        assert b.get_object("other").read() == b"survives"
    finally:
        server.kill()
