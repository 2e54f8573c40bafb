"""One test per client quirk real SDKs depend on (observed in oss2, alibabacloud-oss-v2 and ali-oss)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import alibabacloud_oss_v2 as oss
import oss2
import pytest

from osssign import content_md5, http_date, uri_encode
from sdkutil import crc64, random_bytes, v2_service_error

TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z")
HTTP_DATE_RE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT")


def now():
    return dt.datetime.now(dt.timezone.utc)


def test_quirk01_bucket_from_host_header_on_ip_endpoint(raw, bucket, bucket_name):
    """ali-oss on an IP endpoint: Host bkt.oss-cn-hangzhou.aliyuncs.com, path /<key>."""
    vhost = f"{bucket_name}.oss-cn-hangzhou.aliyuncs.com"
    key = "vh/a b.txt"
    r = raw.request("PUT", bucket_name, key, body=b"vhost", headers={"Host": vhost}, target="/" + uri_encode(key, True))
    assert r.status == 200, r
    assert bucket.get_object(key).read() == b"vhost"
    r = raw.request("GET", bucket_name, key, headers={"Host": vhost}, target="/" + uri_encode(key, True))
    assert (r.status, r.body) == (200, b"vhost"), r
    # Bucket-level request: path "/".
    r = raw.request("GET", bucket_name, None, query=[("prefix", "vh/")], headers={"Host": vhost}, target="/?prefix=vh%2F")
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.findtext("Name") == bucket_name
    assert [c.findtext("Key") for c in root.findall("Contents")] == [key]
    # Service-level with an empty bucket label: ListBuckets.
    r = raw.request("GET", None, None, headers={"Host": ".oss-cn-hangzhou.aliyuncs.com"}, target="/")
    assert r.status == 200, r
    names = [b.findtext("Name") for b in ET.fromstring(r.body).iter("Bucket")]
    assert bucket_name in names


def test_quirk02_date_only_in_x_oss_date(raw, bucket, bucket_name):
    """oss2 V4 and ali-oss V1 send no Date header; x-oss-date is the request time."""
    bucket.put_object("d", b"ok")
    r = raw.request("GET", bucket_name, "d", sign="v4", date_header=False)
    assert (r.status, r.body) == (200, b"ok"), r
    r = raw.request("GET", bucket_name, "d", headers={"x-oss-date": http_date(now())}, date_header=False)
    assert (r.status, r.body) == (200, b"ok"), r
    skewed = http_date(now() - dt.timedelta(minutes=30))
    r = raw.request("GET", bucket_name, "d", headers={"x-oss-date": skewed}, date_header=False)
    assert (r.status, r.code) == (403, "RequestTimeTooSkewed"), r


def test_quirk03_encoded_slash_in_path_and_copy_source(raw, bucket, bucket_name):
    """Keys arrive with '/' as %2F (oss2) or as '/' (v2, ali-oss) in the path, and either way in x-oss-copy-source."""
    r = raw.request("PUT", bucket_name, "dir/a.txt", body=b"slash", target=f"/{bucket_name}/dir%2Fa.txt")
    assert r.status == 200, r
    r = raw.request("GET", bucket_name, "dir/a.txt")
    assert (r.status, r.body) == (200, b"slash"), r
    assert [o.key for o in oss2.ObjectIteratorV2(bucket)] == ["dir/a.txt"]
    for i, source in enumerate([f"/{bucket_name}/dir%2Fa.txt", f"/{bucket_name}/dir/a.txt"]):
        r = raw.request("PUT", bucket_name, f"copy{i}", headers={"x-oss-copy-source": source})
        assert r.status == 200, (source, r)
        assert bucket.get_object(f"copy{i}").read() == b"slash"


@pytest.mark.parametrize("form", ["bare", "equals"])
def test_quirk04_empty_subresources_with_or_without_equals(raw, bucket, bucket_name, form):
    """Empty sub-resources arrive as ?uploads= as well as ?uploads; both mean the same."""
    eq = "=" if form == "equals" else ""
    r = raw.request("POST", bucket_name, "mp", query=[("uploads", "")], target=f"/{bucket_name}/mp?uploads{eq}")
    assert r.status == 200, r
    upload_id = ET.fromstring(r.body).findtext("UploadId")
    assert upload_id
    bucket.abort_multipart_upload("mp", upload_id)

    r = raw.request(
        "POST", bucket_name, "ap", query=[("append", ""), ("position", "0")], body=b"app",
        target=f"/{bucket_name}/ap?append{eq}&position=0",
    )
    assert r.status == 200, r
    assert r.header("x-oss-next-append-position") == "3"

    body = b"<Delete><Quiet>true</Quiet><Object><Key>ap</Key></Object></Delete>"
    r = raw.request(
        "POST", bucket_name, query=[("delete", "")], body=body, headers={"Content-MD5": content_md5(body)},
        target=f"/{bucket_name}/?delete{eq}",
    )
    assert r.status == 200, r
    assert not bucket.object_exists("ap")

    r = raw.request("GET", bucket_name, query=[("bucketInfo", "")], target=f"/{bucket_name}/?bucketInfo{eq}")
    assert r.status == 200, r
    assert ET.fromstring(r.body).tag == "BucketInfo"


def test_quirk05_timestamp_formats(raw, bucket, bucket_name):
    """oss2 accepts XML times only as YYYY-MM-DDTHH:MM:SS.000Z and HTTP dates with a 2-digit day."""
    bucket.put_object("t", b"x")
    upload_id = bucket.init_multipart_upload("u").upload_id
    bucket.upload_part("u", upload_id, 1, b"p")
    checks = [
        (dict(bucket=None), "CreationDate"),
        (dict(bucket=bucket_name), "LastModified"),
        (dict(bucket=bucket_name, query=[("list-type", "2")]), "LastModified"),
        (dict(bucket=bucket_name, query=[("bucketInfo", "")]), "CreationDate"),
        (dict(bucket=bucket_name, query=[("uploads", "")]), "Initiated"),
        (dict(bucket=bucket_name, key="u", query=[("uploadId", upload_id)]), "LastModified"),
    ]
    for kwargs, element in checks:
        r = raw.request("GET", **kwargs)
        assert r.status == 200, (kwargs, r)
        values = [e.text for e in ET.fromstring(r.body).iter(element)]
        assert values, (kwargs, element)
        for v in values:
            assert TIME_RE.fullmatch(v), (kwargs, element, v)
    r = raw.request("GET", bucket_name, "t")
    assert HTTP_DATE_RE.fullmatch(r.header("Last-Modified")), r.header("Last-Modified")
    assert HTTP_DATE_RE.fullmatch(r.header("Date")), r.header("Date")
    # oss2 parses these with strict regexes; this raises on any other shape.
    assert bucket.list_objects().object_list[0].last_modified > 0
    assert bucket.head_object("t").last_modified > 0


def test_quirk06_crc64_is_exact_unsigned_decimal(bucket, v2, bucket_name):
    """x-oss-hash-crc64ecma is unsigned decimal with no padding: v2 compares the strings exactly."""
    # Find deterministic payloads whose CRC has the top bit set (would go negative if signed)
    # and whose CRC is small enough to have fewer than 20 digits.
    high = next(d for d in (random_bytes(64, seed=s) for s in range(1000)) if crc64(d) >= 1 << 63)
    low = next(d for d in (random_bytes(64, seed=s) for s in range(100000)) if crc64(d) < 10**18)
    for i, data in enumerate([high, low, b"", b"123456789"]):
        put = bucket.put_object(f"crc{i}", data)
        assert put.headers["x-oss-hash-crc64ecma"] == str(crc64(data))
        assert bucket.head_object(f"crc{i}").headers["x-oss-hash-crc64ecma"] == str(crc64(data))
        # v2 compares the strings exactly on put and on whole-object download.
        r = v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key=f"v2crc{i}", body=data))
        assert r.hash_crc64 == str(crc64(data))
    assert bucket.head_object("crc3").headers["x-oss-hash-crc64ecma"] == "11051210869376104954"


def test_quirk07_head_errors_carry_code_in_x_oss_err(coffer, bucket, v2, bucket_name):
    """HEAD errors have no body; oss2 and v2 take the code from base64 XML in x-oss-err."""
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        bucket.head_object("missing")
    assert e.value.code == "NoSuchKey"
    with pytest.raises(oss.exceptions.OperationError) as e2:
        v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="missing"))
    assert v2_service_error(e2).code == "NoSuchKey"
    with pytest.raises(oss2.exceptions.NoSuchBucket) as e:
        oss2.Bucket(bucket.auth, coffer.endpoint, "no-such-bucket-quirk7").head_object("k")
    assert e.value.code == "NoSuchBucket"
    bucket.put_object("k", b"x")
    with pytest.raises(oss2.exceptions.PreconditionFailed) as e:
        bucket.head_object("k", headers={"If-Match": '"nope"'})
    assert e.value.code == "PreconditionFailed"


def test_quirk08_required_xml_elements(raw, bucket, bucket_name):
    """XML elements oss2 fails without: Type, StorageClass per Contents, Next*Marker, Owner, Grant."""
    bucket.put_object("k", b"x")
    upload_id = bucket.init_multipart_upload("mp").upload_id

    r = raw.request("GET", None)
    for b in ET.fromstring(r.body).iter("Bucket"):
        for el in ("Name", "Location", "CreationDate", "ExtranetEndpoint", "IntranetEndpoint", "StorageClass"):
            assert b.find(el) is not None, ("ListBuckets", el)

    r = raw.request("GET", bucket_name, query=[("bucketInfo", "")])
    info = ET.fromstring(r.body).find("Bucket")
    for el in (
        "Name", "CreationDate", "StorageClass", "ExtranetEndpoint", "IntranetEndpoint", "Location",
        "Owner/DisplayName", "Owner/ID", "AccessControlList/Grant",
    ):
        assert info.find(el) is not None, ("GetBucketInfo", el)
    sse = info.find("ServerSideEncryptionRule")
    assert sse is None or sse.find("SSEAlgorithm") is not None

    r = raw.request("GET", bucket_name, query=[("list-type", "2")])
    for c in ET.fromstring(r.body).findall("Contents"):
        for el in ("Key", "LastModified", "ETag", "Type", "Size", "StorageClass"):
            assert c.find(el) is not None, ("ListObjectsV2", el)

    r = raw.request("GET", bucket_name, query=[("uploads", "")])
    root = ET.fromstring(r.body)
    for el in ("NextKeyMarker", "NextUploadIdMarker"):
        assert root.find(el) is not None, ("ListMultipartUploads", el)

    r = raw.request("GET", bucket_name, "mp", query=[("uploadId", upload_id)])
    assert ET.fromstring(r.body).find("NextPartNumberMarker") is not None, "ListParts"


def test_quirk09_both_v4_authorization_layouts(bucket_v4, v2, bucket_name):
    """oss2 writes V4 Authorization as 'Credential=…, Signature=…'; v2 as 'Credential=…,Signature=…'."""
    bucket_v4.put_object("layout", b"oss2 layout")  # "Credential=…, Signature=…"
    got = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="layout"))  # "Credential=…,Signature=…"
    assert got.body.read() == b"oss2 layout"


def test_quirk10_position_not_equal_to_length_has_next_position_header(raw, bucket, bucket_name):
    """409 PositionNotEqualToLength must carry x-oss-next-append-position, or oss2 raises KeyError."""
    bucket.append_object("ap", 0, b"1234567")
    r = raw.request("POST", bucket_name, "ap", query=[("append", ""), ("position", "2")], body=b"x")
    assert (r.status, r.code) == (409, "PositionNotEqualToLength"), r
    assert r.header("x-oss-next-append-position") == "7"
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as e:  # KeyError without the header
        bucket.append_object("ap", 2, b"x")
    assert e.value.next_position == 7
