"""The S3 dialect with boto3: buckets, objects, listings, ranges, conditionals, presigned URLs,
errors, and the same data seen through the OSS API."""

from __future__ import annotations

import hashlib

import boto3
import botocore
import pytest
import requests
from botocore.config import Config

from sdkutil import unique_bucket_name


def s3_client(coffer, **config):
    return boto3.client(
        "s3",
        endpoint_url=coffer.s3_endpoint,
        aws_access_key_id=coffer.access_key_id,
        aws_secret_access_key=coffer.access_key_secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
    )


@pytest.fixture
def s3(coffer):
    return s3_client(coffer)


@pytest.fixture
def s3_bucket(bucket_name):
    """A fresh bucket (made and removed through the OSS API: the same buckets serve both)."""
    return bucket_name


def test_create_and_delete_bucket_through_s3(s3):
    name = unique_bucket_name("s3")
    s3.create_bucket(Bucket=name)
    s3.head_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["Error"]["Code"] == "404"


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_bucket_lifecycle_and_listing(s3, s3_bucket):
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3_bucket in names
    s3.head_bucket(Bucket=s3_bucket)
    assert s3.get_bucket_location(Bucket=s3_bucket)["LocationConstraint"] is None
    # Re-creating one's own bucket succeeds, as S3 does in us-east-1.
    s3.create_bucket(Bucket=s3_bucket)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket=unique_bucket_name())
    assert e.value.response["Error"]["Code"] == "404"


def test_put_get_head_delete_with_metadata(s3, s3_bucket):
    body = b"hello s3 " * 1000
    put = s3.put_object(
        Bucket=s3_bucket,
        Key="dir/a b.txt",
        Body=body,
        ContentType="text/plain",
        Metadata={"color": "blue"},
        CacheControl="no-cache",
    )
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    got = s3.get_object(Bucket=s3_bucket, Key="dir/a b.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"color": "blue"}
    assert got["CacheControl"] == "no-cache"
    head = s3.head_object(Bucket=s3_bucket, Key="dir/a b.txt")
    assert head["ContentLength"] == len(body)
    part = s3.get_object(Bucket=s3_bucket, Key="dir/a b.txt", Range="bytes=6-7")
    assert part["Body"].read() == b"s3" and part["ContentRange"] == f"bytes 6-7/{len(body)}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=s3_bucket, Key="dir/a b.txt", Range=f"bytes={len(body)}-")
    assert error_code(e) == "InvalidRange"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=s3_bucket, Key="dir/a b.txt", IfMatch='"0000"')
    assert error_code(e) == "PreconditionFailed"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=s3_bucket, Key="dir/a b.txt", Body=b"x", IfNoneMatch="*")
    assert error_code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket=s3_bucket, Key="dir/a b.txt")["Body"].read() == body
    s3.delete_object(Bucket=s3_bucket, Key="dir/a b.txt")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=s3_bucket, Key="dir/a b.txt")
    assert error_code(e) == "NoSuchKey"


def test_list_objects_v1_and_v2_with_delimiter_and_pages(s3, s3_bucket):
    keys = ["a/1", "a/2", "b/1", "c", "d"]
    for k in keys:
        s3.put_object(Bucket=s3_bucket, Key=k, Body=k.encode())
    top = s3.list_objects_v2(Bucket=s3_bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in top["Contents"]] == ["c", "d"]
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=s3_bucket, PaginationConfig={"PageSize": 2}
    ):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == keys
    v1 = s3.list_objects(Bucket=s3_bucket, Prefix="a/")
    assert [o["Key"] for o in v1["Contents"]] == ["a/1", "a/2"]
    after = s3.list_objects_v2(Bucket=s3_bucket, StartAfter="b/1")
    assert [o["Key"] for o in after["Contents"]] == ["c", "d"]


def test_presigned_get_and_expiry_limit(coffer, s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="p", Body=b"presigned")
    v2_url = s3.generate_presigned_url("get_object", Params={"Bucket": s3_bucket, "Key": "p"})
    r = requests.get(v2_url, timeout=10)
    assert r.status_code == 400 and b"Signature Version 4" in r.content, "SigV2 is refused"
    s3 = s3_client(coffer, signature_version="s3v4")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": s3_bucket, "Key": "p"}, ExpiresIn=60
    )
    assert requests.get(url, timeout=10).content == b"presigned"
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    r = requests.get(tampered, timeout=10)
    assert r.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.content
    assert r.headers["x-amz-request-id"]
    too_long = url.replace("X-Amz-Expires=60", "X-Amz-Expires=604801")
    r = requests.get(too_long, timeout=10)
    assert r.status_code == 400 and b"AuthorizationQueryParametersError" in r.content


def test_wrong_secret_and_unknown_key_are_refused(coffer, bucket_name):
    bad = boto3.client(
        "s3",
        endpoint_url=coffer.s3_endpoint,
        aws_access_key_id=coffer.access_key_id,
        aws_secret_access_key="wrong",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_buckets()
    assert error_code(e) == "SignatureDoesNotMatch"
    unknown = boto3.client(
        "s3",
        endpoint_url=coffer.s3_endpoint,
        aws_access_key_id="AKIDNOTKNOWN",
        aws_secret_access_key="x",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.list_buckets()
    assert error_code(e) == "InvalidAccessKeyId"
    anonymous = requests.get(f"{coffer.s3_endpoint}/", timeout=10)
    assert anonymous.status_code == 403 and b"<Code>AccessDenied</Code>" in anonymous.content


def test_signed_payload_is_checked_against_the_body(coffer, s3, s3_bucket):
    """A body that differs from its signed x-amz-content-sha256 is refused and stores nothing."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{coffer.s3_endpoint}/{s3_bucket}/signed"
    req = AWSRequest(method="PUT", url=url, data=b"the signed body")
    req.headers["x-amz-content-sha256"] = hashlib.sha256(b"the signed body").hexdigest()
    S3SigV4Auth(Credentials(coffer.access_key_id, coffer.access_key_secret), "s3", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    ok = requests.put(url, data=b"the signed body", headers=headers, timeout=10)
    assert ok.status_code == 200, ok.text
    # Signed for the first body (its hash), sent with another body of the same length.
    req = AWSRequest(method="PUT", url=url + "2", data=b"the signed body")
    S3SigV4Auth(Credentials(coffer.access_key_id, coffer.access_key_secret), "s3", "us-east-1").add_auth(req)
    bad = requests.put(url + "2", data=b"the signed bodY", headers=dict(req.headers.items()), timeout=10)
    assert bad.status_code == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in bad.content, bad.text
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=s3_bucket, Key="signed2")
    assert e.value.response["Error"]["Code"] == "404"


def test_unsupported_operations_answer_not_implemented(s3, s3_bucket):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_versioning(Bucket=s3_bucket)
    assert error_code(e) == "NotImplemented"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_replication(Bucket=s3_bucket)
    assert error_code(e) == "NotImplemented"


def test_objects_written_by_s3_are_read_by_oss_and_the_reverse(coffer, s3, s3_bucket):
    from sdkutil import oss2_bucket_for

    s3.put_object(Bucket=s3_bucket, Key="from-s3", Body=b"written by boto3", Metadata={"m": "1"})
    oss_bucket = oss2_bucket_for(coffer, s3_bucket, "v4")
    got = oss_bucket.get_object("from-s3")
    assert got.read() == b"written by boto3"
    assert got.headers["x-oss-meta-m"] == "1"
    oss_bucket.put_object("from-oss", b"written by oss2", headers={"x-oss-meta-n": "2"})
    back = s3.get_object(Bucket=s3_bucket, Key="from-oss")
    assert back["Body"].read() == b"written by oss2" and back["Metadata"] == {"n": "2"}


def test_multipart_upload_and_its_errors(coffer, s3, s3_bucket, tmp_path):
    from boto3.s3.transfer import TransferConfig

    data = bytes(range(256)) * (4096 * 3)  # 3 MiB
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    s3.upload_file(
        str(src), s3_bucket, "big", Config=TransferConfig(multipart_threshold=1 << 20, multipart_chunksize=1 << 20)
    )
    head = s3.head_object(Bucket=s3_bucket, Key="big")
    # boto3 raises the part size to S3's 5 MiB minimum: one part, still a multipart upload.
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=s3_bucket, Key="big")["Body"].read() == data

    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="m", Metadata={"x": "y"})["UploadId"]
    e1 = s3.upload_part(Bucket=s3_bucket, Key="m", UploadId=up, PartNumber=1, Body=b"a" * (5 << 20))["ETag"]
    e2 = s3.upload_part(Bucket=s3_bucket, Key="m", UploadId=up, PartNumber=2, Body=b"tail")["ETag"]
    parts = s3.list_parts(Bucket=s3_bucket, Key="m", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, e1, 5 << 20), (2, e2, 4)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=s3_bucket, Key="m", UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e2}, {"PartNumber": 2, "ETag": e2}]},
        )
    assert error_code(e) == "InvalidPart"
    done = s3.complete_multipart_upload(
        Bucket=s3_bucket, Key="m", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert done["ETag"].endswith('-2"')
    got = s3.get_object(Bucket=s3_bucket, Key="m")
    assert got["ContentLength"] == (5 << 20) + 4 and got["Metadata"] == {"x": "y"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=s3_bucket, Key="m", UploadId="0" * 32, PartNumber=1, Body=b"x")
    assert error_code(e) == "NoSuchUpload"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket=s3_bucket, Key="m", UploadId="not-an-id")
    assert error_code(e) == "NoSuchUpload"
    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="aborted")["UploadId"]
    s3.abort_multipart_upload(Bucket=s3_bucket, Key="aborted", UploadId=up)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket=s3_bucket, Key="aborted", UploadId=up)
    assert error_code(e) == "NoSuchUpload"


def test_malformed_complete_document_is_refused(coffer, s3, s3_bucket):
    up = s3.create_multipart_upload(Bucket=s3_bucket, Key="bad")["UploadId"]
    url = f"{coffer.s3_endpoint}/{s3_bucket}/bad?uploadId={up}"
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=url, data=b"<CompleteMultipartUpload><Part>")
    S3SigV4Auth(Credentials(coffer.access_key_id, coffer.access_key_secret), "s3", "us-east-1").add_auth(req)
    r = requests.post(url, data=b"<CompleteMultipartUpload><Part>", headers=dict(req.headers.items()), timeout=10)
    assert r.status_code == 400 and b"<Code>MalformedXML</Code>" in r.content, r.text
    s3.abort_multipart_upload(Bucket=s3_bucket, Key="bad", UploadId=up)


def test_delete_objects_reports_each_key(s3, s3_bucket):
    for k in ("a", "b"):
        s3.put_object(Bucket=s3_bucket, Key=k, Body=b"x")
    r = s3.delete_objects(
        Bucket=s3_bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "never-was"}]}
    )
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b", "never-was"]
    assert "Errors" not in r
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    quiet = s3.delete_objects(Bucket=s3_bucket, Delete={"Objects": [{"Key": "a"}], "Quiet": True})
    assert "Deleted" not in quiet


def test_copy_object_directives_and_conditions(s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="src", Body=b"copy me", Metadata={"a": "1"}, ContentType="text/x")
    etag = s3.head_object(Bucket=s3_bucket, Key="src")["ETag"]
    r = s3.copy_object(Bucket=s3_bucket, Key="dst one", CopySource={"Bucket": s3_bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == etag
    same = s3.get_object(Bucket=s3_bucket, Key="dst one")
    assert same["Body"].read() == b"copy me" and same["Metadata"] == {"a": "1"} and same["ContentType"] == "text/x"
    s3.copy_object(
        Bucket=s3_bucket, Key="dst2", CopySource=f"{s3_bucket}/src", MetadataDirective="REPLACE",
        Metadata={"b": "2"}, ContentType="text/y", ServerSideEncryption="AES256",
    )
    replaced = s3.head_object(Bucket=s3_bucket, Key="dst2")
    assert replaced["Metadata"] == {"b": "2"} and replaced["ServerSideEncryption"] == "AES256"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(
            Bucket=s3_bucket, Key="dst3", CopySource={"Bucket": s3_bucket, "Key": "src"},
            CopySourceIfMatch='"00000000000000000000000000000000"',
        )
    assert error_code(e) == "PreconditionFailed"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=s3_bucket, Key="dst3", CopySource={"Bucket": s3_bucket, "Key": "nope"})
    assert error_code(e) == "NoSuchKey"
