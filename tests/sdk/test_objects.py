"""Object operations: PutObject, GetObject (ranges, overrides, conditionals), HeadObject,
GetObjectMeta, DeleteObject, DeleteMultipleObjects."""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import http.client
import re
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import alibabacloud_oss_v2 as oss
import oss2
import pytest

import osssign
from osssign import content_md5
from sdkutil import crc64, md5_hex_upper, oss2_bucket_for, random_bytes, v2_service_error

# Keys that exercise URL encoding: oss2 sends '/' as %2F, v2 keeps it.
AWKWARD_KEYS = [
    "plain.txt",
    "dir/sub/file.bin",
    "sp ace/a b.txt",
    "plus+sign+.txt",
    "amp&eq=semi;.txt",
    "percent%20not-a-space%25.txt",
    "hash#question?.txt",
    "unicode/ñandú-中文-🙂.txt",
    "tilde~quote'dq\"<>.txt",
]

HTTP_DATE_RE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


# -- PutObject / GetObject round trips -------------------------------------------------------


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_put_get_head_round_trip_with_oss2(ob, key):
    data = random_bytes(3000)
    put = ob.put_object(key, data)
    assert put.status == 200
    assert put.etag == md5_hex_upper(data)
    assert put.crc == crc64(data)
    got = ob.get_object(key)
    assert got.read() == data
    head = ob.head_object(key)
    assert head.content_length == len(data)
    assert head.etag == put.etag
    assert head.object_type == "Normal"
    assert [o.key for o in oss2.ObjectIteratorV2(ob)] == [key]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_put_get_round_trip_with_v2_sdk(v2c, bucket_name, key):
    data = random_bytes(2048)
    put = v2c.put_object(oss.PutObjectRequest(bucket=bucket_name, key=key, body=data))
    assert put.status_code == 200
    assert put.etag == f'"{md5_hex_upper(data)}"'
    assert put.hash_crc64 == str(crc64(data))
    got = v2c.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
    assert got.body.read() == data
    assert got.content_length == len(data)
    assert got.hash_crc64 == str(crc64(data))


def test_put_response_headers(bucket):
    data = b"hello"
    put = bucket.put_object("h.txt", data)
    # Upper-case MD5 ETag, decimal CRC-64, Content-MD5 of the body (OSS API reference, "PutObject").
    assert put.headers["ETag"] == '"5D41402ABC4B2A76B9719D911017C592"'
    assert put.headers["x-oss-hash-crc64ecma"] == "11177612005948864433"
    assert put.headers["Content-MD5"] == content_md5(data)
    assert put.headers.get("x-oss-request-id")
    assert put.request_id == put.headers["x-oss-request-id"]


def test_empty_object(bucket, v2, bucket_name):
    put = bucket.put_object("empty", b"")
    assert put.etag == "D41D8CD98F00B204E9800998ECF8427E"
    assert put.headers["x-oss-hash-crc64ecma"] == "0"
    assert bucket.get_object("empty").read() == b""
    head = bucket.head_object("empty")
    assert head.content_length == 0
    got = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="empty"))
    assert got.body.read() == b""


def test_overwrite_replaces_content_and_metadata(bucket):
    bucket.put_object("o", b"first", headers={"x-oss-meta-v": "1"})
    bucket.put_object("o", b"second!", headers={"x-oss-meta-w": "2"})
    got = bucket.get_object("o")
    assert got.read() == b"second!"
    assert got.headers.get("x-oss-meta-w") == "2"
    assert "x-oss-meta-v" not in got.headers


def test_concurrent_overwrites_leave_one_complete_version(coffer, bucket_name):
    versions = [random_bytes(256 * 1024 + i) for i in range(8)]

    def put(data):
        return oss2_bucket_for(coffer, bucket_name).put_object("contended", data).etag

    with ThreadPoolExecutor(max_workers=8) as pool:
        etags = list(pool.map(put, versions))
    assert etags == [md5_hex_upper(v) for v in versions]
    b = oss2_bucket_for(coffer, bucket_name)
    got = b.get_object("contended").read()
    assert got in versions
    assert b.head_object("contended").etag == md5_hex_upper(got)
    assert [o.size for o in b.list_objects().object_list] == [len(got)]


@pytest.mark.parametrize(
    "key,content_type",
    [
        ("a.txt", "text/plain"),
        ("b.html", "text/html"),
        ("c.json", "application/json"),
        ("d.jpg", "image/jpeg"),
        ("e.no-such-extension", "application/octet-stream"),
    ],
)
def test_content_type_guessed_by_sdk_is_stored(bucket, key, content_type):
    bucket.put_object(key, b"x")
    assert bucket.head_object(key).content_type == content_type
    assert bucket.get_object(key).content_type == content_type


def test_explicit_content_type_and_standard_headers_are_stored(bucket):
    headers = {
        "Content-Type": "application/x-coffer-test",
        "Cache-Control": "no-cache",
        "Content-Disposition": 'attachment; filename="x.bin"',
        "Expires": "Thu, 01 Jan 2099 00:00:00 GMT",
    }
    bucket.put_object("std", b"x", headers=headers)
    got = bucket.get_object("std")
    for k, v in headers.items():
        assert got.headers.get(k) == v, k


def test_user_metadata_round_trip_lower_cased(bucket, v2, bucket_name):
    bucket.put_object(
        "meta", b"x", headers={"x-oss-meta-Author": "alice", "x-oss-meta-n": "1"}
    )
    head = bucket.head_object("meta")
    assert head.headers.get("x-oss-meta-author") == "alice"
    assert head.headers.get("x-oss-meta-n") == "1"
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="meta2", body=b"y", metadata={"k1": "v1", "k2": "v2"}))
    h2 = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="meta2"))
    assert dict(h2.metadata) == {"k1": "v1", "k2": "v2"}


def test_put_with_correct_content_md5(bucket):
    data = random_bytes(10000)
    put = bucket.put_object("md5ok", data, headers={"Content-MD5": content_md5(data)})
    assert put.etag == md5_hex_upper(data)


@pytest.mark.parametrize("bad_md5", [content_md5(b"something else"), "notbase64!!", "AAAA"])
def test_put_with_wrong_content_md5_is_invalid_digest_and_stores_nothing(bucket, bad_md5):
    with pytest.raises(oss2.exceptions.InvalidDigest) as e:
        bucket.put_object("md5bad", b"payload", headers={"Content-MD5": bad_md5})
    assert (e.value.status, e.value.code) == (400, "InvalidDigest")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("md5bad")


def test_wrong_content_md5_keeps_previous_version(bucket):
    bucket.put_object("keep", b"old")
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.put_object("keep", b"new", headers={"Content-MD5": content_md5(b"other")})
    assert bucket.get_object("keep").read() == b"old"


def test_forbid_overwrite(bucket):
    bucket.put_object("once", b"1")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_object("once", b"2", headers={"x-oss-forbid-overwrite": "true"})
    assert (e.value.status, e.value.code) == (409, "FileAlreadyExists")
    assert bucket.get_object("once").read() == b"1"
    bucket.put_object("fresh", b"3", headers={"x-oss-forbid-overwrite": "true"})


def _signed_v1_headers(raw, method: str, bucket_name: str, key: str, extra: dict[str, str]) -> dict[str, str]:
    headers = {"Date": osssign.http_date(dt.datetime.now(dt.timezone.utc)), **extra}
    sts = osssign.v1_string_to_sign(method, bucket_name, key, [], headers, headers["Date"])
    headers["Authorization"] = f"OSS {raw.access_key_id}:{osssign.v1_signature(raw.access_key_secret, sts)}"
    return headers


def test_a_refused_upload_leaves_the_connection_usable(raw, bucket, bucket_name):
    """The body of a refused PUT arrives after the server has already answered 409: the server
    reads and drops it, and the client's next request on the same connection works (oss2 and
    requests reuse keep-alive connections)."""
    bucket.put_object("once", b"1")
    conn = http.client.HTTPConnection(raw.host, raw.port, timeout=10)
    try:
        body = b"second"
        headers = _signed_v1_headers(
            raw, "PUT", bucket_name, "once", {"x-oss-forbid-overwrite": "true", "Content-Length": str(len(body))}
        )
        conn.putrequest("PUT", osssign.path_for(bucket_name, "once"), skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()  # the head alone; the body follows once the server has answered
        time.sleep(0.2)
        conn.send(body)
        resp = conn.getresponse()
        assert resp.status == 409, resp.read()
        resp.read()
        conn.putrequest("GET", osssign.path_for(bucket_name, "once"), skip_accept_encoding=True)
        for name, value in _signed_v1_headers(raw, "GET", bucket_name, "once", {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"1")
    finally:
        conn.close()


# -- GetObject: whole object with CRC, ranges ------------------------------------------------


@pytest.mark.parametrize("size", [1, 65537, 3 * 1024 * 1024 + 7])
def test_get_object_to_file_verifies_crc(ob, tmp_path, size):
    data = random_bytes(size)
    ob.put_object("big.bin", data)
    dest = tmp_path / "out.bin"
    result = ob.get_object_to_file("big.bin", str(dest))  # raises InconsistentError on CRC mismatch
    assert result.server_crc == crc64(data)
    assert dest.read_bytes() == data


def test_v2_get_object_to_file_verifies_crc(v2, bucket_name, tmp_path):
    data = random_bytes(2 * 1024 * 1024 + 3)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="v2big", body=data))
    dest = tmp_path / "v2.bin"
    v2.get_object_to_file(oss.GetObjectRequest(bucket=bucket_name, key="v2big"), str(dest))
    assert dest.read_bytes() == data


SIZE = 1000


@pytest.fixture
def thousand(bucket):
    data = random_bytes(SIZE)
    bucket.put_object("r.bin", data)
    return data


@pytest.mark.parametrize(
    "byte_range,header,first,last",
    [
        ((0, 0), "bytes=0-0", 0, 0),  # first byte
        ((SIZE - 1, SIZE - 1), "bytes=999-999", 999, 999),  # last byte
        ((0, 499), "bytes=0-499", 0, 499),
        ((None, 500), "bytes=-500", 500, 999),  # suffix
        ((None, 1), "bytes=-1", 999, 999),
        ((500, None), "bytes=500-", 500, 999),  # open-ended
        ((123, 456), "bytes=123-456", 123, 456),
    ],
)
@pytest.mark.parametrize("standard", [False, True], ids=["default", "standard"])
def test_single_range_is_206_and_exact(bucket, thousand, byte_range, header, first, last, standard):
    headers = {"x-oss-range-behavior": "standard"} if standard else None
    got = bucket.get_object("r.bin", byte_range=byte_range, headers=headers)
    assert got.status == 206
    assert got.headers["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    body = got.read()
    assert body == thousand[first : last + 1]
    assert got.content_length == last - first + 1


@pytest.mark.parametrize("byte_range", [(500, 2000), (1000, 2000), (1000, None), (5000, 6000)])
def test_range_past_end_returns_whole_object_by_default(bucket, thousand, byte_range):
    got = bucket.get_object("r.bin", byte_range=byte_range)
    assert got.status == 200
    assert "Content-Range" not in got.headers
    assert got.read() == thousand


def test_range_end_past_size_is_trimmed_with_standard_behavior(bucket, thousand):
    got = bucket.get_object("r.bin", byte_range=(500, 2000), headers={"x-oss-range-behavior": "standard"})
    assert got.status == 206
    assert got.headers["Content-Range"] == f"bytes 500-999/{SIZE}"
    assert got.read() == thousand[500:]


@pytest.mark.parametrize("byte_range", [(1000, 2000), (1000, None), (5000, 6000)])
def test_range_start_past_end_is_invalid_range_with_standard_behavior(bucket, thousand, byte_range):
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.get_object("r.bin", byte_range=byte_range, headers={"x-oss-range-behavior": "standard"})
    assert (e.value.status, e.value.code) == (416, "InvalidRange")
    # The server still serves the object afterwards.
    assert bucket.get_object("r.bin").read() == thousand


def test_malformed_range_is_ignored(bucket, thousand):
    got = bucket.get_object("r.bin", headers={"Range": "byte=0-1"})
    assert got.status == 200
    assert got.read() == thousand


def test_range_with_v2_sdk(v2, bucket_name, thousand):
    got = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="r.bin", range_header="bytes=10-19"))
    assert got.status_code == 206
    assert got.content_range == f"bytes 10-19/{SIZE}"
    assert got.body.read() == thousand[10:20]
    got = v2.get_object(
        oss.GetObjectRequest(bucket=bucket_name, key="r.bin", range_header="bytes=990-2000", range_behavior="standard")
    )
    assert got.status_code == 206
    assert got.body.read() == thousand[990:]


def test_range_of_multi_megabyte_object(bucket):
    data = random_bytes(5 * 1024 * 1024 + 11)
    bucket.put_object("mb", data)
    for first, last in [(0, 0), (1024 * 1024 - 1, 1024 * 1024), (len(data) - 1, len(data) - 1), (4_000_000, 5_000_000)]:
        got = bucket.get_object("mb", byte_range=(first, last))
        assert got.status == 206
        assert got.read() == data[first : last + 1]


def test_response_header_overrides(bucket, v2, bucket_name):
    bucket.put_object("ov.txt", b"override me")
    params = {
        "response-content-type": "application/x-override",
        "response-content-language": "de-CH",
        "response-expires": "Fri, 01 Jan 2100 00:00:00 GMT",
        "response-cache-control": "max-age=42",
        "response-content-disposition": 'attachment; filename="o v.txt"',
        "response-content-encoding": "identity",
    }
    got = bucket.get_object("ov.txt", params=dict(params))
    assert got.read() == b"override me"
    expect = {
        "Content-Type": "application/x-override",
        "Content-Language": "de-CH",
        "Expires": "Fri, 01 Jan 2100 00:00:00 GMT",
        "Cache-Control": "max-age=42",
        "Content-Disposition": 'attachment; filename="o v.txt"',
        "Content-Encoding": "identity",
    }
    for k, v in expect.items():
        assert got.headers.get(k) == v, k
    # Same through the v2 SDK (V4 signs every query parameter).
    r = v2.get_object(
        oss.GetObjectRequest(
            bucket=bucket_name,
            key="ov.txt",
            response_content_type="text/x-v2",
            response_content_disposition="inline",
        )
    )
    assert r.content_type == "text/x-v2"
    assert r.content_disposition == "inline"
    # Stored metadata is unchanged.
    assert bucket.head_object("ov.txt").content_type == "text/plain"


# -- conditionals ----------------------------------------------------------------------------


@pytest.fixture
def cond(bucket):
    data = b"conditional body"
    put = bucket.put_object("c.txt", data)
    head = bucket.head_object("c.txt")
    return data, put.etag, head.last_modified


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_match(bucket, cond, method):
    data, etag, _ = cond
    call = bucket.get_object if method == "get" else bucket.head_object
    assert call("c.txt", headers={"If-Match": f'"{etag}"'}).status == 200
    with pytest.raises(oss2.exceptions.PreconditionFailed) as e:
        call("c.txt", headers={"If-Match": '"0123456789ABCDEF0123456789ABCDEF"'})
    assert (e.value.status, e.value.code) == (412, "PreconditionFailed")


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_none_match(bucket, cond, method):
    data, etag, _ = cond
    call = bucket.get_object if method == "get" else bucket.head_object
    with pytest.raises(oss2.exceptions.NotModified) as e:
        call("c.txt", headers={"If-None-Match": f'"{etag}"'})
    assert e.value.status == 304
    assert call("c.txt", headers={"If-None-Match": '"0123456789ABCDEF0123456789ABCDEF"'}).status == 200


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_modified_since(bucket, cond, method):
    _, _, lm = cond
    call = bucket.get_object if method == "get" else bucket.head_object
    with pytest.raises(oss2.exceptions.NotModified):
        call("c.txt", headers={"If-Modified-Since": http_date(lm)})
    assert call("c.txt", headers={"If-Modified-Since": http_date(lm - 86400)}).status == 200


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_unmodified_since(bucket, cond, method):
    _, _, lm = cond
    call = bucket.get_object if method == "get" else bucket.head_object
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        call("c.txt", headers={"If-Unmodified-Since": http_date(lm - 86400)})
    assert call("c.txt", headers={"If-Unmodified-Since": http_date(lm)}).status == 200
    assert call("c.txt", headers={"If-Unmodified-Since": http_date(lm + 86400)}).status == 200


def test_conditionals_with_v2_sdk(v2, bucket_name, cond):
    data, etag, lm = cond
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c.txt", if_match='"nope"'))
    err = v2_service_error(e)
    assert (err.status_code, err.code) == (412, "PreconditionFailed")
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="c.txt", if_none_match=f'"{etag}"'))
    assert v2_service_error(e).status_code == 304
    r = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c.txt", if_match=f'"{etag}"'))
    assert r.body.read() == data


# -- HeadObject / GetObjectMeta --------------------------------------------------------------


def test_head_object_headers(bucket):
    data = random_bytes(777)
    bucket.put_object("head.bin", data, headers={"x-oss-meta-a": "b"})
    head = bucket.head_object("head.bin")
    assert head.status == 200
    assert head.content_length == 777
    assert head.etag == md5_hex_upper(data)
    assert head.object_type == "Normal"
    assert head.server_crc == crc64(data)
    assert head.headers["x-oss-hash-crc64ecma"] == str(crc64(data))
    assert head.headers.get("x-oss-storage-class") == "Standard"
    assert head.headers.get("x-oss-meta-a") == "b"
    assert HTTP_DATE_RE.fullmatch(head.headers["Last-Modified"]), head.headers["Last-Modified"]
    assert head.headers.get("Accept-Ranges") == "bytes"


def test_head_missing_key_raises_no_such_key_with_code(ob):
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        ob.head_object("missing")
    # The code comes from x-oss-err (HEAD has no body), which oss2 and v2 decode.
    assert (e.value.status, e.value.code) == (404, "NoSuchKey")
    assert e.value.request_id


def test_head_missing_key_with_v2_sdk(v2c, bucket_name):
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2c.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="missing"))
    err = v2_service_error(e)
    assert (err.status_code, err.code) == (404, "NoSuchKey")
    assert v2c.is_object_exist(bucket_name, "missing") is False


def test_get_missing_key_is_no_such_key(ob, v2, bucket_name):
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        ob.get_object("missing")
    assert e.value.code == "NoSuchKey"
    with pytest.raises(oss.exceptions.OperationError) as e2:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="missing"))
    assert v2_service_error(e2).code == "NoSuchKey"


def test_get_object_meta(bucket, v2, bucket_name):
    data = random_bytes(4321)
    put = bucket.put_object("gm", data)
    meta = bucket.get_object_meta("gm")
    assert meta.status == 200
    assert meta.content_length == 4321
    assert meta.etag == put.etag
    assert meta.last_modified == bucket.head_object("gm").last_modified
    assert bucket.object_exists("gm") is True
    assert bucket.object_exists("nope") is False
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        bucket.get_object_meta("nope")
    assert e.value.code == "NoSuchKey"
    m2 = v2.get_object_meta(oss.GetObjectMetaRequest(bucket=bucket_name, key="gm"))
    assert m2.content_length == 4321
    assert m2.etag == f'"{put.etag}"'


# -- DeleteObject / DeleteMultipleObjects -----------------------------------------------------


def test_delete_object(ob):
    ob.put_object("d", b"x")
    assert ob.delete_object("d").status == 204
    with pytest.raises(oss2.exceptions.NoSuchKey):
        ob.get_object("d")


def test_delete_missing_key_is_204(ob, v2, bucket_name):
    assert ob.delete_object("never-existed").status == 204
    r = v2.delete_object(oss.DeleteObjectRequest(bucket=bucket_name, key="never-existed"))
    assert r.status_code == 204


ESCAPE_KEYS = ["a&b", "c<d>e", "q'u\"o", "sp ace", "plus+", "ü/中", "%25", "semi;colon", "x/y/z"]


def test_delete_multiple_objects_not_quiet(bucket):
    for k in ESCAPE_KEYS:
        bucket.put_object(k, b"1")
    bucket.put_object("survivor", b"2")
    result = bucket.batch_delete_objects(ESCAPE_KEYS + ["does-not-exist"])
    assert sorted(result.deleted_keys) == sorted(ESCAPE_KEYS + ["does-not-exist"])
    assert [o.key for o in oss2.ObjectIteratorV2(bucket)] == ["survivor"]


def test_delete_multiple_objects_quiet_with_v2_sdk(v2, bucket, bucket_name):
    for k in ESCAPE_KEYS:
        bucket.put_object(k, b"1")
    r = v2.delete_multiple_objects(
        oss.DeleteMultipleObjectsRequest(
            bucket=bucket_name, objects=[oss.DeleteObject(key=k) for k in ESCAPE_KEYS], quiet=True
        )
    )
    assert r.status_code == 200
    assert not r.deleted_objects, "quiet mode lists only failures"
    assert list(oss2.ObjectIteratorV2(bucket)) == []


def test_delete_multiple_objects_v2_not_quiet_decodes_keys(v2, bucket, bucket_name):
    for k in ESCAPE_KEYS:
        bucket.put_object(k, b"1")
    r = v2.delete_multiple_objects(
        oss.DeleteMultipleObjectsRequest(bucket=bucket_name, objects=[oss.DeleteObject(key=k) for k in ESCAPE_KEYS])
    )
    assert sorted(d.key for d in r.deleted_objects) == sorted(ESCAPE_KEYS)


def test_delete_multiple_objects_raw_quiet_and_plain_keys(raw, bucket, bucket_name):
    for k in ["k1", "a&b", "c d"]:
        bucket.put_object(k, b"1")
    body = (
        "<?xml version='1.0' encoding='UTF-8'?><Delete><Quiet>true</Quiet>"
        "<Object><Key>k1</Key></Object><Object><Key>a&amp;b</Key></Object></Delete>"
    ).encode()
    r = raw.request("POST", bucket_name, query=[("delete", "")], body=body, headers={"Content-MD5": content_md5(body)})
    assert r.status == 200, r
    root = ET.fromstring(r.body) if r.body else None
    assert root is None or root.findall("Deleted") == []
    # Not quiet, no encoding-type: keys come back as plain XML text.
    body = "<Delete><Quiet>false</Quiet><Object><Key>c d</Key></Object></Delete>".encode()
    r = raw.request("POST", bucket_name, query=[("delete", "")], body=body, headers={"Content-MD5": content_md5(body)})
    assert r.status == 200, r
    assert [e.findtext("Key") for e in ET.fromstring(r.body).findall("Deleted")] == ["c d"]
    assert list(oss2.ObjectIteratorV2(bucket)) == []


def test_delete_multiple_objects_with_wrong_content_md5_is_invalid_digest(raw, bucket, bucket_name):
    bucket.put_object("k1", b"1")
    body = b"<Delete><Object><Key>k1</Key></Object></Delete>"
    r = raw.request(
        "POST", bucket_name, query=[("delete", "")], body=body, headers={"Content-MD5": content_md5(b"other")}
    )
    assert (r.status, r.code) == (400, "InvalidDigest"), r
    assert bucket.get_object("k1").read() == b"1"


def test_last_modified_and_etag_are_stable_across_reads(bucket):
    bucket.put_object("s", b"stable")
    a = bucket.head_object("s")
    b = bucket.get_object("s")
    assert (a.etag, a.last_modified) == (b.etag, b.last_modified)
    assert calendar.timegm(email.utils.parsedate(a.headers["Last-Modified"])) == a.last_modified

