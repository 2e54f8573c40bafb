"""CopyObject (COPY/REPLACE, conditionals, self-copy, cross-bucket) and AppendObject."""

from __future__ import annotations

import email.utils
import re
import xml.etree.ElementTree as ET

import alibabacloud_oss_v2 as oss
import oss2
import pytest

from sdkutil import crc64, md5_hex_upper, oss2_bucket_for, random_bytes, unique_bucket_name, v2_service_error

TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z")


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


@pytest.fixture
def source(bucket):
    data = random_bytes(64 * 1024 + 1)
    bucket.put_object(
        "src/orig file+&.bin",
        data,
        headers={"Content-Type": "application/x-src", "x-oss-meta-color": "blue", "Cache-Control": "no-store"},
    )
    return "src/orig file+&.bin", data


# -- CopyObject ------------------------------------------------------------------------------


def test_copy_object_default_directive_copies_metadata(ob, bucket_name, source):
    key, data = source
    r = ob.copy_object(bucket_name, key, "dst/copy 1.bin")  # oss2 sends x-oss-copy-source with %2F
    assert r.status == 200
    got = ob.get_object("dst/copy 1.bin")
    assert got.read() == data
    assert got.content_type == "application/x-src"
    assert got.headers.get("x-oss-meta-color") == "blue"
    assert got.headers.get("Cache-Control") == "no-store"
    assert got.etag == md5_hex_upper(data)
    assert got.server_crc == crc64(data)
    # The source is untouched.
    assert ob.get_object(key).read() == data


def test_copy_response_carries_etag_header(bucket, bucket_name, source):
    """oss2 returns CopyObject/UploadPartCopy results as PutObjectResult: ETag from the header."""
    key, data = source
    r = bucket.copy_object(bucket_name, key, "etag-copy")
    assert r.etag == md5_hex_upper(data)


def test_copy_object_replace_directive_sets_new_metadata(bucket, bucket_name, source):
    key, data = source
    bucket.copy_object(
        bucket_name,
        key,
        "replaced",
        headers={
            "x-oss-metadata-directive": "REPLACE",
            "Content-Type": "text/x-new",
            "x-oss-meta-shape": "round",
        },
    )
    head = bucket.head_object("replaced")
    assert head.content_type == "text/x-new"
    assert head.headers.get("x-oss-meta-shape") == "round"
    assert "x-oss-meta-color" not in head.headers
    assert bucket.get_object("replaced").read() == data


def test_copy_object_across_buckets(coffer, bucket, bucket_name, source):
    key, data = source
    other = oss2_bucket_for(coffer, unique_bucket_name("cp"))
    other.create_bucket()
    try:
        other.copy_object(bucket_name, key, "x")
        assert other.get_object("x").read() == data
    finally:
        other.delete_object("x")
        other.delete_bucket()


def test_copy_object_with_v2_sdk_keeps_slash_in_copy_source(v2c, bucket, bucket_name, source):
    key, data = source
    r = v2c.copy_object(
        oss.CopyObjectRequest(bucket=bucket_name, key="v2/copied", source_bucket=bucket_name, source_key=key)
    )
    assert r.status_code == 200
    assert r.etag == f'"{md5_hex_upper(data)}"'
    assert r.hash_crc64 in (None, str(crc64(data)))
    assert bucket.get_object("v2/copied").read() == data


def test_copy_result_xml(raw, bucket_name, source):
    key, data = source
    r = raw.request("PUT", bucket_name, "xml-copy", headers={"x-oss-copy-source": f"/{bucket_name}/src/orig%20file%2B%26.bin"})
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.tag == "CopyObjectResult"
    assert root.findtext("ETag") == f'"{md5_hex_upper(data)}"'
    assert TIME_RE.fullmatch(root.findtext("LastModified"))


def test_copy_ignores_unknown_copy_source_prefixed_headers(raw, bucket, bucket_name, source):
    """ali-oss duplicates user headers as x-oss-copy-source-<name> (its lib/common/object/copyObject.js)."""
    key, data = source
    r = raw.request(
        "PUT",
        bucket_name,
        "ali-copy",
        headers={
            "x-oss-copy-source": f"/{bucket_name}/src%2Forig%20file%2B%26.bin",
            "x-oss-copy-source-x-oss-meta-color": "red",
            "x-oss-copy-source-cache-control": "no-cache",
        },
    )
    assert r.status == 200, r
    assert bucket.get_object("ali-copy").read() == data


def test_copy_source_if_match(bucket, bucket_name, source):
    key, data = source
    etag = bucket.head_object(key).etag
    bucket.copy_object(bucket_name, key, "m1", headers={"x-oss-copy-source-if-match": f'"{etag}"'})
    assert bucket.get_object("m1").read() == data
    with pytest.raises(oss2.exceptions.PreconditionFailed) as e:
        bucket.copy_object(bucket_name, key, "m2", headers={"x-oss-copy-source-if-match": '"0000"'})
    assert (e.value.status, e.value.code) == (412, "PreconditionFailed")
    assert not bucket.object_exists("m2")


def test_copy_source_if_none_match(bucket, bucket_name, source):
    key, _ = source
    etag = bucket.head_object(key).etag
    with pytest.raises(oss2.exceptions.NotModified) as e:
        bucket.copy_object(bucket_name, key, "n1", headers={"x-oss-copy-source-if-none-match": f'"{etag}"'})
    assert e.value.status == 304
    assert not bucket.object_exists("n1")
    bucket.copy_object(bucket_name, key, "n2", headers={"x-oss-copy-source-if-none-match": '"0000"'})
    assert bucket.object_exists("n2")


def test_copy_source_if_modified_and_unmodified_since(bucket, bucket_name, source):
    key, _ = source
    lm = bucket.head_object(key).last_modified
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.copy_object(bucket_name, key, "u1", headers={"x-oss-copy-source-if-unmodified-since": http_date(lm - 86400)})
    bucket.copy_object(bucket_name, key, "u2", headers={"x-oss-copy-source-if-unmodified-since": http_date(lm)})
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.copy_object(bucket_name, key, "s1", headers={"x-oss-copy-source-if-modified-since": http_date(lm)})
    bucket.copy_object(bucket_name, key, "s2", headers={"x-oss-copy-source-if-modified-since": http_date(lm - 86400)})
    assert sorted(k for k in ("u1", "u2", "s1", "s2") if bucket.object_exists(k)) == ["s2", "u2"]


def test_copy_conditionals_with_v2_sdk(v2, bucket_name, source):
    key, _ = source
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2.copy_object(
            oss.CopyObjectRequest(
                bucket=bucket_name, key="c", source_bucket=bucket_name, source_key=key, if_match='"nope"'
            )
        )
    err = v2_service_error(e)
    assert (err.status_code, err.code) == (412, "PreconditionFailed")


def test_self_copy_with_replace_changes_metadata(bucket, bucket_name, source):
    key, data = source
    before = bucket.head_object(key)
    bucket.copy_object(
        bucket_name,
        key,
        key,
        headers={"x-oss-metadata-directive": "REPLACE", "Content-Type": "text/x-self", "x-oss-meta-color": "green"},
    )
    after = bucket.head_object(key)
    assert after.content_type == "text/x-self"
    assert after.headers.get("x-oss-meta-color") == "green"
    assert after.etag == before.etag
    assert bucket.get_object(key).read() == data


def test_self_copy_without_change_is_rejected(bucket, bucket_name, source):
    key, data = source
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.copy_object(bucket_name, key, key)
    assert (e.value.status, e.value.code) == (400, "InvalidArgument")
    head = bucket.head_object(key)
    assert head.headers.get("x-oss-meta-color") == "blue"
    assert bucket.get_object(key).read() == data


def test_copy_missing_source_is_no_such_key(bucket, bucket_name):
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        bucket.copy_object(bucket_name, "missing", "dst")
    assert e.value.code == "NoSuchKey"


def test_copy_from_missing_bucket_is_no_such_bucket(bucket):
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        bucket.copy_object(unique_bucket_name("none"), "k", "dst")


def test_copy_of_multipart_object_keeps_content(bucket, bucket_name):
    upload_id = bucket.init_multipart_upload("mp").upload_id
    p1, p2 = random_bytes(100 * 1024), random_bytes(10)
    e1 = bucket.upload_part("mp", upload_id, 1, p1).etag
    e2 = bucket.upload_part("mp", upload_id, 2, p2).etag
    bucket.complete_multipart_upload("mp", upload_id, [oss2.models.PartInfo(1, e1), oss2.models.PartInfo(2, e2)])
    bucket.copy_object(bucket_name, "mp", "mp-copy")
    assert bucket.get_object("mp-copy").read() == p1 + p2


# -- AppendObject ----------------------------------------------------------------------------


def test_append_object_positions_and_crc(ob):
    chunks = [b"hello", b" ", random_bytes(70000), b"world"]
    position, crc, whole = 0, 0, b""
    for i, chunk in enumerate(chunks):
        # init_crc makes oss2 verify the whole-object CRC returned after each append.
        r = ob.append_object("app.log", position, chunk, init_crc=crc)
        whole += chunk
        assert r.next_position == len(whole)
        assert r.crc == crc64(whole)
        position, crc = r.next_position, r.crc
    got = ob.get_object("app.log")
    assert got.read() == whole
    # Ranges across append boundaries.
    for first, last in [(4, 6), (5, 5), (3, 70010), (len(whole) - 6, len(whole) - 1)]:
        assert ob.get_object("app.log", byte_range=(first, last)).read() == whole[first : last + 1]
    head = ob.head_object("app.log")
    assert head.object_type == "Appendable"
    assert head.content_length == len(whole)
    assert head.server_crc == crc64(whole)


def test_append_first_call_sets_metadata(bucket):
    bucket.append_object("a.txt", 0, b"1", headers={"x-oss-meta-k": "v"})
    bucket.append_object("a.txt", 1, b"2", headers={"x-oss-meta-k": "ignored", "Content-Type": "image/png"})
    head = bucket.head_object("a.txt")
    assert head.content_type == "text/plain"
    assert head.headers.get("x-oss-meta-k") == "v"


def test_append_at_wrong_position_reports_next_position(bucket):
    bucket.append_object("p", 0, b"12345")
    for bad in (0, 4, 6, 100):
        with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as e:
            bucket.append_object("p", bad, b"x")
        assert (e.value.status, e.value.code) == (409, "PositionNotEqualToLength")
        assert e.value.next_position == 5
    assert bucket.get_object("p").read() == b"12345"


def test_append_to_missing_object_at_non_zero_position(bucket):
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as e:
        bucket.append_object("new", 3, b"x")
    assert e.value.next_position == 0
    assert not bucket.object_exists("new")


def test_append_to_normal_object_is_not_appendable(bucket):
    bucket.put_object("normal", b"abc")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable) as e:
        bucket.append_object("normal", 3, b"d")
    assert (e.value.status, e.value.code) == (409, "ObjectNotAppendable")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        bucket.append_object("normal", 0, b"d")
    assert bucket.get_object("normal").read() == b"abc"


def test_put_over_appendable_object_replaces_it(bucket):
    bucket.append_object("ap", 0, b"appendable")
    bucket.put_object("ap", b"normal now")
    head = bucket.head_object("ap")
    assert head.object_type == "Normal"
    assert bucket.get_object("ap").read() == b"normal now"
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        bucket.append_object("ap", 10, b"!")


def test_append_etag_changes_after_each_append(bucket):
    e1 = bucket.append_object("et", 0, b"a").etag
    e2 = bucket.append_object("et", 1, b"b").etag
    assert e1 and e2 and e1 != e2
    assert bucket.head_object("et").etag == e2


def test_append_with_v2_sdk(v2c, bucket_name):
    r1 = v2c.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="v2app", position=0, body=b"abc"))
    assert r1.next_position == 3
    assert r1.hash_crc64 == str(crc64(b"abc"))
    r2 = v2c.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="v2app", position=3, body=b"def"))
    assert r2.next_position == 6
    assert r2.hash_crc64 == str(crc64(b"abcdef"))
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2c.append_object(oss.AppendObjectRequest(bucket=bucket_name, key="v2app", position=1, body=b"x"))
    err = v2_service_error(e)
    assert (err.status_code, err.code) == (409, "PositionNotEqualToLength")
    assert err.headers.get("x-oss-next-append-position") == "6"
    got = v2c.get_object(oss.GetObjectRequest(bucket=bucket_name, key="v2app"))
    assert got.body.read() == b"abcdef"
    assert got.object_type == "Appendable"


def test_v2_append_file(v2, bucket_name):
    with v2.append_file(bucket_name, "af") as f:
        f.write(b"one,")
        f.write(b"two,")
        f.write(random_bytes(1000))
    got = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="af")).body.read()
    assert got[:8] == b"one,two," and len(got) == 1008
