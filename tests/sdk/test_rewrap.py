"""UpdateObjectEncryption: an object's data key wrapped anew under another key, in place, through
boto3 (the S3 dialect's operation) and coffer's OSS form of it (`PUT /key?encryption` with
`x-oss-server-side-encryption: KMS`). The data is not rewritten: the blob files stay byte for
byte, ETag, Last-Modified, metadata and tags stay; the object then depends on the new CMK only."""

from __future__ import annotations

import botocore
import oss2
import pytest
from aliyunsdkkms.request.v20160120 import CreateKeyRequest, DisableKeyRequest, EnableKeyRequest

from sdkutil import boto3_client_for, oss2_bucket_for, random_bytes
from test_sse_kms import kms_call, kms_client  # noqa: F401  (fixtures)

SSE = "x-oss-server-side-encryption"
KEY_ID = "x-oss-server-side-encryption-key-id"
DATA_SSE = "x-oss-server-side-data-encryption"


@pytest.fixture
def s3(coffer):
    return boto3_client_for(coffer)


def new_cmk(coffer, kms_client) -> tuple[str, str]:  # noqa: F811
    """(key id, the key's ARN in the AWS form S3 clients give)."""
    meta = kms_call(coffer, kms_client, CreateKeyRequest.CreateKeyRequest())["KeyMetadata"]
    account = meta["Arn"].split(":")[3]
    return meta["KeyId"], f"arn:aws:kms:us-east-1:{account}:key/{meta['KeyId']}"


def set_enabled(coffer, kms_client, key_id: str, enabled: bool) -> None:  # noqa: F811
    req = (EnableKeyRequest.EnableKeyRequest if enabled else DisableKeyRequest.DisableKeyRequest)()
    req.set_KeyId(key_id)
    kms_call(coffer, kms_client, req)


def blob_snapshot(coffer) -> dict[str, bytes]:
    root = coffer.data_dir / "blobs" / "blobs"
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def update(s3, bucket: str, key: str, arn: str) -> dict:
    return s3.update_object_encryption(
        Bucket=bucket, Key=key, ObjectEncryption={"SSEKMS": {"KMSKeyArn": arn, "BucketKeyEnabled": False}},
    )


def test_sse_s3_and_sse_kms_objects_move_to_a_cmk_without_their_data_moving(
    coffer, s3, bucket_name, kms_client  # noqa: F811
):
    one, one_arn = new_cmk(coffer, kms_client)
    two, two_arn = new_cmk(coffer, kms_client)
    data = random_bytes(300_000, seed=41)
    s3.put_object(
        Bucket=bucket_name, Key="k", Body=data, ServerSideEncryption="AES256",
        Metadata={"owner": "ops"}, Tagging="team=blue", ContentType="text/plain",
    )
    before = s3.head_object(Bucket=bucket_name, Key="k")
    blobs = blob_snapshot(coffer)

    update(s3, bucket_name, "k", one_arn)
    head = s3.head_object(Bucket=bucket_name, Key="k")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == one
    for field in ["ETag", "LastModified", "Metadata", "ContentType", "ContentLength"]:
        assert head[field] == before[field], field
    assert s3.get_object_tagging(Bucket=bucket_name, Key="k")["TagSet"] == [{"Key": "team", "Value": "blue"}]
    assert blob_snapshot(coffer) == blobs, "the data was rewritten"
    assert s3.get_object(Bucket=bucket_name, Key="k")["Body"].read() == data

    # From one CMK to another: afterwards the object needs only the new one.
    update(s3, bucket_name, "k", two_arn)
    assert s3.head_object(Bucket=bucket_name, Key="k")["SSEKMSKeyId"] == two
    set_enabled(coffer, kms_client, one, False)
    try:
        assert s3.get_object(Bucket=bucket_name, Key="k")["Body"].read() == data
    finally:
        set_enabled(coffer, kms_client, one, True)
    set_enabled(coffer, kms_client, two, False)
    try:
        with pytest.raises(botocore.exceptions.ClientError):
            s3.get_object(Bucket=bucket_name, Key="k")["Body"].read()
    finally:
        set_enabled(coffer, kms_client, two, True)
    assert blob_snapshot(coffer) == blobs


def test_objects_without_a_service_held_key_are_refused(coffer, s3, bucket_name, kms_client):  # noqa: F811
    _, arn = new_cmk(coffer, kms_client)
    s3.put_object(Bucket=bucket_name, Key="plain", Body=b"x" * 1000)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        update(s3, bucket_name, "plain", arn)
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket_name, Key="plain")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        update(s3, bucket_name, "missing", arn)
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    s3.put_object(Bucket=bucket_name, Key="aes", Body=b"y" * 1000, ServerSideEncryption="AES256")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        update(s3, bucket_name, "aes", "arn:aws:s3:::not-a-key")
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        update(s3, bucket_name, "aes", "arn:aws:kms:us-east-1:123456789012:key/no-such-key")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403, 404)
    assert s3.head_object(Bucket=bucket_name, Key="aes")["ServerSideEncryption"] == "AES256"


def oss_update(bucket: oss2.Bucket, key: str, headers: dict) -> oss2.models.RequestResult:
    resp = bucket._do("PUT", bucket.bucket_name, key, params={"encryption": ""}, headers=headers)
    return oss2.models.RequestResult(resp)


def test_the_oss_form_keeps_the_data_cipher_and_honours_if_match(coffer, bucket_name, kms_client):  # noqa: F811
    cmk, _ = new_cmk(coffer, kms_client)
    b = oss2_bucket_for(coffer, bucket_name, "v4")
    data = random_bytes(100_000, seed=42)
    put = b.put_object("sm4", data, headers={SSE: "SM4"})
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        oss_update(b, "sm4", {SSE: "KMS", KEY_ID: cmk, "If-Match": '"0123"'})
    with pytest.raises(oss2.exceptions.ServerError) as e:
        oss_update(b, "sm4", {SSE: "AES256"})
    assert e.value.code == "InvalidArgument"
    with pytest.raises(oss2.exceptions.ServerError) as e:
        oss_update(b, "sm4", {SSE: "KMS", KEY_ID: cmk, DATA_SSE: "SM4"})
    assert e.value.code == "InvalidArgument"
    r = oss_update(b, "sm4", {SSE: "KMS", KEY_ID: cmk, "If-Match": put.etag and f'"{put.etag}"'})
    assert r.headers[SSE] == "KMS" and r.headers[KEY_ID] == cmk
    head = b.head_object("sm4")
    assert head.headers[SSE] == "KMS" and head.headers[KEY_ID] == cmk
    assert head.headers[DATA_SSE] == "SM4", "the data stays SM4-encrypted"
    assert head.etag == put.etag
    assert b.get_object("sm4").read() == data
    # Without a key id: the account's default OSS key.
    b.put_object("aes", data, headers={SSE: "AES256"})
    oss_update(b, "aes", {SSE: "KMS"})
    head = b.head_object("aes")
    assert head.headers[SSE] == "KMS" and head.headers.get(KEY_ID)
    assert b.get_object("aes").read() == data
