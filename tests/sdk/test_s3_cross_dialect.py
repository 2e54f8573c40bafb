"""The same encrypted data through both dialects: oss2 writes under SSE-KMS (and SSE-OSS) and
boto3 reads with S3's headers, boto3 writes under SSE-KMS / SSE-S3 and oss2 reads with OSS's."""

from __future__ import annotations

import botocore
import pytest

from sdkutil import boto3_client_for, oss2_bucket_for, random_bytes
from test_sse_kms import cmk, kms_client  # noqa: F401  (fixtures)

SSE = "x-oss-server-side-encryption"
KEY_ID = "x-oss-server-side-encryption-key-id"


@pytest.fixture
def s3(coffer):
    return boto3_client_for(coffer)


def test_oss_sse_kms_object_is_read_by_boto3(coffer, s3, bucket_name, cmk):  # noqa: F811
    data = random_bytes(200_000, seed=31)
    oss_bucket = oss2_bucket_for(coffer, bucket_name, "v4")
    oss_bucket.put_object("kms", data, headers={SSE: "KMS", KEY_ID: cmk})
    oss_bucket.put_object("oss", data, headers={SSE: "AES256"})
    got = s3.get_object(Bucket=bucket_name, Key="kms")
    assert got["Body"].read() == data
    assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == cmk
    head = s3.head_object(Bucket=bucket_name, Key="oss")
    assert head["ServerSideEncryption"] == "AES256"


def test_boto3_sse_kms_and_sse_s3_objects_are_read_by_oss2(coffer, s3, bucket_name, cmk):  # noqa: F811
    data = random_bytes(120_000, seed=32)
    put = s3.put_object(
        Bucket=bucket_name, Key="kms", Body=data, ServerSideEncryption="aws:kms", SSEKMSKeyId=cmk,
        BucketKeyEnabled=True,
    )
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == cmk
    assert put["BucketKeyEnabled"] is True
    s3.put_object(Bucket=bucket_name, Key="s3", Body=data, ServerSideEncryption="AES256")
    oss_bucket = oss2_bucket_for(coffer, bucket_name, "v4")
    g = oss_bucket.get_object("kms")
    assert g.headers[SSE] == "KMS" and g.headers[KEY_ID] == cmk
    assert g.read() == data
    assert oss_bucket.get_object("s3").headers[SSE] == "AES256"


def test_encryption_forms_the_store_cannot_honour_are_refused(s3, bucket_name):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket_name, Key="d", Body=b"x", ServerSideEncryption="aws:kms:dsse")
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket_name, Key="d", Body=b"x", ServerSideEncryption="rot13")
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket_name, Key="d")
