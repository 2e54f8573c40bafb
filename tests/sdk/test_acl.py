"""Canned ACLs of buckets and objects (Put/GetBucketAcl, Put/GetObjectAcl), and what they let
anonymous callers do beside RAM and bucket policies."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import oss2
import pytest

from sdkutil import CLIENT_TIMEOUT_S

SSE = "x-oss-server-side-encryption"


def anonymous_bucket(coffer, name: str) -> oss2.Bucket:
    return oss2.Bucket(oss2.AnonymousAuth(), coffer.endpoint, name, connect_timeout=CLIENT_TIMEOUT_S)


def refused(fn, code: str = "AccessDenied", status: int = 403) -> oss2.exceptions.ServerError:
    with pytest.raises(oss2.exceptions.ServerError) as e:
        r = fn()
        if hasattr(r, "read"):
            r.read()
    assert (e.value.status, e.value.code) == (status, code), e.value
    return e.value


def test_bucket_acl_round_trips_and_defaults_to_private(ob):
    assert ob.get_bucket_acl().acl == oss2.BUCKET_ACL_PRIVATE
    for acl in (oss2.BUCKET_ACL_PUBLIC_READ, oss2.BUCKET_ACL_PUBLIC_READ_WRITE, oss2.BUCKET_ACL_PRIVATE):
        ob.put_bucket_acl(acl)
        assert ob.get_bucket_acl().acl == acl
    assert ob.get_bucket_info().acl.grant == oss2.BUCKET_ACL_PRIVATE


def test_object_acl_round_trips_and_defaults_to_default(ob):
    ob.put_object("k", b"x")
    assert ob.get_object_acl("k").acl == oss2.OBJECT_ACL_DEFAULT
    before = ob.head_object("k")
    for acl in (oss2.OBJECT_ACL_PUBLIC_READ, oss2.OBJECT_ACL_PUBLIC_READ_WRITE, oss2.OBJECT_ACL_PRIVATE, oss2.OBJECT_ACL_DEFAULT):
        ob.put_object_acl("k", acl)
        assert ob.get_object_acl("k").acl == acl
    after = ob.head_object("k")
    # Changing the ACL changes neither data nor ETag nor Last-Modified.
    assert (after.etag, after.last_modified) == (before.etag, before.last_modified)
    assert ob.get_object("k").read() == b"x"


def test_bad_acl_requests_are_invalid_argument(raw, bucket, bucket_name):
    bucket.put_object("k", b"x")
    for target, header, value in [
        (None, "x-oss-acl", "public"),
        (None, "x-oss-acl", "default"),
        ("k", "x-oss-object-acl", "everyone"),
    ]:
        r = raw.request("PUT", bucket_name, target, query=[("acl", "")], headers={header: value})
        assert (r.status, r.code) == (400, "InvalidArgument"), (header, value, r)
    r = raw.request("PUT", bucket_name, None, query=[("acl", "")])
    assert (r.status, r.code) == (400, "InvalidArgument"), r
    r = raw.request("PUT", bucket_name, "missing", query=[("acl", "")], headers={"x-oss-object-acl": "private"})
    assert (r.status, r.code) == (404, "NoSuchKey"), r
    assert bucket.get_bucket_acl().acl == oss2.BUCKET_ACL_PRIVATE
    assert bucket.get_object_acl("k").acl == oss2.OBJECT_ACL_DEFAULT


def test_anonymous_access_follows_bucket_and_object_acls(coffer, bucket, bucket_name):
    anon = anonymous_bucket(coffer, bucket_name)
    bucket.put_object("k", b"data")
    refused(lambda: anon.get_object("k"))
    refused(lambda: anon.put_object("new", b"x"))
    refused(lambda: anon.get_bucket_acl())

    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert anon.get_object("k").read() == b"data"
    assert anon.head_object("k").content_length == 4
    refused(lambda: anon.put_object("new", b"x"))
    refused(lambda: anon.delete_object("k"))
    # An object's own ACL beats the bucket's.
    bucket.put_object_acl("k", oss2.OBJECT_ACL_PRIVATE)
    refused(lambda: anon.get_object("k"))
    bucket.put_object_acl("k", oss2.OBJECT_ACL_DEFAULT)
    assert anon.get_object("k").read() == b"data"

    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    anon.put_object("new", b"from anyone")
    assert bucket.get_object("new").read() == b"from anyone"
    # ACL management stays with the owner.
    refused(lambda: anon.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE))
    refused(lambda: anon.put_object_acl("k", oss2.OBJECT_ACL_PUBLIC_READ))

    bucket.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    refused(lambda: anon.get_object("k"))
    bucket.put_object_acl("k", oss2.OBJECT_ACL_PUBLIC_READ)
    assert anon.get_object("k").read() == b"data"
    refused(lambda: anon.get_object("new"))


def test_a_bucket_policy_deny_beats_a_public_acl(coffer, bucket, bucket_name):
    anon = anonymous_bucket(coffer, bucket_name)
    bucket.put_object("k", b"data", headers={"x-oss-object-acl": "public-read"})
    assert anon.get_object("k").read() == b"data"
    account = bucket.get_bucket_info().owner.id
    deny = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["oss:GetObject"],
                "Principal": ["*"],
                "Resource": [f"acs:oss:*:{account}:{bucket_name}/*"],
            }
        ],
    }
    bucket.put_bucket_policy(json.dumps(deny))
    refused(lambda: anon.get_object("k"))
    bucket.delete_bucket_policy()
    assert anon.get_object("k").read() == b"data"


@pytest.mark.parametrize("method", ["AES256", "SM4"])
def test_a_public_read_sse_oss_object_is_readable_anonymously_and_encrypted_at_rest(coffer, bucket, bucket_name, method):
    marker = secrets.token_hex(32).encode()
    data = marker * 64
    bucket.put_object("secret", data, headers={SSE: method, "x-oss-object-acl": "public-read"})
    anon = anonymous_bucket(coffer, bucket_name)
    got = anon.get_object("secret")
    assert got.read() == data
    assert got.headers[SSE] == method
    assert anon.get_object("secret", byte_range=(70, 199)).read() == data[70:200]
    if os.environ.get("COFFER_SDK_BLOB") == "s3":
        return  # the data lives in another store; its encryption is shown by test_sse.py
    for path in Path(coffer.data_dir).rglob("*"):
        if path.is_file():
            assert marker not in path.read_bytes(), f"plaintext found in {path}"


def test_acls_through_the_v2_sdk(v2c, bucket, bucket_name):
    import alibabacloud_oss_v2 as oss

    bucket.put_object("k", b"x")
    v2c.put_bucket_acl(oss.PutBucketAclRequest(bucket=bucket_name, acl="public-read"))
    got = v2c.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket_name))
    assert got.acl == "public-read"
    assert got.owner.id == bucket.get_bucket_info().owner.id
    assert v2c.get_object_acl(oss.GetObjectAclRequest(bucket=bucket_name, key="k")).acl == "default"
    v2c.put_object_acl(oss.PutObjectAclRequest(bucket=bucket_name, key="k", acl="private"))
    assert v2c.get_object_acl(oss.GetObjectAclRequest(bucket=bucket_name, key="k")).acl == "private"
    assert bucket.get_object_acl("k").acl == oss2.OBJECT_ACL_PRIVATE


def test_acl_with_another_method_does_not_fall_through(raw, bucket, bucket_name):
    bucket.put_object("k", b"x")
    r = raw.request("DELETE", bucket_name, "k", query=[("acl", "")])
    assert (r.status, r.code) == (405, "MethodNotAllowed"), r
    assert bucket.get_object("k").read() == b"x"
    bucket.delete_object("k")
    r = raw.request("DELETE", bucket_name, None, query=[("acl", "")])
    assert (r.status, r.code) == (405, "MethodNotAllowed"), r
    assert bucket.get_bucket_acl().acl == oss2.BUCKET_ACL_PRIVATE
