"""S3 operations beyond the basics, with boto3: ListMultipartUploads, UploadPartCopy, bucket
encryption in the S3 shape (the same rule the OSS API sets), conditionals on GET/HEAD/PUT/copy and
the ListObjects options (start-after, fetch-owner, encoding-type)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import botocore
import oss2
import pytest

from sdkutil import oss2_bucket_for, random_bytes
from test_s3_basic import error_code, s3_client
from test_sse_kms import cmk, kms_client  # noqa: F401  (fixtures)

MIB = 1024 * 1024


@pytest.fixture
def s3(coffer):
    return s3_client(coffer)


def client_error(fn, **kw) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value


# -- multipart -------------------------------------------------------------------------------


def test_list_multipart_uploads_with_prefix_delimiter_and_pages(s3, bucket_name):
    ids = {}
    for key in ["a/1", "a/2", "b", "c d", "c d"]:
        up = s3.create_multipart_upload(Bucket=bucket_name, Key=key)
        ids.setdefault(key, []).append(up["UploadId"])
    listed = s3.list_multipart_uploads(Bucket=bucket_name)
    got = [(u["Key"], u["UploadId"]) for u in listed["Uploads"]]
    assert sorted(got) == sorted((k, i) for k, v in ids.items() for i in v)
    assert listed["IsTruncated"] is False
    assert all(u["Initiated"].tzinfo is not None for u in listed["Uploads"])
    rolled = s3.list_multipart_uploads(Bucket=bucket_name, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/"]
    assert sorted(u["Key"] for u in rolled["Uploads"]) == ["b", "c d", "c d"]
    only_a = s3.list_multipart_uploads(Bucket=bucket_name, Prefix="a/")
    assert sorted(u["Key"] for u in only_a["Uploads"]) == ["a/1", "a/2"]
    # Pages of two, following the markers the server hands out, see every upload once.
    seen = []
    for page in s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket_name, PaginationConfig={"PageSize": 2}
    ):
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
    assert sorted(seen) == sorted(got) and len(seen) == len(got)
    # encoding-type=url: the keys come encoded.
    encoded = s3.list_multipart_uploads(Bucket=bucket_name, EncodingType="url")
    assert encoded["EncodingType"] == "url" and "c%20d" in {u["Key"] for u in encoded["Uploads"]}
    for key, uploads in ids.items():
        for upload_id in uploads:
            s3.abort_multipart_upload(Bucket=bucket_name, Key=key, UploadId=upload_id)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket_name)


def test_upload_part_copy_with_ranges_and_conditions(s3, bucket_name):
    source = random_bytes(7 * MIB + 333, seed=71)
    s3.put_object(Bucket=bucket_name, Key="src", Body=source, ServerSideEncryption="aws:kms")
    etag = s3.head_object(Bucket=bucket_name, Key="src")["ETag"]
    up = s3.create_multipart_upload(Bucket=bucket_name, Key="dst", ServerSideEncryption="AES256")
    first = s3.upload_part_copy(
        Bucket=bucket_name, Key="dst", UploadId=up["UploadId"], PartNumber=1,
        CopySource={"Bucket": bucket_name, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}",
        CopySourceIfMatch=etag,
    )
    assert first["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(source[: 5 * MIB]).hexdigest()
    s3.upload_part_copy(
        Bucket=bucket_name, Key="dst", UploadId=up["UploadId"], PartNumber=2,
        CopySource=f"{bucket_name}/src", CopySourceRange=f"bytes={5 * MIB}-{len(source) - 1}",
    )
    e = client_error(
        s3.upload_part_copy, Bucket=bucket_name, Key="dst", UploadId=up["UploadId"], PartNumber=3,
        CopySource=f"{bucket_name}/src", CopySourceIfMatch='"0123456789abcdef0123456789abcdef"',
    )
    assert e.response["Error"]["Code"] == "PreconditionFailed"
    e = client_error(
        s3.upload_part_copy, Bucket=bucket_name, Key="dst", UploadId=up["UploadId"], PartNumber=3,
        CopySource=f"{bucket_name}/src", CopySourceRange="bytes=5-",
    )
    assert e.response["Error"]["Code"] == "InvalidArgument"
    e = client_error(
        s3.upload_part_copy, Bucket=bucket_name, Key="dst", UploadId=up["UploadId"], PartNumber=3,
        CopySource=f"{bucket_name}/src", CopySourceRange=f"bytes=0-{len(source)}",
    )
    assert e.response["Error"]["Code"] == "InvalidArgument"
    e = client_error(
        s3.upload_part_copy, Bucket=bucket_name, Key="dst", UploadId="0" * 32, PartNumber=1,
        CopySource=f"{bucket_name}/src",
    )
    assert e.response["Error"]["Code"] == "NoSuchUpload"
    parts = s3.list_parts(Bucket=bucket_name, Key="dst", UploadId=up["UploadId"])["Parts"]
    s3.complete_multipart_upload(
        Bucket=bucket_name, Key="dst", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
    )
    got = s3.get_object(Bucket=bucket_name, Key="dst")
    assert got["Body"].read() == source and got["ServerSideEncryption"] == "AES256"


# -- bucket encryption -----------------------------------------------------------------------


def test_bucket_encryption_in_the_s3_shape_is_the_oss_rule(coffer, s3, bucket_name, cmk):  # noqa: F811
    e = client_error(s3.get_bucket_encryption, Bucket=bucket_name)
    assert e.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_encryption(
        Bucket=bucket_name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": cmk},
                       "BucketKeyEnabled": True}]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=bucket_name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": cmk}
    oss = oss2_bucket_for(coffer, bucket_name, "v4")
    oss_rule = oss.get_bucket_encryption()
    assert oss_rule.sse_algorithm == "KMS" and oss_rule.kms_master_keyid == cmk
    # New objects of either dialect take the default.
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"defaulted")
    head = s3.head_object(Bucket=bucket_name, Key="k")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == cmk
    # A rule the OSS API sets is read in the S3 shape.
    oss.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("AES256"))
    rule = s3.get_bucket_encryption(Bucket=bucket_name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    s3.delete_bucket_encryption(Bucket=bucket_name)
    assert client_error(s3.get_bucket_encryption, Bucket=bucket_name).response["Error"]["Code"] == (
        "ServerSideEncryptionConfigurationNotFoundError"
    )
    s3.put_object(Bucket=bucket_name, Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket_name, Key="plain")


def test_bucket_encryption_refusals(s3, bucket_name):
    def put(default):
        return client_error(
            s3.put_bucket_encryption, Bucket=bucket_name,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
        ).response["Error"]["Code"]

    assert put({"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}) == "InvalidArgument"
    assert put({"SSEAlgorithm": "aws:kms:dsse"}) == "NotImplemented"
    e = client_error(s3.get_bucket_encryption, Bucket=bucket_name)
    assert e.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"


# -- conditionals ----------------------------------------------------------------------------


def test_conditionals_on_get_and_head(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"conditional")
    head = s3.head_object(Bucket=bucket_name, Key="k")
    etag, modified = head["ETag"], head["LastModified"]
    before, after = modified - timedelta(hours=1), modified + timedelta(hours=1)
    assert s3.get_object(Bucket=bucket_name, Key="k", IfMatch=etag)["Body"].read() == b"conditional"

    def status(fn, **kw):
        try:
            return fn(Bucket=bucket_name, Key="k", **kw)["ResponseMetadata"]["HTTPStatusCode"]
        except botocore.exceptions.ClientError as e:
            return e.response["ResponseMetadata"]["HTTPStatusCode"]

    for fn in (s3.get_object, s3.head_object):
        assert status(fn, IfMatch='"0123456789abcdef0123456789abcdef"') == 412
        assert status(fn, IfNoneMatch=etag) == 304
        assert status(fn, IfNoneMatch='"0123456789abcdef0123456789abcdef"') == 200
        assert status(fn, IfModifiedSince=after) == 304
        assert status(fn, IfModifiedSince=before) == 200
        assert status(fn, IfUnmodifiedSince=before) == 412
        assert status(fn, IfUnmodifiedSince=after) == 200
        # RFC 9110 and S3: If-Match that holds overrides a failing If-Unmodified-Since, and
        # If-None-Match that fails overrides a passing If-Modified-Since.
        assert status(fn, IfMatch=etag, IfUnmodifiedSince=before) == 200
        assert status(fn, IfNoneMatch=etag, IfModifiedSince=before) == 304
    e = client_error(s3.get_object, Bucket=bucket_name, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert e.response["Error"]["Code"] == "PreconditionFailed"


def test_if_none_match_star_on_put_and_complete(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key="once", Body=b"first", IfNoneMatch="*")
    e = client_error(s3.put_object, Bucket=bucket_name, Key="once", Body=b"second", IfNoneMatch="*")
    assert e.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket_name, Key="once")["Body"].read() == b"first"
    up = s3.create_multipart_upload(Bucket=bucket_name, Key="once")
    part = s3.upload_part(Bucket=bucket_name, Key="once", UploadId=up["UploadId"], PartNumber=1, Body=b"mp")
    e = client_error(
        s3.complete_multipart_upload, Bucket=bucket_name, Key="once", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}, IfNoneMatch="*",
    )
    assert e.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket_name, Key="once")["Body"].read() == b"first"


def test_copy_conditions_on_source_dates_and_target(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key="src", Body=b"source")
    modified = s3.head_object(Bucket=bucket_name, Key="src")["LastModified"]
    src = {"Bucket": bucket_name, "Key": "src"}
    e = client_error(
        s3.copy_object, Bucket=bucket_name, Key="d", CopySource=src,
        CopySourceIfUnmodifiedSince=modified - timedelta(hours=1),
    )
    assert e.response["Error"]["Code"] == "PreconditionFailed"
    e = client_error(
        s3.copy_object, Bucket=bucket_name, Key="d", CopySource=src,
        CopySourceIfModifiedSince=modified + timedelta(hours=1),
    )
    assert e.response["Error"]["Code"] == "PreconditionFailed"
    s3.copy_object(
        Bucket=bucket_name, Key="d", CopySource=src, CopySourceIfModifiedSince=modified - timedelta(hours=1)
    )
    e = client_error(
        s3.copy_object, Bucket=bucket_name, Key="d", CopySource=src,
        CopySourceIfNoneMatch=s3.head_object(Bucket=bucket_name, Key="src")["ETag"],
    )
    assert e.response["Error"]["Code"] == "PreconditionFailed"


# -- listing options -------------------------------------------------------------------------


def test_list_objects_options(coffer, s3, bucket_name):
    keys = ["a+b", "dir/x y", "dir/z", "plain", "ü/ß"]
    for k in keys:
        s3.put_object(Bucket=bucket_name, Key=k, Body=b"1")
    # fetch-owner: v2 shows owners only when asked, v1 always.
    plain = s3.list_objects_v2(Bucket=bucket_name)
    assert all("Owner" not in o for o in plain["Contents"])
    owned = s3.list_objects_v2(Bucket=bucket_name, FetchOwner=True)
    assert all(o["Owner"]["ID"] for o in owned["Contents"])
    assert all(o["Owner"]["ID"] for o in s3.list_objects(Bucket=bucket_name)["Contents"])
    # start-after, and start-after ignored once a continuation token is given.
    after = s3.list_objects_v2(Bucket=bucket_name, StartAfter="dir/x y")
    assert [o["Key"] for o in after["Contents"]] == ["dir/z", "plain", "ü/ß"]
    assert after["StartAfter"] == "dir/x y"
    first = s3.list_objects_v2(Bucket=bucket_name, MaxKeys=2, StartAfter="a+b")
    assert [o["Key"] for o in first["Contents"]] == ["dir/x y", "dir/z"] and first["IsTruncated"]
    rest = s3.list_objects_v2(
        Bucket=bucket_name, ContinuationToken=first["NextContinuationToken"], StartAfter="zzz"
    )
    assert [o["Key"] for o in rest["Contents"]] == ["plain", "ü/ß"]
    # encoding-type=url: boto3 asks for it by default and decodes the keys again; asked for
    # explicitly, it leaves them encoded.
    v1 = s3.list_objects(Bucket=bucket_name, Delimiter="/")
    assert [o["Key"] for o in v1["Contents"]] == ["a+b", "plain"]
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["dir/", "ü/"]
    v1 = s3.list_objects(Bucket=bucket_name, Delimiter="/", EncodingType="url")
    assert [o["Key"] for o in v1["Contents"]] == ["a%2Bb", "plain"]
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["dir/", "%C3%BC/"]
    # Raw: the encoded form on the wire.
    raw = s3_client(coffer)
    raw.meta.events.register("before-parse.s3.ListObjectsV2", _keep_raw)
    raw.list_objects_v2(Bucket=bucket_name, EncodingType="url")
    assert "<Key>a%2Bb</Key>" in _keep_raw.body and "<Key>dir/x%20y</Key>" in _keep_raw.body
    assert "<Key>%C3%BC/%C3%9F</Key>" in _keep_raw.body
    e = client_error(s3.list_objects_v2, Bucket=bucket_name, EncodingType="base64")
    assert e.response["Error"]["Code"] == "InvalidArgument"
    # v1 pages: NextMarker with a delimiter; without one the client continues from the last key.
    seen = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=bucket_name, PaginationConfig={"PageSize": 2}):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == keys


def _keep_raw(response_dict, **_):
    _keep_raw.body = response_dict["body"].decode()


def test_unsupported_sub_resources_answer_not_implemented(s3, bucket_name):
    for call, kw in [
        (s3.get_bucket_versioning, {}),
        (s3.get_bucket_lifecycle_configuration, {}),
        (s3.get_object_lock_configuration, {}),
        (s3.get_object_retention, {"Key": "k"}),
        (s3.get_object_acl, {"Key": "k"}),
    ]:
        assert client_error(call, Bucket=bucket_name, **kw).response["Error"]["Code"] == "NotImplemented", call
