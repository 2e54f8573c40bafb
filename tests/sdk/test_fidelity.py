"""Where coffer answered differently from OSS, as an application written against OSS sees it:
keys with control characters, raw UTF-8 metadata, V4 region errors, bucket encryption rules, SSE
headers where OSS ignores or refuses them, the endpoints buckets advertise, and how a
NotImplemented answer is logged."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import oss2
import pytest
import requests

from coffer_harness import CofferServer
from sdkutil import CLIENT_TIMEOUT_S, oss2_auth, oss2_bucket_for, oss2_service_for

SSE = "x-oss-server-side-encryption"
DATA_SSE = "x-oss-server-side-data-encryption"


def server_error(fn) -> oss2.exceptions.ServerError:
    with pytest.raises(oss2.exceptions.ServerError) as e:
        fn()
    return e.value


# -- 1. keys with control characters ----------------------------------------------------------


@pytest.mark.parametrize("key", ["form\x0cfeed", "\x01\x07", "dir/line\nbreak", "tab\tand\rreturn"])
def test_keys_with_control_characters_are_stored_and_listed_url_encoded(ob, key):
    ob.put_object(key, b"ctl")
    assert ob.get_object(key).read() == b"ctl"
    assert ob.head_object(key).content_length == 3
    # oss2's iterators ask for encoding-type=url and decode the names.
    assert [o.key for o in oss2.ObjectIteratorV2(ob)] == [key]
    assert [o.key for o in oss2.ObjectIterator(ob)] == [key]
    ob.copy_object(ob.bucket_name, key, key + "-copy")
    assert ob.get_object(key + "-copy").read() == b"ctl"
    # DeleteMultipleObjects carries keys as XML text, where a carriage return reads as a line
    # feed (XML end-of-line handling), as on OSS: delete one by one.
    ob.delete_object(key)
    ob.delete_object(key + "-copy")
    assert not ob.object_exists(key)
    assert list(oss2.ObjectIteratorV2(ob)) == []


def test_a_key_with_nul_is_still_refused(raw, bucket_name):
    r = raw.request("PUT", bucket_name, "nul\x00key", body=b"x", target=f"/{bucket_name}/nul%00key")
    assert (r.status, r.code) == (400, "InvalidObjectName"), r


# -- 2. raw UTF-8 in user metadata ------------------------------------------------------------


def test_raw_utf8_metadata_is_stored_and_returned_unchanged(ob):
    value = "中文 métadonnée ✓"
    # oss2 sends bytes values as they are (and signs those bytes); str values must be latin-1.
    ob.put_object("meta", b"m", headers={"x-oss-meta-note": value.encode("utf-8")})
    got = ob.head_object("meta").headers["x-oss-meta-note"]
    # http.client reads header bytes as latin-1: undo that to get the bytes OSS returned.
    assert got.encode("latin-1").decode("utf-8") == value
    meta = ob.get_object_meta("meta").headers
    assert "x-oss-meta-note" not in meta or meta["x-oss-meta-note"].encode("latin-1").decode("utf-8") == value
    ob.copy_object(ob.bucket_name, "meta", "meta-copy")
    copied = ob.get_object("meta-copy").headers["x-oss-meta-note"]
    assert copied.encode("latin-1").decode("utf-8") == value


def test_utf8_content_disposition_round_trips(bucket):
    disposition = 'attachment; filename="报告.pdf"'
    bucket.put_object("cd", b"x", headers={"Content-Disposition": disposition.encode("utf-8")})
    got = bucket.get_object("cd").headers["content-disposition"]
    assert got.encode("latin-1").decode("utf-8") == disposition


# -- 3. V4 region errors ----------------------------------------------------------------------


def test_v4_header_signature_for_another_region_is_invalid_argument(coffer, bucket_name):
    other = oss2.Bucket(oss2_auth(coffer, "v4"), coffer.endpoint, bucket_name, region="cn-beijing")
    e = server_error(lambda: other.get_object("x"))
    assert (e.status, e.code, e.ec) == (400, "InvalidArgument", "0002-00000226"), e
    assert e.message == "The signing region in credential is invalid."


def test_v4_presigned_url_with_an_empty_region_names_the_region(coffer, bucket, bucket_name):
    bucket.put_object("p", b"presigned")
    no_region = oss2.Bucket(oss2_auth(coffer, "v4"), coffer.endpoint, bucket_name, region="")
    url = no_region.sign_url("GET", "p", 60)
    assert "x-oss-credential=" in url
    r = requests.get(url, timeout=CLIENT_TIMEOUT_S)
    assert r.status_code == 400, r.text
    root = ET.fromstring(r.content)
    assert root.findtext("Code") == "InvalidArgument"
    assert root.findtext("Message") == "The signing region in credential is invalid."
    assert root.findtext("EC") == "0002-00000226"
    # The right region still works.
    good = oss2_bucket_for(coffer, bucket_name, "v4").sign_url("GET", "p", 60)
    assert requests.get(good, timeout=CLIENT_TIMEOUT_S).content == b"presigned"


# -- 4. PutBucketEncryption -------------------------------------------------------------------


def rule(algorithm: str, data: str | None = None) -> oss2.models.ServerSideEncryptionRule:
    r = oss2.models.ServerSideEncryptionRule()
    r.sse_algorithm = algorithm
    if data is not None:
        r.kms_data_encryption = data
    return r


def test_an_unknown_bucket_encryption_algorithm_is_invalid_encryption_algorithm(bucket):
    e = server_error(lambda: bucket.put_bucket_encryption(rule("DES")))
    assert (e.status, e.code) == (400, "InvalidEncryptionAlgorithmError"), e
    assert isinstance(e, oss2.exceptions.InvalidEncryptionAlgorithmError)
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        bucket.get_bucket_encryption()


@pytest.mark.parametrize("algorithm", ["AES256", "SM4"])
def test_kms_data_encryption_beside_an_oss_managed_algorithm_is_dropped(bucket, algorithm):
    bucket.put_bucket_encryption(rule(algorithm, "SM4"))
    got = bucket.get_bucket_encryption()
    assert got.sse_algorithm == algorithm
    assert not got.kms_data_encryption
    bucket.put_object("enc", b"x")
    assert bucket.head_object("enc").headers[SSE] == algorithm
    assert DATA_SSE not in bucket.head_object("enc").headers


def test_kms_data_encryption_other_than_sm4_under_kms_is_still_refused(bucket):
    e = server_error(lambda: bucket.put_bucket_encryption(rule("KMS", "AES")))
    assert (e.status, e.code) == (400, "InvalidArgument"), e


# -- 5. SSE headers where OSS ignores or refuses them -----------------------------------------


@pytest.mark.parametrize("method", ["AES256", "SM4"])
def test_data_encryption_header_beside_another_method_is_ignored(ob, method):
    ob.put_object("sse", b"data", headers={SSE: method, DATA_SSE: "SM4"})
    head = ob.head_object("sse").headers
    assert head[SSE] == method
    assert DATA_SSE not in head
    assert ob.get_object("sse").read() == b"data"


def test_a_later_append_keeps_the_first_appends_encryption(ob):
    first = ob.append_object("ap", 0, b"one,", headers={SSE: "AES256"})
    assert first.headers[SSE] == "AES256"
    later = ob.append_object("ap", first.next_position, b"two,", headers={SSE: "SM4"})
    ob.append_object("ap", later.next_position, b"three", headers={SSE: "KMS"})
    assert ob.get_object("ap").read() == b"one,two,three"
    assert ob.head_object("ap").headers[SSE] == "AES256"
    # An unencrypted appendable object stays unencrypted.
    plain = ob.append_object("plain", 0, b"a")
    ob.append_object("plain", plain.next_position, b"b", headers={SSE: "AES256"})
    assert SSE not in ob.head_object("plain").headers
    assert ob.get_object("plain").read() == b"ab"


@pytest.mark.parametrize("headers", [{SSE: "AES256"}, {SSE: "KMS"}, {DATA_SSE: "SM4"}])
def test_upload_part_with_sse_headers_is_invalid_argument(ob, headers):
    up = ob.init_multipart_upload("mp", headers={SSE: "AES256"})
    e = server_error(lambda: ob.upload_part("mp", up.upload_id, 1, b"part", headers=headers))
    assert (e.status, e.code) == (400, "InvalidArgument"), e
    assert ob.list_parts("mp", up.upload_id).parts == []
    # The same connection goes on: the refused body was read.
    part = ob.upload_part("mp", up.upload_id, 1, b"part")
    ob.complete_multipart_upload("mp", up.upload_id, [oss2.models.PartInfo(1, part.etag)])
    assert ob.get_object("mp").read() == b"part"
    assert ob.head_object("mp").headers[SSE] == "AES256"


# -- 6. the endpoints a bucket advertises ----------------------------------------------------


def test_buckets_advertise_the_address_coffer_listens_on(coffer, bucket, service):
    info = bucket.get_bucket_info()
    assert info.extranet_endpoint == coffer.address
    assert info.intranet_endpoint == coffer.address
    listed = {b.name: b for b in oss2.BucketIterator(service)}
    assert listed[bucket.bucket_name].extranet_endpoint == coffer.address
    assert listed[bucket.bucket_name].intranet_endpoint == coffer.address
    assert "aliyuncs.com" not in bucket.get_bucket_info().extranet_endpoint
    # A client that follows the advertised endpoint reaches this server.
    follow = oss2.Bucket(oss2_auth(coffer), "http://" + info.extranet_endpoint, bucket.bucket_name)
    follow.put_object("followed", b"here")
    assert bucket.get_object("followed").read() == b"here"


def test_public_endpoint_flag_is_what_buckets_advertise(tmp_path):
    server = CofferServer.create(tmp_path / "public")
    server.extra_args += ["--public-endpoint", "https://oss.example.test:8443/"]
    server.start()
    try:
        b = oss2_bucket_for(server, "advertised")
        b.create_bucket()
        assert b.get_bucket_info().extranet_endpoint == "oss.example.test:8443"
        assert b.get_bucket_info().intranet_endpoint == "oss.example.test:8443"
        listed = [x for x in oss2.BucketIterator(oss2_service_for(server)) if x.name == "advertised"]
        assert [x.extranet_endpoint for x in listed] == ["oss.example.test:8443"]
    finally:
        assert server.stop() == 0


# -- 8. NotImplemented is the client's request, not a server fault ------------------------------


def test_not_implemented_is_not_logged_as_an_error(coffer, bucket):
    e = server_error(lambda: bucket.get_bucket_referer())
    assert (e.status, e.code) == (501, "NotImplemented"), e
    lines = [line for line in coffer.log_path.read_text(errors="replace").splitlines() if e.request_id in line]
    assert lines, "the request has its log line"
    assert any("NotImplemented" in line for line in lines), lines
    assert not any("ERROR" in line for line in lines), lines
