"""RAM and STS through real clients: identities made with `coffer admin` (the CLI over the admin
API), then oss2 (V1, V4, presigned URLs, STS tokens) and the v2 SDK against the OSS API.

Each test makes its own users, policies and roles (unique names), so tests stay independent on
the shared server. A denied request must change nothing: every denial is checked with the root's
view of the data afterwards."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import alibabacloud_oss_v2 as oss
import oss2
import pytest
import requests

from coffer_harness import REGION, CofferServer
from sdkutil import (
    CLIENT_TIMEOUT_S,
    delete_bucket_with_contents,
    oss2_bucket_for,
    unique_bucket_name,
    v2_service_error,
)

SSE = "x-oss-server-side-encryption"
KEY_ID = "x-oss-server-side-encryption-key-id"
CLI_TIMEOUT_S = 60

# -- the admin CLI ---------------------------------------------------------------------------


class CliError(Exception):
    def __init__(self, code: int, stderr: str):
        super().__init__(f"coffer admin exited with {code}: {stderr}")
        self.stderr = stderr


def admin_endpoint(server: CofferServer) -> str | None:
    """http://host:port of the admin API, from the ready file the binary wrote."""
    ready = server.work_dir / f"ready-{server.starts}.json"
    info = json.loads(ready.read_text())
    return f"http://{info['admin']}" if "admin" in info else None


@dataclass
class RamUser:
    name: str
    user_id: str
    access_key_id: str
    access_key_secret: str

    def bucket(self, server: CofferServer, name: str, version: str = "v1") -> oss2.Bucket:
        auth = (
            oss2.Auth(self.access_key_id, self.access_key_secret)
            if version == "v1"
            else oss2.AuthV4(self.access_key_id, self.access_key_secret)
        )
        return oss2.Bucket(auth, server.endpoint, name, connect_timeout=CLIENT_TIMEOUT_S, region=REGION)


class Ram:
    """`coffer admin --json …` as the root (or as given credentials)."""

    def __init__(self, server: CofferServer, endpoint: str):
        self.server = server
        self.endpoint = endpoint
        self._account_id: str | None = None

    def cli(self, *args: str, creds: tuple[str, str] | None = None) -> dict:
        env = dict(os.environ)
        env["COFFER_ROOT_ACCESS_KEY_ID"] = self.server.access_key_id
        env["COFFER_ROOT_ACCESS_KEY_SECRET"] = self.server.access_key_secret
        env["RUST_BACKTRACE"] = "0"
        cmd = [str(self.server.binary), "admin", "--endpoint", self.endpoint, "--json"]
        if creds:
            cmd += ["--access-key-id", creds[0], "--access-key-secret", creds[1]]
        done = subprocess.run(
            cmd + list(args), env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
        )
        if done.returncode != 0:
            raise CliError(done.returncode, done.stderr)
        return json.loads(done.stdout)

    @property
    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = self.cli("sts", "whoami")["AccountId"]
        return self._account_id

    def user(self, tag: str = "u") -> RamUser:
        name = f"{tag}-{secrets.token_hex(4)}"
        out = self.cli("user", "create", name)
        key = out["AccessKey"]
        return RamUser(name, out["User"]["UserId"], key["AccessKeyId"], key["AccessKeySecret"])

    def policy(self, statements: list[dict], tmp: Path, **target: str) -> str:
        """Creates a policy and attaches it (user=…, group=… or role=…); returns its name."""
        name = f"p-{secrets.token_hex(4)}"
        doc = tmp / f"{name}.json"
        doc.write_text(json.dumps({"Version": "1", "Statement": statements}))
        self.cli("policy", "create", name, "--document", str(doc))
        for kind, who in target.items():
            self.cli("policy", "attach", name, f"--{kind}", who)
        return name

    def role(self, tmp: Path, trust: dict | None = None, max_session: int | None = None) -> dict:
        name = f"r-{secrets.token_hex(4)}"
        trust = trust or {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"RAM": [f"acs:ram::{self.account_id}:root"]},
                }
            ],
        }
        doc = tmp / f"{name}-trust.json"
        doc.write_text(json.dumps(trust))
        args = ["role", "create", name, "--trust", str(doc)]
        if max_session:
            args += ["--max-session-duration", str(max_session)]
        return self.cli(*args)["Role"]

    def assume(self, role_arn: str, *extra: str) -> dict:
        out = self.cli("sts", "assume-role", "--role-arn", role_arn, "--session-name", "test-session", *extra)
        return out["Credentials"]


@pytest.fixture(scope="session")
def ram(coffer) -> Ram:
    endpoint = admin_endpoint(coffer)
    if endpoint is None:
        pytest.skip("the binary does not serve the admin API")
    return Ram(coffer, endpoint)


def allow(actions, resources) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def deny(actions, resources) -> dict:
    return {"Effect": "Deny", "Action": actions, "Resource": resources}


def objects_of(bucket_name: str) -> str:
    return f"acs:oss:*:*:{bucket_name}/*"


def the_bucket(bucket_name: str) -> str:
    return f"acs:oss:*:*:{bucket_name}"


def refused(fn, code: str = "AccessDenied", status: int = 403):
    with pytest.raises(oss2.exceptions.ServerError) as e:
        r = fn()
        if hasattr(r, "read"):
            r.read()
    assert (e.value.status, e.value.code) == (status, code), e.value
    return e.value


@pytest.fixture(params=["v1", "v4"])
def version(request) -> str:
    return request.param


@pytest.fixture
def second_bucket(coffer) -> oss2.Bucket:
    b = oss2_bucket_for(coffer, unique_bucket_name("ram2"))
    b.create_bucket()
    yield b
    delete_bucket_with_contents(b)


# -- no rights, no change --------------------------------------------------------------------


def test_a_user_without_policies_changes_nothing(coffer, ram, bucket, bucket_name, version):
    bucket.put_object("k", b"original")
    up = bucket.init_multipart_upload("m").upload_id
    u = ram.user("nobody")
    ub = u.bucket(coffer, bucket_name, version)
    attempts = [
        lambda: ub.put_object("k", b"changed"),
        lambda: ub.put_object("new", b"x"),
        lambda: ub.append_object("ap", 0, b"x"),
        lambda: ub.delete_object("k"),
        lambda: ub.batch_delete_objects(["k"]),
        lambda: ub.get_object("k"),
        lambda: ub.head_object("k"),
        lambda: ub.list_objects_v2(),
        lambda: ub.copy_object(bucket_name, "k", "copy"),
        lambda: ub.init_multipart_upload("m2"),
        lambda: ub.upload_part("m", up, 1, b"part"),
        lambda: ub.abort_multipart_upload("m", up),
        lambda: ub.list_multipart_uploads(),
        lambda: ub.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("AES256")),
        lambda: ub.get_bucket_encryption(),
        lambda: ub.put_bucket_policy(json.dumps({"Version": "1", "Statement": []})),
        lambda: ub.get_bucket_info(),
        lambda: ub.delete_bucket(),
    ]
    for attempt in attempts:
        refused(attempt)  # HEAD too: its code travels in x-oss-err
    assert bucket.get_object("k").read() == b"original"
    for key in ["new", "ap", "copy"]:
        assert not bucket.object_exists(key)
    assert [u.key for u in bucket.list_multipart_uploads().upload_list] == ["m"]
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        bucket.get_bucket_encryption()
    refused(lambda: oss2.Service(oss2.Auth(u.access_key_id, u.access_key_secret), coffer.endpoint).list_buckets())


# -- identity policies -----------------------------------------------------------------------


def test_allow_and_deny_per_action(coffer, ram, bucket, bucket_name, second_bucket, version, tmp_path):
    u = ram.user("rw")
    ram.policy(
        [
            allow(["oss:PutObject", "oss:GetObject", "oss:DeleteObject"], [objects_of(bucket_name)]),
            allow("oss:ListObjects", [the_bucket(bucket_name)]),
            deny("oss:DeleteObject", [objects_of(bucket_name)]),
        ],
        tmp_path,
        user=u.name,
    )
    ub = u.bucket(coffer, bucket_name, version)
    ub.put_object("a", b"by alice")
    assert ub.get_object("a").read() == b"by alice"
    assert [o.key for o in ub.list_objects_v2().object_list] == ["a"]
    refused(lambda: ub.delete_object("a"))  # the explicit Deny beats the Allow
    refused(lambda: ub.batch_delete_objects(["a"]))
    assert bucket.get_object("a").read() == b"by alice"
    # Nothing on the other bucket.
    other = u.bucket(coffer, second_bucket.bucket_name, version)
    refused(lambda: other.put_object("a", b"x"))
    assert not second_bucket.object_exists("a")


def test_group_policies_apply_to_members(coffer, ram, bucket, bucket_name, tmp_path):
    u = ram.user("member")
    group = f"g-{secrets.token_hex(4)}"
    ram.cli("group", "create", group)
    ram.policy([allow("oss:GetObject", [objects_of(bucket_name)])], tmp_path, group=group)
    bucket.put_object("k", b"data")
    ub = u.bucket(coffer, bucket_name)
    refused(lambda: ub.get_object("k"))
    ram.cli("group", "add-user", group, u.name)
    assert ub.get_object("k").read() == b"data"
    ram.cli("group", "remove-user", group, u.name)
    refused(lambda: ub.get_object("k"))


def test_listing_limited_to_a_prefix(coffer, ram, bucket, bucket_name, tmp_path):
    u = ram.user("home")
    ram.policy(
        [
            {
                "Effect": "Allow",
                "Action": "oss:ListObjects",
                "Resource": the_bucket(bucket_name),
                "Condition": {"StringLike": {"oss:Prefix": [f"home/{u.name}/*"]}},
            }
        ],
        tmp_path,
        user=u.name,
    )
    bucket.put_object(f"home/{u.name}/a", b"1")
    bucket.put_object("home/other/b", b"2")
    ub = u.bucket(coffer, bucket_name, "v4")
    mine = ub.list_objects_v2(prefix=f"home/{u.name}/").object_list
    assert [o.key for o in mine] == [f"home/{u.name}/a"]
    refused(lambda: ub.list_objects_v2(prefix="home/other/"))
    refused(lambda: ub.list_objects_v2())


def test_bucket_encryption_needs_its_own_action(coffer, ram, bucket, bucket_name, version, tmp_path):
    u = ram.user("enc")
    ram.policy([allow("oss:PutBucketEncryption", [the_bucket(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, version)
    ub.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("AES256"))
    assert bucket.get_bucket_encryption().sse_algorithm == "AES256"
    refused(lambda: ub.get_bucket_encryption())
    refused(lambda: ub.delete_bucket_encryption())
    assert bucket.get_bucket_encryption().sse_algorithm == "AES256"


def test_copy_needs_read_on_the_source_and_write_on_the_target(
    coffer, ram, bucket, bucket_name, second_bucket, tmp_path
):
    bucket.put_object("src", b"source data")
    target = second_bucket.bucket_name
    writer = ram.user("writer")
    ram.policy([allow("oss:PutObject", [objects_of(target)])], tmp_path, user=writer.name)
    wb = writer.bucket(coffer, target, "v4")
    refused(lambda: wb.copy_object(bucket_name, "src", "dst"))
    assert not second_bucket.object_exists("dst")

    copier = ram.user("copier")
    ram.policy(
        [allow("oss:GetObject", [objects_of(bucket_name)]), allow("oss:PutObject", [objects_of(target)])],
        tmp_path,
        user=copier.name,
    )
    cb = copier.bucket(coffer, target, "v4")
    cb.copy_object(bucket_name, "src", "dst")
    assert second_bucket.get_object("dst").read() == b"source data"
    # Reading the source does not allow writing it.
    refused(lambda: copier.bucket(coffer, bucket_name).copy_object(bucket_name, "src", "src2"))
    assert not bucket.object_exists("src2")


def test_multipart_steps_are_put_object_and_abort_is_its_own(coffer, ram, bucket, bucket_name, tmp_path):
    u = ram.user("mp")
    ram.policy([allow("oss:PutObject", [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, "v4")
    up = ub.init_multipart_upload("big").upload_id
    part = ub.upload_part("big", up, 1, b"p" * 1000)
    ub.complete_multipart_upload("big", up, [oss2.models.PartInfo(1, part.etag)])
    assert bucket.get_object("big").read() == b"p" * 1000

    up2 = ub.init_multipart_upload("big2").upload_id
    refused(lambda: ub.list_parts("big2", up2))
    refused(lambda: ub.abort_multipart_upload("big2", up2))
    assert [x.key for x in bucket.list_multipart_uploads().upload_list] == ["big2"]
    ram.policy([allow("oss:AbortMultipartUpload", [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub.abort_multipart_upload("big2", up2)
    assert bucket.list_multipart_uploads().upload_list == []


def test_object_acl_header_needs_put_object_acl(coffer, ram, bucket, bucket_name, tmp_path):
    u = ram.user("acl")
    ram.policy([allow("oss:PutObject", [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name)
    refused(lambda: ub.put_object("k", b"x", headers={"x-oss-object-acl": "public-read"}))
    assert not bucket.object_exists("k")
    ub.put_object("k", b"x")


def test_a_public_read_object_acl_lets_users_without_policies_read(coffer, ram, bucket, bucket_name):
    bucket.put_object("private", b"private")
    bucket.put_object("public", b"public", headers={"x-oss-object-acl": "public-read"})
    u = ram.user("reader")
    ub = u.bucket(coffer, bucket_name)
    refused(lambda: ub.get_object("private"))
    assert ub.get_object("public").read() == b"public"
    refused(lambda: ub.put_object("public", b"changed"))
    assert bucket.get_object("public").read() == b"public"


def test_sse_kms_with_the_default_key_needs_no_kms_permission(coffer, ram, bucket, bucket_name, tmp_path):
    u = ram.user("kmsdefault")
    ram.policy([allow(["oss:PutObject", "oss:GetObject"], [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, "v4")
    r = ub.put_object("k", b"under the default CMK", headers={SSE: "KMS"})
    assert r.headers[SSE] == "KMS"
    assert ub.get_object("k").read() == b"under the default CMK"


# -- SSE-KMS with a named CMK: kms:GenerateDataKey / kms:Decrypt ------------------------------
#
# coffer_iam::Iam::check_kms decides these, called from the SSE-KMS path (crates/coffer/src/sse_kms.rs)
# and from PutBucketEncryption; the account's default CMK needs no kms:* permission.


@pytest.fixture
def cmk(coffer) -> str:
    if not getattr(coffer, "kms_port", 0):
        pytest.skip("the binary does not serve the KMS API")
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkkms.request.v20160120 import CreateKeyRequest

    client = AcsClient(coffer.access_key_id, coffer.access_key_secret, REGION, auto_retry=False)
    req = CreateKeyRequest.CreateKeyRequest()
    req.set_endpoint(coffer.kms_endpoint)
    req.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(req))["KeyMetadata"]["KeyId"]


def key_arn(ram: Ram, key_id: str) -> str:
    return f"acs:kms:*:{ram.account_id}:key/{key_id}"


def test_upload_with_a_named_cmk_needs_generate_data_key(coffer, ram, bucket, bucket_name, cmk, tmp_path):
    u = ram.user("kmsput")
    ram.policy([allow(["oss:PutObject", "oss:GetObject"], [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, "v4")
    refused(lambda: ub.put_object("k", b"x", headers={SSE: "KMS", KEY_ID: cmk}))
    assert not bucket.object_exists("k")
    ram.policy([allow(["kms:GenerateDataKey", "kms:Decrypt"], [key_arn(ram, cmk)])], tmp_path, user=u.name)
    ub.put_object("k", b"x", headers={SSE: "KMS", KEY_ID: cmk})
    assert ub.get_object("k").read() == b"x"


def test_download_of_a_named_cmk_object_needs_decrypt(coffer, ram, bucket, bucket_name, cmk, tmp_path):
    bucket.put_object("k", b"secret", headers={SSE: "KMS", KEY_ID: cmk})
    u = ram.user("kmsget")
    ram.policy([allow("oss:GetObject", [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, "v4")
    refused(lambda: ub.get_object("k"))
    ram.policy([allow("kms:Decrypt", [key_arn(ram, cmk)])], tmp_path, user=u.name)
    assert ub.get_object("k").read() == b"secret"


def test_kms_permissions_for_sse_kms_see_the_request_conditions(coffer, ram, bucket, bucket_name, cmk, tmp_path):
    """A CMK limited by source address or transport is limited for SSE-KMS too: the kms:* check
    sees the OSS request's acs:SourceIp and acs:SecureTransport."""
    u = ram.user("kmscond")
    ram.policy([allow(["oss:PutObject", "oss:GetObject"], [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, "v4")

    def kms_allow(cidr: str) -> dict:
        statement = allow(["kms:GenerateDataKey", "kms:Decrypt"], [key_arn(ram, cmk)])
        statement["Condition"] = {"IpAddress": {"acs:SourceIp": [cidr]}}
        return statement

    ram.policy([kms_allow("10.0.0.0/8")], tmp_path, user=u.name)
    refused(lambda: ub.put_object("k", b"x", headers={SSE: "KMS", KEY_ID: cmk}))
    ram.policy([kms_allow("127.0.0.1/32")], tmp_path, user=u.name)
    ub.put_object("k", b"x", headers={SSE: "KMS", KEY_ID: cmk})
    assert ub.get_object("k").read() == b"x"
    # An explicit Deny on a condition the request meets (plain HTTP) refuses the download.
    no_plain_http = deny("kms:Decrypt", [key_arn(ram, cmk)])
    no_plain_http["Condition"] = {"Bool": {"acs:SecureTransport": ["false"]}}
    ram.policy([no_plain_http], tmp_path, user=u.name)
    refused(lambda: ub.get_object("k"))
    assert bucket.get_object("k").read() == b"x"


def test_an_explicit_deny_of_decrypt_stops_reads_under_the_default_key(coffer, ram, bucket, bucket_name, cmk, tmp_path):
    """The default OSS key needs no Allow, but an explicit Deny still denies (RAM evaluation)."""
    bucket.put_object("k", b"secret", headers={SSE: "KMS"})
    u = ram.user("kmsdeny")
    ram.policy([allow("oss:GetObject", [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, "v4")
    assert ub.get_object("k").read() == b"secret"
    ram.policy([deny("kms:Decrypt", ["*"])], tmp_path, user=u.name)
    refused(lambda: ub.get_object("k"))
    assert bucket.get_object("k").read() == b"secret"


def test_an_explicit_deny_of_generate_data_key_stops_uploads_under_the_default_key(coffer, ram, bucket, bucket_name, tmp_path):
    """Uploads under the default OSS key need no Allow of kms:*, but an explicit Deny still denies."""
    u = ram.user("gdkdeny")
    ram.policy([allow(["oss:PutObject", "oss:GetObject"], [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, "v4")
    ub.put_object("k", b"first", headers={SSE: "KMS"})
    ram.policy([deny("kms:GenerateDataKey", ["*"])], tmp_path, user=u.name)
    refused(lambda: ub.put_object("k", b"second", headers={SSE: "KMS"}))
    assert bucket.get_object("k").read() == b"first"
    # The Deny is about data keys: a plain upload is still allowed.
    ub.put_object("plain", b"p")


def test_bucket_encryption_with_a_named_cmk_needs_describe_key(coffer, ram, bucket, bucket_name, cmk, tmp_path):
    u = ram.user("kmsenc")
    ram.policy([allow("oss:PutBucketEncryption", [the_bucket(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name)
    refused(lambda: ub.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", cmk)))
    ram.policy([allow(["kms:DescribeKey", "kms:List*"], [key_arn(ram, cmk)])], tmp_path, user=u.name)
    ub.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", cmk))


# -- bucket policies -------------------------------------------------------------------------


def bucket_policy(ram: Ram, bucket_name: str, statements: list[dict]) -> str:
    for s in statements:
        s.setdefault("Resource", [f"acs:oss:*:{ram.account_id}:{bucket_name}/*"])
    return json.dumps({"Version": "1", "Statement": statements})


def test_a_bucket_policy_grants_a_ram_user(coffer, ram, bucket, bucket_name, version):
    bucket.put_object("k", b"shared")
    u = ram.user("bp")
    ub = u.bucket(coffer, bucket_name, version)
    refused(lambda: ub.get_object("k"))
    text = bucket_policy(
        ram, bucket_name, [{"Effect": "Allow", "Action": ["oss:GetObject"], "Principal": [u.user_id]}]
    )
    bucket.put_bucket_policy(text)
    assert json.loads(bucket.get_bucket_policy().policy) == json.loads(text)
    assert ub.get_object("k").read() == b"shared"
    refused(lambda: ub.put_object("k", b"changed"))
    assert bucket.get_object("k").read() == b"shared"
    bucket.delete_bucket_policy()
    refused(lambda: ub.get_object("k"))
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.get_bucket_policy()
    assert (e.value.status, e.value.code) == (404, "NoSuchBucketPolicy")


def test_a_bucket_policy_deny_beats_a_ram_allow(coffer, ram, bucket, bucket_name, tmp_path):
    u = ram.user("bpdeny")
    ram.policy([allow("oss:*", "*")], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, "v4")
    ub.put_object("k", b"mine")
    bucket.put_bucket_policy(
        bucket_policy(ram, bucket_name, [{"Effect": "Deny", "Action": ["oss:DeleteObject"], "Principal": [u.user_id]}])
    )
    refused(lambda: ub.delete_object("k"))
    assert bucket.get_object("k").read() == b"mine"
    # Only the policy's principal is fenced: the root still deletes.
    bucket.delete_object("k")


def test_malformed_bucket_policies_are_rejected_and_change_nothing(coffer, ram, bucket, bucket_name):
    good = bucket_policy(ram, bucket_name, [{"Effect": "Allow", "Action": ["oss:GetObject"], "Principal": ["*"]}])
    bucket.put_bucket_policy(good)
    outside = json.loads(good)
    outside["Statement"][0]["Resource"] = [f"acs:oss:*:{ram.account_id}:another-bucket/*"]
    for bad in ["{not json", json.dumps({"Version": "1"}), json.dumps(outside)]:
        e = refused(lambda: bucket.put_bucket_policy(bad), "MalformedPolicy", 400)
        assert e.message
    assert json.loads(bucket.get_bucket_policy().policy) == json.loads(good)
    bucket.delete_bucket_policy()


def test_a_statement_without_principal_speaks_about_everyone(coffer, ram, bucket, bucket_name):
    """OSS accepts a bucket policy statement without Principal and reads it as `[]`, which it
    documents as `["*"]`: anonymous callers and RAM users are bound, the owner only under a
    Condition."""
    bucket.put_object("k", b"open")
    anonymous = oss2.Bucket(oss2.AnonymousAuth(), coffer.endpoint, bucket_name, connect_timeout=CLIENT_TIMEOUT_S)
    refused(lambda: anonymous.get_object("k"))
    allow_all = bucket_policy(ram, bucket_name, [{"Effect": "Allow", "Action": ["oss:GetObject"]}])
    bucket.put_bucket_policy(allow_all)
    assert json.loads(bucket.get_bucket_policy().policy) == json.loads(allow_all)
    assert anonymous.get_object("k").read() == b"open"

    u = ram.user("noprincipal")
    ub = u.bucket(coffer, bucket_name)
    assert ub.get_object("k").read() == b"open"
    bucket.put_bucket_policy(bucket_policy(ram, bucket_name, [{"Effect": "Deny", "Action": ["oss:GetObject"]}]))
    refused(lambda: ub.get_object("k"))
    refused(lambda: anonymous.get_object("k"))
    # Without a Condition the owner is not bound; with one it is.
    assert bucket.get_object("k").read() == b"open"
    fenced = {"Effect": "Deny", "Action": ["oss:GetObject"], "Condition": {"Bool": {"acs:SecureTransport": ["false"]}}}
    bucket.put_bucket_policy(bucket_policy(ram, bucket_name, [fenced]))
    refused(lambda: bucket.get_object("k"))
    bucket.delete_bucket_policy()
    assert bucket.get_object("k").read() == b"open"


def test_bucket_policy_actions_need_permission(coffer, ram, bucket, bucket_name, tmp_path):
    u = ram.user("bpadmin")
    ub = u.bucket(coffer, bucket_name)
    text = bucket_policy(ram, bucket_name, [{"Effect": "Allow", "Action": ["oss:GetObject"], "Principal": ["*"]}])
    refused(lambda: ub.put_bucket_policy(text))
    ram.policy(
        [allow(["oss:PutBucketPolicy", "oss:GetBucketPolicy"], [the_bucket(bucket_name)])], tmp_path, user=u.name
    )
    ub.put_bucket_policy(text)
    assert json.loads(ub.get_bucket_policy().policy) == json.loads(text)
    refused(lambda: ub.delete_bucket_policy())
    bucket.delete_bucket_policy()


# -- access keys -----------------------------------------------------------------------------


def test_disabled_and_deleted_keys_are_refused(coffer, ram, bucket, bucket_name, version, tmp_path):
    bucket.put_object("k", b"data")
    u = ram.user("keys")
    ram.policy([allow("oss:GetObject", [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name, version)
    assert ub.get_object("k").read() == b"data"
    ram.cli("access-key", "disable", "--user", u.name, u.access_key_id)
    refused(lambda: ub.get_object("k"), "InvalidAccessKeyId")
    ram.cli("access-key", "enable", "--user", u.name, u.access_key_id)
    assert ub.get_object("k").read() == b"data"
    ram.cli("access-key", "delete", "--user", u.name, u.access_key_id)
    refused(lambda: ub.get_object("k"), "InvalidAccessKeyId")
    keys = ram.cli("access-key", "list", "--user", u.name)["AccessKeys"]
    assert keys == []


def test_a_user_has_at_most_two_access_keys(ram):
    u = ram.user("two")
    second = ram.cli("access-key", "create", "--user", u.name)["AccessKey"]
    assert second["AccessKeyId"] != u.access_key_id
    with pytest.raises(CliError) as e:
        ram.cli("access-key", "create", "--user", u.name)
    assert "LimitExceeded" in e.value.stderr
    listed = ram.cli("access-key", "list", "--user", u.name)["AccessKeys"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([u.access_key_id, second["AccessKeyId"]])
    assert all("AccessKeySecret" not in k for k in listed)


def test_deleting_a_user_revokes_its_keys(coffer, ram, bucket, bucket_name, tmp_path):
    bucket.put_object("k", b"data")
    u = ram.user("gone")
    ram.policy([allow("oss:GetObject", [objects_of(bucket_name)])], tmp_path, user=u.name)
    ub = u.bucket(coffer, bucket_name)
    assert ub.get_object("k").read() == b"data"
    ram.cli("user", "delete", u.name)
    refused(lambda: ub.get_object("k"), "InvalidAccessKeyId")
    with pytest.raises(CliError) as e:
        ram.cli("user", "get", u.name)
    assert "EntityNotExist.User" in e.value.stderr


# -- administration by RAM users, malformed RAM policies --------------------------------------


def test_malformed_ram_policies_are_rejected(ram, tmp_path):
    for bad in ['{"Version": "1"}', "not json", '{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*"}]}']:
        doc = tmp_path / "bad.json"
        doc.write_text(bad)
        name = f"bad-{secrets.token_hex(4)}"
        with pytest.raises(CliError) as e:
            ram.cli("policy", "create", name, "--document", str(doc))
        assert "InvalidParameter.PolicyGrammar" in e.value.stderr
        assert name not in [p["PolicyName"] for p in ram.cli("policy", "list")["Policies"]]


def test_ram_users_administer_only_what_ram_policies_allow(ram, tmp_path):
    admin = ram.user("admin")
    ram.policy([allow(["ram:CreateUser", "ram:GetUser"], "acs:ram:*:*:user/*")], tmp_path, user=admin.name)
    creds = (admin.access_key_id, admin.access_key_secret)
    name = f"made-{secrets.token_hex(4)}"
    made = ram.cli("user", "create", name, "--no-access-key", creds=creds)
    assert made["User"]["UserName"] == name
    assert ram.cli("user", "get", name, creds=creds)["User"]["UserName"] == name
    for args in [("user", "list"), ("access-key", "create", "--user", name), ("user", "delete", name)]:
        with pytest.raises(CliError) as e:
            ram.cli(*args, creds=creds)
        assert "NoPermission" in e.value.stderr
    nobody = ram.user("nobody")
    with pytest.raises(CliError) as e:
        ram.cli("user", "create", f"x-{secrets.token_hex(3)}", creds=(nobody.access_key_id, nobody.access_key_secret))
    assert "NoPermission" in e.value.stderr


# -- STS -------------------------------------------------------------------------------------


def sts_bucket(coffer, bucket_name: str, creds: dict, version: str = "v1") -> oss2.Bucket:
    auth = oss2.StsAuth(
        creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"], auth_version=version
    )
    return oss2.Bucket(auth, coffer.endpoint, bucket_name, connect_timeout=CLIENT_TIMEOUT_S, region=REGION)


@pytest.fixture
def reader_role(ram, bucket_name, tmp_path) -> dict:
    role = ram.role(tmp_path)
    ram.policy(
        [allow(["oss:GetObject", "oss:PutObject"], [objects_of(bucket_name)])], tmp_path, role=role["RoleName"]
    )
    return role


def test_sts_credentials_work_with_every_client_form(coffer, ram, bucket, bucket_name, reader_role):
    bucket.put_object("k", b"via sts")
    creds = ram.assume(reader_role["Arn"])
    assert creds["AccessKeyId"].startswith("STS.")
    assert creds["Expiration"].endswith("Z")
    for version in ["v1", "v4"]:
        sb = sts_bucket(coffer, bucket_name, creds, version)
        assert sb.get_object("k").read() == b"via sts"
        sb.put_object(f"by-{version}", version.encode())
        refused(lambda: sb.list_objects_v2())  # the role has no ListObjects
        refused(lambda: sb.delete_object("k"))
        # Presigned URLs carry the token: security-token (V1) / x-oss-security-token (V4).
        url = sb.sign_url("GET", "k", 300)
        assert ("security-token=" in url) and requests.get(url, timeout=CLIENT_TIMEOUT_S).content == b"via sts"
    assert bucket.get_object("by-v4").read() == b"v4"
    assert bucket.get_object("k").read() == b"via sts"

    config = oss.config.load_default()
    config.credentials_provider = oss.credentials.StaticCredentialsProvider(
        creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"]
    )
    config.region = REGION
    config.endpoint = coffer.endpoint
    client = oss.Client(config)
    got = client.get_object(oss.GetObjectRequest(bucket=bucket_name, key="k"))
    assert got.body.read() == b"via sts"
    with pytest.raises(oss.exceptions.OperationError) as e:
        client.delete_object(oss.DeleteObjectRequest(bucket=bucket_name, key="k"))
    assert v2_service_error(e).code == "AccessDenied"


def test_sts_keys_need_their_own_token(coffer, ram, bucket, bucket_name, reader_role):
    bucket.put_object("k", b"x")
    creds = ram.assume(reader_role["Arn"])
    other = ram.assume(reader_role["Arn"])
    tokenless = oss2.Bucket(
        oss2.Auth(creds["AccessKeyId"], creds["AccessKeySecret"]), coffer.endpoint, bucket_name, region=REGION
    )
    refused(lambda: tokenless.get_object("k"), "InvalidSecurityToken")
    swapped = dict(creds, SecurityToken=other["SecurityToken"])
    refused(lambda: sts_bucket(coffer, bucket_name, swapped).get_object("k"), "InvalidSecurityToken")
    forged = dict(creds, SecurityToken=creds["SecurityToken"][:-6] + "AAAAAA")
    refused(lambda: sts_bucket(coffer, bucket_name, forged, "v4").get_object("k"), "InvalidSecurityToken")


def test_a_session_policy_narrows_the_role(coffer, ram, bucket, bucket_name, reader_role, tmp_path):
    bucket.put_object("k", b"x")
    session = tmp_path / "session.json"
    session.write_text(
        json.dumps({"Version": "1", "Statement": [allow("oss:GetObject", [objects_of(bucket_name)])]})
    )
    creds = ram.assume(reader_role["Arn"], "--policy", str(session), "--duration", "900")
    sb = sts_bucket(coffer, bucket_name, creds, "v4")
    assert sb.get_object("k").read() == b"x"
    refused(lambda: sb.put_object("k", b"changed"))  # the role may, the session may not
    assert bucket.get_object("k").read() == b"x"


def test_deleting_the_role_revokes_its_sessions(coffer, ram, bucket, bucket_name, reader_role):
    bucket.put_object("k", b"x")
    creds = ram.assume(reader_role["Arn"])
    sb = sts_bucket(coffer, bucket_name, creds)
    assert sb.get_object("k").read() == b"x"
    # A role with attached policies is deleted with its attachments.
    ram.cli("role", "delete", reader_role["RoleName"])
    refused(lambda: sb.get_object("k"), "InvalidSecurityToken")


def test_assume_role_checks_trust_and_parameters(ram, tmp_path):
    u = ram.user("assumer")
    trust_other = {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [f"acs:ram::{ram.account_id}:user/nobody"]}}
        ],
    }
    role = ram.role(tmp_path, trust=trust_other)
    ram.policy([allow("sts:AssumeRole", "*")], tmp_path, user=u.name)
    creds = (u.access_key_id, u.access_key_secret)
    with pytest.raises(CliError) as e:
        ram.cli("sts", "assume-role", "--role-arn", role["Arn"], "--session-name", "s1", creds=creds)
    assert "NoPermission" in e.value.stderr
    with pytest.raises(CliError) as e:
        ram.assume(role["Arn"], "--duration", "60")
    assert "InvalidParameter.DurationSeconds" in e.value.stderr
    with pytest.raises(CliError) as e:
        ram.assume(f"acs:ram::{ram.account_id}:role/no-such-role")
    assert "EntityNotExist.Role" in e.value.stderr


def test_expired_sts_credentials_are_refused(tmp_path):
    """A server of its own that may issue zero-length sessions: credentials expired on arrival."""
    server = CofferServer.create(tmp_path / "expiry")
    previous = os.environ.get("COFFER_STS_MIN_SESSION_SECONDS")
    os.environ["COFFER_STS_MIN_SESSION_SECONDS"] = "0"
    try:
        server.start()
    finally:
        if previous is None:
            del os.environ["COFFER_STS_MIN_SESSION_SECONDS"]
        else:
            os.environ["COFFER_STS_MIN_SESSION_SECONDS"] = previous
    try:
        endpoint = admin_endpoint(server)
        if endpoint is None:
            pytest.skip("the binary does not serve the admin API")
        ram = Ram(server, endpoint)
        name = unique_bucket_name("exp")
        root = oss2_bucket_for(server, name)
        root.create_bucket()
        root.put_object("k", b"x")
        role = ram.role(tmp_path)
        ram.policy([allow("oss:*", "*")], tmp_path, role=role["RoleName"])
        creds = ram.assume(role["Arn"], "--duration", "0")
        for version in ["v1", "v4"]:
            sb = sts_bucket(server, name, creds, version)
            refused(lambda: sb.get_object("k"), "SecurityTokenExpired")
            refused(lambda: sb.put_object("k", b"changed"), "SecurityTokenExpired")
        assert root.get_object("k").read() == b"x"
        live = ram.assume(role["Arn"], "--duration", "3600")
        assert sts_bucket(server, name, live).get_object("k").read() == b"x"
    finally:
        assert server.stop() == 0, server.log_tail()


# -- the KMS API under RAM and STS -------------------------------------------------------------


def _kms_list_keys(coffer, access_key_id: str, secret: str, token: str | None = None) -> dict:
    from aliyunsdkcore.auth.credentials import StsTokenCredential
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkkms.request.v20160120 import ListKeysRequest

    if token:
        client = AcsClient(region_id=REGION, credential=StsTokenCredential(access_key_id, secret, token), auto_retry=False)
    else:
        client = AcsClient(access_key_id, secret, REGION, auto_retry=False)
    req = ListKeysRequest.ListKeysRequest()
    req.set_endpoint(coffer.kms_endpoint)
    req.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(req))


def test_kms_api_needs_kms_permissions_and_accepts_sts_tokens(coffer, ram, tmp_path):
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    if not coffer.kms_port:
        pytest.skip("the binary does not serve the KMS API")
    u = ram.user("kmsapi")
    with pytest.raises(ServerException) as e:
        _kms_list_keys(coffer, u.access_key_id, u.access_key_secret)
    assert e.value.get_error_code() == "Forbidden.NoPermission"
    ram.policy([allow("kms:ListKeys", [f"acs:kms:*:{ram.account_id}:key/*"])], tmp_path, user=u.name)
    assert "Keys" in _kms_list_keys(coffer, u.access_key_id, u.access_key_secret)

    role = ram.role(tmp_path)
    ram.policy([allow("kms:ListKeys", ["*"])], tmp_path, role=role["RoleName"])
    creds = ram.assume(role["Arn"])
    assert "Keys" in _kms_list_keys(coffer, creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    with pytest.raises(ServerException):
        _kms_list_keys(coffer, creds["AccessKeyId"], creds["AccessKeySecret"], "CAES" + "x" * 40)


def test_kms_api_grants_scoped_to_one_key(coffer, ram, tmp_path, cmk):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkkms.request.v20160120 import CreateKeyRequest, DescribeKeyRequest

    root = AcsClient(coffer.access_key_id, coffer.access_key_secret, REGION, auto_retry=False)

    def send(client, req):
        req.set_endpoint(coffer.kms_endpoint)
        req.set_protocol_type("http")
        return json.loads(client.do_action_with_exception(req))

    other = send(root, CreateKeyRequest.CreateKeyRequest())["KeyMetadata"]["KeyId"]
    u = ram.user("kmsone")
    ram.policy([allow("kms:DescribeKey", [key_arn(ram, cmk)])], tmp_path, user=u.name)
    client = AcsClient(u.access_key_id, u.access_key_secret, REGION, auto_retry=False)

    def describe(key_id):
        req = DescribeKeyRequest.DescribeKeyRequest()
        req.set_KeyId(key_id)
        return send(client, req)

    assert describe(cmk)["KeyMetadata"]["KeyId"] == cmk
    with pytest.raises(ServerException) as e:
        describe(other)
    assert e.value.get_error_code() == "Forbidden.NoPermission"


def test_bucket_subresources_need_their_own_actions(coffer, ram, bucket, bucket_name, version, tmp_path):
    from oss2.models import BucketCors, BucketLifecycle, CorsRule, LifecycleExpiration, LifecycleRule

    u = ram.user("subres")
    ram.policy(
        [allow(["oss:PutBucketCors", "oss:GetBucketTagging", "oss:PutBucketLifecycle"], [the_bucket(bucket_name)])],
        tmp_path,
        user=u.name,
    )
    ub = u.bucket(coffer, bucket_name, version)
    cors = BucketCors([CorsRule(allowed_origins=["*"], allowed_methods=["GET"])])
    ub.put_bucket_cors(cors)
    assert bucket.get_bucket_cors().rules[0].allowed_origins == ["*"]
    refused(lambda: ub.get_bucket_cors())
    refused(lambda: ub.delete_bucket_cors())
    tags = oss2.models.TaggingRule()
    tags.add("a", "1")
    refused(lambda: ub.put_bucket_tagging(oss2.models.Tagging(tags)))
    bucket.put_bucket_tagging(oss2.models.Tagging(tags))
    assert dict(ub.get_bucket_tagging().tag_set.tagging_rule) == {"a": "1"}
    refused(lambda: ub.delete_bucket_tagging())
    rule = LifecycleRule("r", "x/", status=LifecycleRule.ENABLED, expiration=LifecycleExpiration(days=1))
    ub.put_bucket_lifecycle(BucketLifecycle([rule]))
    refused(lambda: ub.get_bucket_lifecycle())
    refused(lambda: ub.delete_bucket_lifecycle())
    assert [r.id for r in bucket.get_bucket_lifecycle().rules] == ["r"]
