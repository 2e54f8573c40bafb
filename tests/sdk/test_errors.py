"""Bad input sent raw (SDKs refuse most of it): each must get the exact OSS error code, and the
server must keep serving with earlier objects intact."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import oss2
import pytest

from osssign import content_md5
from sdkutil import md5_hex_upper, oss2_bucket_for, random_bytes, unique_bucket_name


@pytest.fixture
def sentinel(bucket):
    """An object written before the bad request; checked afterwards."""
    data = random_bytes(4096)
    bucket.put_object("sentinel/ok.bin", data)

    def check():
        assert bucket.get_object("sentinel/ok.bin").read() == data
        assert bucket.head_object("sentinel/ok.bin").etag == md5_hex_upper(data)
        bucket.put_object("sentinel/after.txt", b"still serving")
        assert bucket.get_object("sentinel/after.txt").read() == b"still serving"

    return check


def assert_error(r, status: int, code: str):
    assert (r.status, r.code) == (status, code), r
    if r.body:
        assert r.header("Content-Type").startswith("application/xml"), r.header("Content-Type")


# -- error document shape --------------------------------------------------------------------


def test_error_document_shape(raw, bucket_name):
    r = raw.request("GET", bucket_name, "no/such key")
    assert_error(r, 404, "NoSuchKey")
    root = ET.fromstring(r.body)
    assert root.tag == "Error"
    assert root.findtext("Message")
    assert root.findtext("RequestId") == r.header("x-oss-request-id")
    assert root.findtext("HostId") is not None
    assert r.header("Date"), "v2 needs Date on errors for clock-skew correction"


def test_head_error_has_base64_xml_in_x_oss_err(raw, bucket_name):
    r = raw.request("HEAD", bucket_name, "missing")
    assert r.status == 404
    assert r.body == b""
    err = r.header("x-oss-err")
    assert err, "HEAD errors must carry x-oss-err (oss2 and v2 take the code from it)"
    doc = ET.fromstring(base64.b64decode(err))
    assert doc.findtext("Code") == "NoSuchKey"


def test_no_such_bucket_document(raw):
    r = raw.request("GET", "no-such-bucket-coffer-test", "k")
    assert_error(r, 404, "NoSuchBucket")


# -- malformed XML ---------------------------------------------------------------------------

GARBAGE_BODIES = [
    b"this is not xml",
    b"<Delete><Object><Key>a</Key></Object>",  # unterminated
    b"<?xml version='1.0'?><Wrong><Object><Key>a</Key></Object></Wrong>",
    b"<Delete><Object><Kee>a</Kee></Object></Delete>",
]


@pytest.mark.parametrize("body", GARBAGE_BODIES, ids=range(len(GARBAGE_BODIES)))
def test_delete_multiple_malformed_xml(raw, bucket_name, sentinel, body):
    r = raw.request("POST", bucket_name, query=[("delete", "")], body=body, headers={"Content-MD5": content_md5(body)})
    assert_error(r, 400, "MalformedXML")
    sentinel()


COMPLETE_GARBAGE = [
    b"not xml at all",
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
    b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>\"A\"</ETag></Part></CompleteMultipartUpload>",
    b"<Wrong><Part><PartNumber>1</PartNumber><ETag>\"A\"</ETag></Part></Wrong>",
]


@pytest.mark.parametrize("body", COMPLETE_GARBAGE, ids=range(len(COMPLETE_GARBAGE)))
def test_complete_multipart_malformed_xml(raw, bucket, bucket_name, sentinel, body):
    upload_id = bucket.init_multipart_upload("mp").upload_id
    bucket.upload_part("mp", upload_id, 1, b"part")
    r = raw.request("POST", bucket_name, "mp", query=[("uploadId", upload_id)], body=body)
    assert_error(r, 400, "MalformedXML")
    # The upload is still usable.
    assert [p.part_number for p in bucket.list_parts("mp", upload_id).parts] == [1]
    sentinel()


def test_complete_multipart_with_no_parts_is_rejected(raw, bucket, bucket_name, sentinel):
    upload_id = bucket.init_multipart_upload("mp").upload_id
    bucket.upload_part("mp", upload_id, 1, b"part")
    r = raw.request(
        "POST", bucket_name, "mp", query=[("uploadId", upload_id)], body=b"<CompleteMultipartUpload></CompleteMultipartUpload>"
    )
    # Well-formed but empty: S3 says MalformedXML; InvalidPart is also a fair answer.
    assert r.status == 400 and r.code in ("MalformedXML", "InvalidPart"), r
    assert [p.part_number for p in bucket.list_parts("mp", upload_id).parts] == [1]
    sentinel()


def test_put_bucket_malformed_xml(raw, sentinel):
    r = raw.request("PUT", "coffer-malformed-xml-bucket", body=b"<CreateBucketConfiguration><StorageClass>")
    assert_error(r, 400, "MalformedXML")
    r = raw.request("GET", "coffer-malformed-xml-bucket", query=[("bucketInfo", "")])
    assert_error(r, 404, "NoSuchBucket")
    sentinel()


# -- invalid names ---------------------------------------------------------------------------

BAD_BUCKET_NAMES = ["ab", "a" * 64, "UpperCase", "under_score", "-leading", "trailing-", "dot.ted", "sp ace"]


@pytest.mark.parametrize("name", BAD_BUCKET_NAMES)
def test_invalid_bucket_name(raw, service, sentinel, name):
    r = raw.request("PUT", name)
    assert_error(r, 400, "InvalidBucketName")
    assert name not in [b.name for b in service.list_buckets(max_keys=1000).buckets]
    sentinel()


def test_bucket_name_limits_are_inclusive(raw):
    for name in ["abc", "a" * 63, "0-9"]:
        r = raw.request("PUT", name)
        assert r.status == 200, (name, r)
        r = raw.request("DELETE", name)
        assert r.status == 204, (name, r)


@pytest.mark.parametrize(
    "key,target_key",
    [
        ("a/../b", "a/../b"),  # literal dot segment
        ("..", ".."),
        ("a/..", "a/.."),
        ("a/../b", "a/%2E%2E/b"),  # encoded dots decode to the same key
        ("nul\x00byte", "nul%00byte"),
        ("k" * 1024, "k" * 1024),  # > 1023 bytes
        ("é" * 512, "%C3%A9" * 512),  # 1024 bytes of UTF-8
        ("/leading-slash", "%2Fleading-slash"),
        ("\\leading-backslash", "%5Cleading-backslash"),
    ],
    ids=["dotdot-mid", "dotdot-only", "dotdot-end", "dotdot-encoded", "nul", "1024-ascii", "1024-utf8", "slash", "backslash"],
)
def test_invalid_object_name(raw, bucket, bucket_name, sentinel, key, target_key):
    for method in ("PUT", "GET"):
        r = raw.request(method, bucket_name, key, body=b"x" if method == "PUT" else b"", target=f"/{bucket_name}/{target_key}")
        if method == "PUT":
            assert_error(r, 400, "InvalidObjectName")
        else:
            assert r.status in (400, 404), r
    assert [o.key for o in oss2.ObjectIteratorV2(bucket) if not o.key.startswith("sentinel/")] == []
    sentinel()


def test_longest_valid_key_is_accepted(raw, bucket, bucket_name):
    key = "k" * 1023
    r = raw.request("PUT", bucket_name, key, body=b"max")
    assert r.status == 200, r
    assert bucket.get_object(key).read() == b"max"
    assert [o.key for o in oss2.ObjectIteratorV2(bucket)] == [key]


def test_keys_with_dots_that_are_not_segments_are_fine(bucket):
    for key in ["a..b", "...", "a/.../b", ".hidden", "a/.x", "b./c", "c/d.."]:
        bucket.put_object(key, key.encode())
        assert bucket.get_object(key).read() == key.encode()


# -- invalid arguments -----------------------------------------------------------------------


@pytest.mark.parametrize("max_keys", ["1001", "-1", "abc", "99999999999999999999"])
@pytest.mark.parametrize("list_type", ["1", "2"])
def test_invalid_max_keys(raw, bucket_name, sentinel, max_keys, list_type):
    query = [("max-keys", max_keys)] + ([("list-type", "2")] if list_type == "2" else [])
    r = raw.request("GET", bucket_name, query=query)
    assert_error(r, 400, "InvalidArgument")
    sentinel()


@pytest.mark.parametrize("max_keys", ["0", "1001", "abc"])
def test_invalid_max_keys_for_list_buckets(raw, max_keys):
    r = raw.request("GET", None, query=[("max-keys", max_keys)])
    assert_error(r, 400, "InvalidArgument")


@pytest.mark.parametrize("part_number", ["0", "10001", "-1", "x"])
def test_invalid_part_number(raw, bucket, bucket_name, sentinel, part_number):
    upload_id = bucket.init_multipart_upload("pn").upload_id
    r = raw.request("PUT", bucket_name, "pn", query=[("partNumber", part_number), ("uploadId", upload_id)], body=b"x")
    assert_error(r, 400, "InvalidArgument")
    sentinel()


@pytest.mark.parametrize("position", ["-1", "abc", ""])
def test_invalid_append_position(raw, bucket, bucket_name, sentinel, position):
    r = raw.request("POST", bucket_name, "ap", query=[("append", ""), ("position", position)], body=b"x")
    assert_error(r, 400, "InvalidArgument")
    assert not bucket.object_exists("ap")
    sentinel()


def test_invalid_metadata_directive(raw, bucket, bucket_name, sentinel):
    bucket.put_object("src", b"x")
    r = raw.request(
        "PUT",
        bucket_name,
        "dst",
        headers={"x-oss-copy-source": f"/{bucket_name}/src", "x-oss-metadata-directive": "MERGE"},
    )
    assert_error(r, 400, "InvalidArgument")
    sentinel()


@pytest.mark.parametrize("source", ["", "/", "no-slash", "/bucket-only"])
def test_invalid_copy_source(raw, bucket_name, sentinel, source):
    r = raw.request("PUT", bucket_name, "dst", headers={"x-oss-copy-source": source})
    assert r.status in (400, 404), r
    assert r.code in ("InvalidArgument", "NoSuchKey", "NoSuchBucket", "InvalidObjectName", "InvalidBucketName"), r
    sentinel()


# -- unknown upload ids ----------------------------------------------------------------------

UNKNOWN = "0123456789ABCDEF0123456789ABCDEF"


@pytest.mark.parametrize(
    "method,query,body",
    [
        ("PUT", [("partNumber", "1"), ("uploadId", UNKNOWN)], b"x"),
        ("GET", [("uploadId", UNKNOWN)], b""),
        ("DELETE", [("uploadId", UNKNOWN)], b""),
        ("POST", [("uploadId", UNKNOWN)], b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"A\"</ETag></Part></CompleteMultipartUpload>"),
    ],
    ids=["upload-part", "list-parts", "abort", "complete"],
)
def test_unknown_upload_id_is_no_such_upload(raw, bucket_name, sentinel, method, query, body):
    r = raw.request(method, bucket_name, "k", query=query, body=body)
    assert_error(r, 404, "NoSuchUpload")
    sentinel()


def test_upload_id_from_another_bucket_is_no_such_upload(raw, bucket, bucket_name, coffer):
    other = oss2_bucket_for(coffer, unique_bucket_name("up"))
    other.create_bucket()
    try:
        upload_id = other.init_multipart_upload("k").upload_id
        r = raw.request("PUT", bucket_name, "k", query=[("partNumber", "1"), ("uploadId", upload_id)], body=b"x")
        assert_error(r, 404, "NoSuchUpload")
        other.abort_multipart_upload("k", upload_id)
    finally:
        other.delete_bucket()


# -- the server survives a burst of garbage ---------------------------------------------------


def test_garbage_requests_do_not_break_the_server(raw, coffer, bucket_name, sentinel):
    targets = [
        ("GET", "/%zz", {}),
        ("GET", f"/{bucket_name}/%", {}),
        ("GET", f"/{bucket_name}/?max-keys=%ff", {}),
        ("PUT", f"/{bucket_name}/x?partNumber=1", {}),
        ("BREW", f"/{bucket_name}/x", {}),
        ("GET", f"/{bucket_name}/x", {"Authorization": "OSS " + "A" * 10000 + ":sig"}),
        ("GET", f"/{bucket_name}/x", {"Range": "bytes=" + "9" * 100 + "-"}),
        ("GET", f"/{bucket_name}/x", {"x-oss-date": "not a date", "Authorization": "OSS a:b"}),
    ]
    for method, target, headers in targets:
        r = raw.send(method, target, {"Date": "Thu, 01 Jan 1970 00:00:00 GMT", **headers})
        assert 400 <= r.status < 500, (method, target, r)
        assert r.status != 500
        if r.body and method != "HEAD":
            assert re.search(rb"<Code>\w+</Code>", r.body), (method, target, r)
    sentinel()


# -- hostile shapes ---------------------------------------------------------------------------


def test_delete_multiple_nested_deep_is_malformed_xml(raw, bucket_name, sentinel):
    depth = 100_000
    # Unknown elements: serde would skip them and answer an empty, successful delete.
    body = b"<Delete>" + b"<a>" * depth + b"</a>" * depth + b"</Delete>"
    r = raw.request("POST", bucket_name, query=[("delete", "")], body=body, headers={"Content-MD5": content_md5(body)})
    assert_error(r, 400, "MalformedXML")
    sentinel()


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_list_parts_with_a_path_like_upload_id_is_no_such_upload(raw, bucket, bucket_name, sentinel, version):
    # oss2 signs the decoded sub-resource value (uploadId=../../../etc) and sends it encoded; the
    # server decodes before canonicalising, so both agree.
    r = raw.request("GET", bucket_name, "k", query=[("uploadId", "../../../etc")], sign=version)
    assert_error(r, 404, "NoSuchUpload")
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("k", "../../../etc")
    sentinel()


def test_recreating_a_bucket_with_another_storage_class_is_bucket_already_exists(raw, bucket, bucket_name, sentinel):
    body = b"<CreateBucketConfiguration><StorageClass>IA</StorageClass></CreateBucketConfiguration>"
    r = raw.request("PUT", bucket_name, body=body)
    assert_error(r, 409, "BucketAlreadyExists")
    assert bucket.get_bucket_info().storage_class == "Standard"
    sentinel()


@pytest.mark.parametrize("backtrace", ["0", "1"])
def test_a_start_error_is_one_clear_line(coffer, tmp_path, backtrace):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUST_")}
    env["RUST_BACKTRACE"] = backtrace
    busy = f"127.0.0.1:{coffer.port}"  # the running server holds it
    r = subprocess.run(
        [str(coffer.binary), "server", "--data-dir", str(tmp_path / "d"), "--listen", busy,
         "--kms-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("coffer: ")]
    assert len(errors) == 1, r.stderr
    assert busy in errors[0] and "in use" in errors[0], errors[0]
    if backtrace == "0":
        assert "backtrace" not in r.stderr.lower() and "Caused by" not in r.stderr, r.stderr
