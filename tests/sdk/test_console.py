"""The web console in a real browser (Debian's Chromium driven by playwright-core, node/console.js),
its results checked through oss2 and the KMS SDK: the OSS documentation's two console flows for
server-side encryption, and the rules the console keeps (session cookie, CSRF, denials in words).

Screenshots of every page visited (laptop and phone widths) go to $COFFER_CONSOLE_SHOTS, else
target/console-shots/ of this checkout (ignored by git)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import oss2
import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkkms.request.v20160120 import (
    CreateKeyRequest,
    DescribeKeyRequest,
    ListAliasesByKeyIdRequest,
    ListKeyVersionsRequest,
)

from coffer_harness import REGION, REPO_ROOT
from sdkutil import delete_bucket_with_contents, oss2_bucket_for, random_bytes, unique_bucket_name

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "node" / "console.js"
CHROMIUM = os.environ.get("COFFER_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("COFFER_CONSOLE_SHOTS", REPO_ROOT / "target" / "console-shots"))
NODE_TIMEOUT_S = 300

SSE = "x-oss-server-side-encryption"
KEY_ID = "x-oss-server-side-encryption-key-id"
DATA_SSE = "x-oss-server-side-data-encryption"


def browse(coffer, scenario: str, ak: str | None = None, sk: str | None = None, **args) -> dict:
    """Runs one scenario of node/console.js against the console; returns its result."""
    node = shutil.which("node")
    assert node, "node is not installed (bash .ci/run installs it)"
    assert (HERE / "node_modules" / "playwright-core").is_dir(), "run `npm ci` in tests/sdk"
    assert Path(CHROMIUM).exists(), "chromium is not installed (bash .ci/run installs it)"
    assert coffer.console_port, "the binary does not serve the console"
    env = dict(
        os.environ,
        COFFER_CONSOLE=coffer.console_endpoint,
        COFFER_AK=ak or coffer.access_key_id,
        COFFER_SK=sk or coffer.access_key_secret,
        COFFER_ARGS=json.dumps(args),
        COFFER_SHOTS=str(SHOTS),
        COFFER_CHROMIUM=CHROMIUM,
    )
    proc = subprocess.run(
        [node, str(SCRIPT), scenario], cwd=HERE, env=env, capture_output=True, text=True,
        timeout=NODE_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"console.js printed no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(lines[-1])
    assert result["ok"], f"{scenario} failed: {result.get('error')}\n{proc.stderr}\n{coffer.log_tail(20)}"
    assert not result["overflow"], f"{scenario}: elements stick out of the page: {result['overflow']}"
    return result


def kms_call(coffer, request) -> dict:
    client = AcsClient(coffer.access_key_id, coffer.access_key_secret, REGION, auto_retry=False)
    request.set_endpoint(coffer.kms_endpoint)
    request.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(request))


@pytest.fixture(scope="module")
def cmk(coffer) -> str:
    req = CreateKeyRequest.CreateKeyRequest()
    req.set_Description("console test key")
    return kms_call(coffer, req)["KeyMetadata"]["KeyId"]


@pytest.fixture
def new_bucket(coffer):
    """A name for a bucket the console creates; deleted with its contents afterwards."""
    name = unique_bucket_name("con")
    yield name
    b = oss2_bucket_for(coffer, name)
    try:
        delete_bucket_with_contents(b)
    except oss2.exceptions.NoSuchBucket:
        pass


def rule_of(bucket: oss2.Bucket):
    return bucket.get_bucket_encryption()


def put_and_head(bucket: oss2.Bucket, key: str = "after.bin") -> dict:
    data = random_bytes(70_000, seed=5)
    bucket.put_object(key, data)
    assert bucket.get_object(key).read() == data
    return bucket.head_object(key).headers


@pytest.mark.parametrize(
    "choice",
    [
        {"sse": "KMS", "algorithm": "SM4", "key": "cmk"},
        {"sse": "KMS", "algorithm": "AES256", "key": "alias/acs/oss"},
        {"sse": "OSS-managed", "algorithm": "SM4"},
        {"sse": "OSS-managed", "algorithm": "AES256"},
        {"sse": "None"},
    ],
    ids=["kms-cmk-sm4", "kms-default", "oss-sm4", "oss-aes256", "none"],
)
def test_create_bucket_with_server_side_encryption(coffer, cmk, new_bucket, choice):
    choice = dict(choice)
    if choice.get("key") == "cmk":
        choice["key"] = cmk
    r = browse(coffer, "createBucket", bucket=new_bucket, **choice)
    assert "created" in r["flash"], r
    assert new_bucket in r["row"] and REGION in r["row"], r
    b = oss2_bucket_for(coffer, new_bucket)
    headers = put_and_head(b)
    if choice["sse"] == "None":
        with pytest.raises(oss2.exceptions.ServerError) as e:
            rule_of(b)
        assert e.value.code == "NoSuchServerSideEncryptionRule"
        assert SSE not in headers
        assert "None" in r["row"]
        return
    rule = rule_of(b)
    if choice["sse"] == "KMS":
        assert rule.sse_algorithm == "KMS"
        expected_key = None if choice["key"] == "alias/acs/oss" else cmk
        assert (rule.kms_master_keyid or None) == expected_key
        assert headers[SSE] == "KMS"
        if expected_key:
            assert headers[KEY_ID] == cmk
        if choice["algorithm"] == "SM4":
            assert rule.kms_data_encryption == "SM4"
            assert headers[DATA_SSE] == "SM4"
        else:
            assert DATA_SSE not in headers
    else:
        assert rule.sse_algorithm == choice["algorithm"]
        assert headers[SSE] == choice["algorithm"]
        assert KEY_ID not in headers


def test_set_encryption_on_an_existing_bucket_leaves_old_objects_as_they_were(coffer, bucket, bucket_name, cmk):
    bucket.put_object("before.bin", b"written before the rule")
    r = browse(coffer, "setEncryption", bucket=bucket_name, sse="KMS", algorithm="SM4", key=cmk)
    assert r["before"] == "None"
    assert "Existing objects keep the encryption they were written with" in r["notice"]
    assert r["after"] == {"method": "KMS", "algorithm": "SM4", "key": cmk}, r
    rule = rule_of(bucket)
    assert (rule.sse_algorithm, rule.kms_master_keyid, rule.kms_data_encryption) == ("KMS", cmk, "SM4")
    headers = put_and_head(bucket)
    assert (headers[SSE], headers[KEY_ID], headers[DATA_SSE]) == ("KMS", cmk, "SM4")
    assert SSE not in bucket.head_object("before.bin").headers

    # Changed to OSS-managed SM4, then removed: later objects follow, earlier ones keep theirs.
    r = browse(coffer, "setEncryption", bucket=bucket_name, sse="OSS-managed", algorithm="SM4")
    assert r["after"]["method"] == "OSS-managed" and r["after"]["algorithm"] == "SM4"
    assert put_and_head(bucket, "sm4.bin")[SSE] == "SM4"
    assert bucket.head_object("after.bin").headers[SSE] == "KMS"
    r = browse(coffer, "removeEncryption", bucket=bucket_name)
    assert r["after"] == "None" and "removed" in r["flash"]
    with pytest.raises(oss2.exceptions.ServerError) as e:
        rule_of(bucket)
    assert e.value.code == "NoSuchServerSideEncryptionRule"
    assert SSE not in put_and_head(bucket, "plain.bin")
    assert bucket.head_object("sm4.bin").headers[SSE] == "SM4"


def test_a_bad_bucket_name_is_refused_in_words_and_the_form_kept(coffer):
    r = browse(coffer, "createBucketRefused", bucket="Not_A_Bucket", sse="OSS-managed", algorithm="SM4")
    assert "Invalid bucket name (InvalidBucketName)" in r["flash"], r
    assert r["nameKept"] == "Not_A_Bucket"


def test_deleting_a_bucket_that_holds_objects_is_refused_with_the_reason(coffer, bucket, bucket_name):
    bucket.put_object("keep", b"x")
    r = browse(coffer, "deleteBucket", bucket=bucket_name)
    assert "Bucket not empty (BucketNotEmpty)" in r["flash"], r
    assert r["listed"] == 1
    bucket.delete_object("keep")
    r = browse(coffer, "deleteBucket", bucket=bucket_name)
    assert "deleted" in r["flash"] and r["listed"] == 0
    bucket.create_bucket()  # the fixture deletes it again


@pytest.mark.parametrize(
    "choice, size",
    [
        ({"sse": "KMS", "algorithm": "SM4", "key": "cmk"}, 20 * 1024 * 1024),
        ({"sse": "OSS-managed", "algorithm": "SM4"}, 300_000),
        ({}, 1000),
    ],
    ids=["kms-sm4-20mib-multipart", "oss-sm4-small", "bucket-default"],
)
def test_objects_upload_detail_download_delete(coffer, bucket, bucket_name, cmk, tmp_path, choice, size):
    choice = dict(choice)
    if choice.get("key") == "cmk":
        choice["key"] = cmk
    bucket.put_object("dir/sub/x.txt", b"in a folder", headers={"x-oss-meta-owner": "ops"})
    bucket.put_object("dir/y.txt", b"y")
    if not choice:
        bucket.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("AES256"))
    data = random_bytes(size, seed=size)
    src = tmp_path / "upload.bin"
    src.write_bytes(data)
    saved = tmp_path / "saved.bin"
    r = browse(coffer, "objects", bucket=bucket_name, folders=["dir/", "sub/"], file=str(src),
               saveAs=str(saved), meta="Owner: team-a\nreview: 2026-12", **choice)
    assert r["listedInFolder"] == ["dir/sub/x.txt"], r
    assert "1 uploaded" in r["upload"], r
    head = bucket.head_object("upload.bin").headers
    assert int(head["Content-Length"]) == size
    # The form's user metadata, as an SDK reads it, and in the detail panel.
    assert (head["x-oss-meta-owner"], head["x-oss-meta-review"]) == ("team-a", "2026-12"), head
    assert "x-oss-meta-owner: team-a" in r["detail"]["meta"], r["detail"]
    d = r["detail"]
    assert d["size"].startswith(f"{size} bytes"), d
    assert d["etag"] == head["ETag"].strip('"'), d
    assert d["crc64"] == head["x-oss-hash-crc64ecma"], d
    if size > 16 * 1024 * 1024:
        assert d["etag"].endswith("-3"), d  # three 8 MiB parts: a multipart upload
    if choice.get("sse") == "KMS":
        assert (head[SSE], head[KEY_ID], head[DATA_SSE]) == ("KMS", cmk, "SM4")
        assert d["encryption"] == "KMS (SM4)" and d["cmk"] == cmk, d
    elif choice:
        assert head[SSE] == "SM4" and d["encryption"] == "OSS-managed (SM4)", d
        assert d["cmk"] == "—"
    else:
        assert head[SSE] == "AES256" and d["encryption"] == "OSS-managed (AES256)", d
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert bucket.get_object("upload.bin").read() == data
    r = browse(coffer, "deleteObject", bucket=bucket_name, key="upload.bin")
    assert "deleted" in r["flash"], r
    assert not bucket.object_exists("upload.bin")


def test_a_kms_keys_life_cycle(coffer):
    alias = "alias/console-" + unique_bucket_name("k")
    r = browse(coffer, "keyLifecycle", description="life cycle", spec="Aliyun_SM4", alias=alias)
    key = r["keyId"]
    assert "created" in r["created"], r
    assert r["states"] == ["Enabled", "Disabled", "Enabled", "PendingDeletion", "Disabled"], r
    assert "every 30 days" in r["rotation"], r
    assert r["versions"] == 2, r
    assert alias in r["aliases"], r
    assert "after 7 days" in r["scheduled"], r
    assert "(Forbidden.PendingWindowInDays)" in r["refused"] or "InvalidParameter" in r["refused"], r
    req = DescribeKeyRequest.DescribeKeyRequest()
    req.set_KeyId(key)
    m = kms_call(coffer, req)["KeyMetadata"]
    assert (m["KeyState"], m["KeySpec"], m["Description"]) == ("Disabled", "Aliyun_SM4", "life cycle")
    assert m["AutomaticRotation"] == "Enabled" and m["RotationInterval"] == f"{30 * 86400}s"
    req = ListKeyVersionsRequest.ListKeyVersionsRequest()
    req.set_KeyId(key)
    assert kms_call(coffer, req)["TotalCount"] == 2
    req = ListAliasesByKeyIdRequest.ListAliasesByKeyIdRequest()
    req.set_KeyId(key)
    assert [a["AliasName"] for a in kms_call(coffer, req)["Aliases"]["Alias"]] == [alias]


def test_byok_import_wizard(coffer):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    import base64
    import secrets as pysecrets

    r = browse(coffer, "byokStart")
    assert r["state"] == "PendingImport", r
    public = serialization.load_der_public_key(base64.b64decode(r["publicKey"]))
    wrapped = public.encrypt(
        pysecrets.token_bytes(32),
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    r2 = browse(coffer, "byokFinish", keyId=r["keyId"], token=r["token"],
                material=base64.b64encode(wrapped).decode())
    assert r2["state"] == "Enabled" and "imported" in r2["flash"], r2


def test_reencrypt_existing_objects_rewrites_what_the_rule_does_not_cover(coffer, bucket, bucket_name, cmk):
    plain = {f"plain-{i}": random_bytes(20_000 + i, seed=i) for i in range(3)}
    for key, data in plain.items():
        bucket.put_object(key, data, headers={"x-oss-meta-kept": key})
    bucket.put_object("already", b"kms already", headers={SSE: "KMS", KEY_ID: cmk})
    bucket.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", cmk))
    r = browse(coffer, "reencrypt", bucket=bucket_name)
    assert r["summary"] == {"listed": 4, "rewritten": 3, "already": 1, "skipped": 0, "failed": 0}, r
    for key, data in plain.items():
        head = bucket.head_object(key).headers
        assert (head[SSE], head[KEY_ID]) == ("KMS", cmk), key
        assert head["x-oss-meta-kept"] == key
        assert bucket.get_object(key).read() == data
    # Run again: everything is as the rule says, nothing is rewritten.
    again = browse(coffer, "reencrypt", bucket=bucket_name)
    assert again["summary"] == {"listed": 4, "rewritten": 0, "already": 4, "skipped": 0, "failed": 0}, again


def test_reencrypt_changing_only_the_key_keeps_the_data_of_what_it_can(coffer, bucket, bucket_name, cmk):
    """With "Only change the key where possible", SSE-OSS AES256 and SSE-KMS objects get their
    data key rewrapped under the rule's CMK (their stored bytes untouched); unencrypted and SM4
    objects, which a rewrap cannot bring to AES-256 data under KMS, are copied."""
    data = {k: random_bytes(30_000, seed=i) for i, k in enumerate(["aes", "plain", "sm4"])}
    blobs = coffer.data_dir / "blobs" / "blobs"
    before = {p for p in blobs.rglob("*") if p.is_file()}
    bucket.put_object("aes", data["aes"], headers={SSE: "AES256"})
    (aes_blob,) = {p for p in blobs.rglob("*") if p.is_file()} - before
    aes_bytes = aes_blob.read_bytes()
    bucket.put_object("plain", data["plain"])
    bucket.put_object("sm4", data["sm4"], headers={SSE: "SM4"})
    bucket.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", cmk))
    r = browse(coffer, "reencrypt", bucket=bucket_name, rewrap=True)
    assert r["summary"] == {
        "listed": 3, "rewritten": 3, "already": 0, "skipped": 0, "failed": 0, "rewrapped": 1,
    }, r
    for key, value in data.items():
        head = bucket.head_object(key).headers
        assert (head[SSE], head[KEY_ID]) == ("KMS", cmk), key
        assert bucket.get_object(key).read() == value
    assert aes_blob.read_bytes() == aes_bytes, "the rewrapped object's data was rewritten"


def test_reencrypt_to_the_default_kms_key_counts_kms_objects_as_done(coffer, bucket, bucket_name, cmk):
    """A rule of KMS with the default key: objects already SSE-KMS (under whichever CMK, as
    `coffer reencrypt --sse KMS` sees them) are left alone, only the others are rewritten."""
    bucket.put_object("plain", b"plain")
    bucket.put_object("default-key", b"default", headers={SSE: "KMS"})
    bucket.put_object("named-key", b"named", headers={SSE: "KMS", KEY_ID: cmk})
    bucket.put_object("sm4-data", b"sm4", headers={SSE: "KMS", DATA_SSE: "SM4"})
    bucket.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS"))
    r = browse(coffer, "reencrypt", bucket=bucket_name)
    assert r["summary"] == {"listed": 4, "rewritten": 2, "already": 2, "skipped": 0, "failed": 0}, r
    assert bucket.head_object("plain").headers[SSE] == "KMS"
    assert bucket.head_object("named-key").headers[KEY_ID] == cmk
    assert DATA_SSE not in bucket.head_object("sm4-data").headers
    assert bucket.get_object("sm4-data").read() == b"sm4"


# -- who may do what, sessions, CSRF ------------------------------------------------------------


@pytest.fixture(scope="module")
def ram(coffer):
    from test_ram import Ram, admin_endpoint

    return Ram(coffer, admin_endpoint(coffer))


def test_a_ram_user_who_may_read_one_bucket_sees_only_it_and_is_refused_writes_in_words(
    coffer, ram, bucket, bucket_name, tmp_path
):
    other = unique_bucket_name("other")
    other_bucket = oss2_bucket_for(coffer, other)
    other_bucket.create_bucket()
    try:
        bucket.put_object("readable.txt", b"you may read me")
        user = ram.user("reader")
        ram.policy(
            [
                {"Effect": "Allow", "Action": ["oss:ListBuckets"], "Resource": ["acs:oss:*:*:*"]},
                {
                    "Effect": "Allow",
                    "Action": ["oss:ListObjects", "oss:GetObject", "oss:GetBucketInfo"],
                    "Resource": [f"acs:oss:*:*:{bucket_name}", f"acs:oss:*:*:{bucket_name}/*"],
                },
            ],
            tmp_path,
            user=user.name,
        )
        src = tmp_path / "denied.txt"
        src.write_bytes(b"not allowed")
        r = browse(coffer, "ramReadOnly", ak=user.access_key_id, sk=user.access_key_secret,
                   bucket=bucket_name, other=other, object="readable.txt", file=str(src),
                   newBucket=unique_bucket_name("nope"))
        assert r["who"] == f"ram-user/{user.name}"
        assert r["buckets"] == [bucket_name], r
        assert r["objects"] == ["readable.txt"], r
        assert "Access denied (AccessDenied)" in r["upload"] and "oss:PutObject" in r["upload"], r
        assert "Access denied (AccessDenied)" in r["deleteObject"] and "oss:DeleteObject" in r["deleteObject"], r
        assert "oss:GetBucketEncryption" in r["encryptionPage"], r
        assert "Access denied (AccessDenied)" in r["createBucket"] and "oss:PutBucket" in r["createBucket"], r
        assert "Access denied (AccessDenied)" in r["otherBucket"] and "oss:ListObjects" in r["otherBucket"], r
        assert "(Forbidden.NoPermission)" in r["keys"] and "kms:ListKeys" in r["keys"], r
        # Nothing was written behind the denials.
        assert not bucket.object_exists("denied.txt")
        assert bucket.object_exists("readable.txt")
    finally:
        delete_bucket_with_contents(other_bucket)


def test_login_with_sts_credentials_acts_as_the_role(coffer, ram, bucket, bucket_name, tmp_path):
    """STS credentials (an assumed role's key, secret and token) log in; the session acts as
    the role's session (named as such), and lists what the role's policy lets it list."""
    role = ram.role(tmp_path)
    ram.policy(
        [
            {"Effect": "Allow", "Action": ["oss:ListBuckets"], "Resource": ["acs:oss:*:*:*"]},
            {"Effect": "Allow", "Action": ["oss:GetBucketInfo", "oss:ListObjects"],
             "Resource": [f"acs:oss:*:*:{bucket_name}"]},
        ],
        tmp_path,
        role=role["RoleName"],
    )
    creds = ram.assume(role["Arn"])
    r = browse(coffer, "stsLogin", ak=creds["AccessKeyId"], sk=creds["AccessKeySecret"],
               token=creds["SecurityToken"])
    assert role["RoleName"] in r["who"] and "test-session" in r["who"], r
    assert r["buckets"] == [bucket_name], r
    # Without the token the same key pair is refused at login.
    assert "InvalidAccessKeyId" in r["withoutToken"] or "token" in r["withoutToken"].lower(), r
    assert r["afterRefusal"] == "/login", r


def test_usage_chart_and_audit_trail_with_filters(coffer, bucket, bucket_name, cmk, ram, tmp_path):
    # Calls the page must show: SSE-KMS writes and reads under the CMK (GenerateDataKey, Decrypt).
    for i in range(3):
        bucket.put_object(f"usage/{i}.bin", b"x" * 100,
                          headers={SSE: "KMS", KEY_ID: cmk})
    bucket.get_object("usage/0.bin").read()
    r = browse(coffer, "usageAudit", key=cmk, auditFilters={
        "KMS key": cmk, "Operation": "GenerateDataKey", "Bucket or object": f"{bucket_name}/usage/"})
    assert not r["usageError"] and not r["auditError"], r
    today = r["daily"][0]
    assert len(r["daily"]) == 7 and today["total"] >= 4, r["daily"]
    assert all(d["total"] == 0 for d in r["daily"][1:]), r["daily"]
    assert r["bars"] >= 1 and "KMS calls per day over 7 days" in r["chartLabel"], r
    ops = {row[1]: int(row[2]) for row in r["totals"]}
    assert ops.get("GenerateDataKey", 0) >= 3 and ops.get("Decrypt", 0) >= 1, r["totals"]
    # The trail, filtered to the writes of this prefix: exactly the three objects, newest first.
    assert len(r["audit"]) == 3, r["audit"]
    assert [row[5] for row in r["audit"]] == [f"{bucket_name}/usage/{i}.bin" for i in (2, 1, 0)], r["audit"]
    assert all(row[2] == "GenerateDataKey" and row[3] == cmk and row[7] == "Success"
               for row in r["audit"]), r["audit"]
    assert r["oldestFirst"] == [row[0] for row in reversed(r["audit"])], r

    # A RAM user without kms:ReadUsage / kms:ReadAuditTrail is told so in words.
    user = ram.user("no-usage")
    ram.policy([{"Effect": "Allow", "Action": ["kms:ListKeys"], "Resource": ["*"]}], tmp_path, user=user.name)
    denied = browse(coffer, "usageAudit", ak=user.access_key_id, sk=user.access_key_secret)
    assert "kms:ReadUsage" in denied["usageError"], denied
    assert "kms:ReadAuditTrail" in denied["auditError"], denied
    # kms:ReadAuditTrail on this key only: its trail, but not the account's usage.
    auditor = ram.user("auditor")
    arn = f"acs:kms:{REGION}:*:key/{cmk}"
    ram.policy([{"Effect": "Allow", "Action": ["kms:ReadAuditTrail"], "Resource": [arn]}], tmp_path,
               user=auditor.name)
    a = browse(coffer, "usageAudit", ak=auditor.access_key_id, sk=auditor.access_key_secret,
               auditFilters={"KMS key": cmk, "Bucket or object": bucket_name})
    assert "kms:ReadUsage" in a["usageError"], a
    assert not a["auditError"] and len(a["audit"]) >= 4, a


def test_failed_logins_pause_further_attempts_for_that_key(coffer, ram):
    user = ram.user("guessed")
    c = ConsoleClient(coffer.console_endpoint)
    codes = []
    for _ in range(6):
        _, r = c.login(user.access_key_id, "wrong-secret")
        codes.append(r.status_code)
    assert codes[:5] == [403] * 5 and codes[5] == 429, codes
    # Even the right secret waits now, and the refusal says for how long, not whether it was right.
    _, r = c.login(user.access_key_id, user.access_key_secret)
    assert r.status_code == 429 and "TooManyLoginAttempts" in r.text, r.text
    assert "try again in" in r.text and int(r.headers["Retry-After"]) > 0
    assert "coffer_session" not in r.headers.get("Set-Cookie", "")
    # Another key is not held up by this one's failures.
    _, r = c.login(coffer.access_key_id, coffer.access_key_secret)
    assert r.status_code == 303 and "coffer_session" in r.headers.get("Set-Cookie", ""), r.text


def test_session_cookie_is_httponly_samesite_strict_and_logout_ends_it(coffer):
    r = browse(coffer, "cookieAndLogout")
    session = [c for c in r["cookies"] if c["name"] == "coffer_session"]
    assert session == [{"name": "coffer_session", "httpOnly": True, "sameSite": "Strict",
                        "secure": False, "path": "/"}], r
    assert "coffer_session" not in r["scriptSees"]
    assert r["afterLogout"] == "/login" and "logged out" in r["loggedOut"], r
    assert r["afterLogoutBuckets"] == "/login", r


class ConsoleClient:
    """Plain HTTP against the console (what a browser would refuse to send, or a forged form)."""

    def __init__(self, base: str, verify=True):
        import requests

        self.base = base
        self.http = requests.Session()
        self.http.verify = verify
        # REQUESTS_CA_BUNDLE in the environment would override `verify`.
        self.http.trust_env = False

    def login(self, ak: str, sk: str):
        page = self.http.get(f"{self.base}/login")
        nonce = page.text.split('name="login" value="')[1].split('"')[0]
        r = self.http.post(f"{self.base}/login", data={
            "login": nonce, "next": "/buckets", "access_key_id": ak, "access_key_secret": sk,
        }, allow_redirects=False)
        return page, r

    def csrf(self) -> str:
        page = self.http.get(f"{self.base}/buckets/new")
        return page.text.split('name="csrf" value="')[1].split('"')[0]


def test_every_form_needs_the_sessions_csrf_token_and_a_same_origin(coffer, new_bucket):
    c = ConsoleClient(coffer.console_endpoint)
    page, r = c.login(coffer.access_key_id, coffer.access_key_secret)
    assert "HttpOnly" in page.headers["Set-Cookie"] and "SameSite=Strict" in page.headers["Set-Cookie"]
    assert r.status_code == 303 and r.headers["Location"] == "/buckets"
    assert "Secure" not in r.headers["Set-Cookie"]
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["X-Frame-Options"] == "DENY"
    token = c.csrf()
    form = {"name": new_bucket, "sse": "none"}
    for bad in [{}, {"csrf": ""}, {"csrf": token[:-1] + ("A" if token[-1] != "A" else "B")}]:
        r = c.http.post(f"{coffer.console_endpoint}/buckets", data={**form, **bad}, allow_redirects=False)
        assert r.status_code == 403 and "InvalidCsrfToken" in r.text, r.text[:300]
    # Another session's token is no good either.
    other = ConsoleClient(coffer.console_endpoint)
    other.login(coffer.access_key_id, coffer.access_key_secret)
    r = c.http.post(f"{coffer.console_endpoint}/buckets", data={**form, "csrf": other.csrf()},
                    allow_redirects=False)
    assert r.status_code == 403
    # The right token from another site's page.
    r = c.http.post(f"{coffer.console_endpoint}/buckets", data={**form, "csrf": token},
                    headers={"Origin": "http://evil.example"}, allow_redirects=False)
    assert r.status_code == 403 and "InvalidOrigin" in r.text
    r = c.http.post(f"{coffer.console_endpoint}/buckets", data={**form, "csrf": token},
                    headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False)
    assert r.status_code == 403
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        oss2_bucket_for(coffer, new_bucket).get_bucket_info()
    # Uploads (script requests) carry it as a header.
    r = c.http.put(f"{coffer.console_endpoint}/buckets/{new_bucket}/objects/upload?key=x",
                   data=b"x", headers={"x-csrf-token": "wrong"})
    assert r.status_code == 403
    # With it, the same form works.
    r = c.http.post(f"{coffer.console_endpoint}/buckets", data={**form, "csrf": token}, allow_redirects=False)
    assert r.status_code == 303
    oss2_bucket_for(coffer, new_bucket).get_bucket_info()
    # A login form without its cookie (posted from elsewhere) is refused.
    import requests

    r = requests.post(f"{coffer.console_endpoint}/login", data={
        "login": "x" * 43, "access_key_id": coffer.access_key_id,
        "access_key_secret": coffer.access_key_secret}, allow_redirects=False)
    assert r.status_code == 403 and "coffer_session" not in r.headers.get("Set-Cookie", "")


def test_a_wrong_secret_is_refused_without_saying_which_part_was_wrong(coffer):
    c = ConsoleClient(coffer.console_endpoint)
    _, r = c.login(coffer.access_key_id, coffer.access_key_secret + "x")
    assert r.status_code == 403 and "InvalidAccessKeyId" in r.text
    assert "The AccessKey ID or secret is not valid." in r.text
    assert "coffer_session" not in r.headers.get("Set-Cookie", "")
    _, r2 = c.login("LTAInosuchkey", "whatever")
    assert r2.status_code == 403 and "The AccessKey ID or secret is not valid." in r2.text
    assert r2.text.count("InvalidAccessKeyId") == r.text.count("InvalidAccessKeyId")


@pytest.fixture(scope="module")
def short_sessions(tmp_path_factory):
    """A server whose console sessions end after 2 seconds without a request, over TLS."""
    from coffer_harness import CofferServer

    server = CofferServer.create(tmp_path_factory.mktemp("console-expiry"))
    server.extra_args = ["--console-idle-timeout", "2", "--tls-self-signed"]
    server.start()
    yield server
    server.stop()


def test_under_tls_the_cookie_is_secure_and_an_idle_session_expires(short_sessions):
    import time

    base = f"https://{short_sessions.host}:{short_sessions.console_port}"
    c = ConsoleClient(base, verify=str(short_sessions.data_dir / "tls-self-signed.crt"))
    page, r = c.login(short_sessions.access_key_id, short_sessions.access_key_secret)
    assert r.status_code == 303
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert c.http.get(f"{base}/buckets", allow_redirects=False).status_code == 200
    # Idle expiry is measured on the server's clock; wait past it (the unit tests cover the
    # arithmetic with a chosen clock; this shows the whole path).
    time.sleep(3)
    r = c.http.get(f"{base}/buckets", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?expired=1"), r.headers
    page = c.http.get(f"{base}{r.headers['Location']}")
    assert "Your session ended after a period without activity" in page.text
    # Expired means gone: the same cookie stays refused.
    assert c.http.get(f"{base}/buckets", allow_redirects=False).status_code == 303


def test_disabling_the_access_key_ends_its_console_session(coffer, ram):
    user = ram.user("gone")
    c = ConsoleClient(coffer.console_endpoint)
    _, r = c.login(user.access_key_id, user.access_key_secret)
    assert r.status_code == 303
    assert c.http.get(f"{coffer.console_endpoint}/kms/keys", allow_redirects=False).status_code == 403
    ram.cli("access-key", "disable", "--user", user.name, user.access_key_id)
    r = c.http.get(f"{coffer.console_endpoint}/buckets", allow_redirects=False)
    assert r.status_code == 303 and "/login" in r.headers["Location"]


def test_users_policies_and_a_new_access_key_whose_secret_is_shown_once(coffer, ram, bucket, bucket_name):
    bucket.put_object("visible.txt", b"hello")
    tag = unique_bucket_name("i")[-8:]
    document = json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": ["oss:ListObjects", "oss:GetObject"],
        "Resource": [f"acs:oss:*:*:{bucket_name}", f"acs:oss:*:*:{bucket_name}/*"]}]}, indent=2)
    bad = '{"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "oss:GetObject", "Resource": "*"}]}'
    r = browse(coffer, "identities", user=f"u-{tag}", policy=f"p-{tag}", group=f"g-{tag}",
               role=f"r-{tag}", document=document, badDocument=bad)
    assert "created" in r["userCreated"], r
    assert "(InvalidParameter.PolicyGrammar)" in r["policyRefused"] and "Statement[0].Effect" in r["policyRefused"], r
    assert r["documentKept"] == bad
    assert "created" in r["policyCreated"] and "attached" in r["attached"], r
    assert f"r-{tag}" in r["roles"], r
    assert r["secretAfterReload"] == 0, r
    # Post/redirect/get: the form's reply is a redirect to the user's page, so a refresh of
    # the page showing the secret is a GET that makes no second key and shows no secret.
    assert urllib.parse.unquote(r["afterCreate"]) == f"/identities/users/u-{tag}", r
    assert r["keysAfterCreate"] == 1 and r["keysAfterRefresh"] == 1, r
    assert r["secretAfterRefresh"] == 0, r
    keys = ram.cli("access-key", "list", "--user", f"u-{tag}")["AccessKeys"]
    assert [k["AccessKeyId"] for k in keys] == [r["keyId"]], keys
    assert r["userPolicies"] == f"p-{tag}" and r["userGroups"] == f"g-{tag}", r
    # The key works, with exactly the policy's rights.
    auth = oss2.Auth(r["keyId"], r["secret"])
    as_user = oss2.Bucket(auth, coffer.endpoint, bucket_name)
    assert as_user.get_object("visible.txt").read() == b"hello"
    with pytest.raises(oss2.exceptions.AccessDenied):
        as_user.put_object("nope.txt", b"x")
