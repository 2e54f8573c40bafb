"""SSE-C on the S3 dialect: objects encrypted under a key the client sends with every request and
the server never keeps. Round trips, ranges, multipart, copies in and out of SSE-C, the misuse S3
refuses (wrong, missing or malformed keys, keys over plain HTTP) and what the OSS dialect answers
for such an object. The module's server accepts keys over plain HTTP (--s3-allow-sse-c-over-http);
the refusal is checked on the shared server, which does not, and a TLS server takes keys as S3
does."""

from __future__ import annotations

import base64
import hashlib
import io

import boto3
import botocore
import oss2
import pytest
from botocore.config import Config

from coffer_harness import CofferServer
from sdkutil import oss2_bucket_for, random_bytes, unique_bucket_name

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))


def sse_c(key: bytes) -> dict:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def sse_c_encoded(key: bytes) -> dict:
    """For the operations botocore does not encode the key for (ListParts, Complete)."""
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


def copy_source_sse_c(key: bytes) -> dict:
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}


def client(server: CofferServer, endpoint: str | None = None, **kw):
    return boto3.client(
        "s3",
        endpoint_url=endpoint or server.s3_endpoint,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.access_key_secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        **kw,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = CofferServer.create(tmp_path_factory.mktemp("ssec"))
    server.extra_args = ["--s3-allow-sse-c-over-http"]
    server.start()
    yield server
    assert server.stop() == 0, server.log_tail()


@pytest.fixture
def s3(server):
    return client(server)


def unblock_sse_c(s3, name: str) -> None:
    """New buckets refuse SSE-C writes, as S3's do (Amazon S3 user guide, "Blocking or unblocking
    SSE-C for a general purpose bucket"); PutBucketEncryption with BlockedEncryptionTypes NONE
    allows them."""
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]},
                }
            ]
        },
    )


@pytest.fixture
def bucket(s3):
    name = unique_bucket_name("ssec")
    s3.create_bucket(Bucket=name)
    unblock_sse_c(s3, name)
    return name


def test_a_new_bucket_refuses_sse_c_until_it_is_unblocked(s3):
    name = unique_bucket_name("ssec-block")
    s3.create_bucket(Bucket=name)
    for call in (
        lambda: s3.put_object(Bucket=name, Key="k", Body=b"x", **sse_c(KEY_A)),
        lambda: s3.create_multipart_upload(Bucket=name, Key="k", **sse_c(KEY_A)),
    ):
        code, status, _ = error_of(call)
        assert (code, status) == ("AccessDenied", 403)
    s3.put_object(Bucket=name, Key="plain", Body=b"p")
    code, status, _ = error_of(
        lambda: s3.copy_object(Bucket=name, Key="c", CopySource={"Bucket": name, "Key": "plain"}, **sse_c(KEY_A))
    )
    assert (code, status) == ("AccessDenied", 403)
    code, _, _ = error_of(lambda: s3.head_object(Bucket=name, Key="k"))
    assert code == "404", "nothing was stored"
    # Only BlockedEncryptionTypes: the block changes, the (absent) default rule stays absent.
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={"Rules": [{"BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]},
    )
    s3.put_object(Bucket=name, Key="k", Body=b"secret", **sse_c(KEY_A))
    assert s3.get_object(Bucket=name, Key="k", **sse_c(KEY_A))["Body"].read() == b"secret"
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
                }
            ]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}
    code, status, _ = error_of(lambda: s3.put_object(Bucket=name, Key="k2", Body=b"x", **sse_c(KEY_A)))
    assert (code, status) == ("AccessDenied", 403)
    # Blocking stops new writes only: the existing SSE-C object still reads with its key.
    assert s3.get_object(Bucket=name, Key="k", **sse_c(KEY_A))["Body"].read() == b"secret"
    unblock_sse_c(s3, name)
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}
    s3.put_object(Bucket=name, Key="k2", Body=b"y", **sse_c(KEY_A))


def test_an_oss_encryption_rule_keeps_the_s3_block(server, s3):
    name = unique_bucket_name("ssec-oss")
    s3.create_bucket(Bucket=name)
    unblock_sse_c(s3, name)
    ob = oss2_bucket_for(server, name)
    rule = oss2.models.ServerSideEncryptionRule()
    rule.sse_algorithm = oss2.SERVER_SIDE_ENCRYPTION_AES256
    ob.put_bucket_encryption(rule)
    got = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert got["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}
    s3.put_object(Bucket=name, Key="k", Body=b"x", **sse_c(KEY_A))


def error_of(call) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    err = e.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def test_round_trip_head_and_ranges(s3, bucket):
    data = random_bytes(300_000, seed=71)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, **sse_c(KEY_A))
    md5 = base64.b64encode(hashlib.md5(KEY_A).digest()).decode()
    assert put["SSECustomerAlgorithm"] == "AES256" and put["SSECustomerKeyMD5"] == md5
    assert "ServerSideEncryption" not in put
    got = s3.get_object(Bucket=bucket, Key="k", **sse_c(KEY_A))
    assert got["Body"].read() == data
    assert got["SSECustomerAlgorithm"] == "AES256" and got["SSECustomerKeyMD5"] == md5
    head = s3.head_object(Bucket=bucket, Key="k", **sse_c(KEY_A))
    assert head["ContentLength"] == len(data) and head["SSECustomerAlgorithm"] == "AES256"
    for start, end in [(0, 0), (65_535, 65_536), (100_000, 299_999), (299_999, 299_999)]:
        part = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={start}-{end}", **sse_c(KEY_A))
        assert part["Body"].read() == data[start : end + 1]
    # Listings need no key.
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("k", len(data))]


def test_wrong_and_missing_keys_are_refused_as_s3_refuses_them(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", **sse_c(KEY_A))
    code, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="k", **sse_c(KEY_B)))
    assert (code, status) == ("AccessDenied", 403)
    code, status, _ = error_of(lambda: s3.head_object(Bucket=bucket, Key="k", **sse_c(KEY_B)))
    assert status == 403
    code, status, message = error_of(lambda: s3.get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("InvalidRequest", 400)
    assert "correct parameters must be provided" in message
    _, status, _ = error_of(lambda: s3.head_object(Bucket=bucket, Key="k"))
    assert status == 400
    # A key for an object that is not SSE-C.
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    code, status, message = error_of(lambda: s3.get_object(Bucket=bucket, Key="plain", **sse_c(KEY_A)))
    assert (code, status) == ("InvalidRequest", 400) and "not applicable" in message
    # The right key still works after all that.
    assert s3.get_object(Bucket=bucket, Key="k", **sse_c(KEY_A))["Body"].read() == b"secret"


def raw_put(s3, bucket, key, headers):
    """A PutObject with SSE-C headers set by hand (boto3 computes the MD5 and encodes the key)."""

    def add(request, **_):
        for h in [h for h in request.headers if h.lower().startswith("x-amz-server-side-encryption-customer")]:
            del request.headers[h]
        for k, v in headers.items():
            request.headers[k] = v

    s3.meta.events.register_first("before-sign.s3.PutObject", add)
    try:
        return s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", add)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


@pytest.mark.parametrize(
    "headers, message",
    [
        (
            {"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": b64(KEY_A),
             "x-amz-server-side-encryption-customer-key-MD5": b64(hashlib.md5(KEY_B).digest())},
            "MD5 hash of the key did not match",
        ),
        (
            {"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": b64(KEY_A)},
            "calculated MD5 of the secret key",
        ),
        (
            {"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": b64(KEY_A[:16]),
             "x-amz-server-side-encryption-customer-key-MD5": b64(hashlib.md5(KEY_A[:16]).digest())},
            "secret key was invalid",
        ),
        (
            {"x-amz-server-side-encryption-customer-algorithm": "AES256"},
            "appropriate secret key",
        ),
        (
            {"x-amz-server-side-encryption-customer-key": b64(KEY_A),
             "x-amz-server-side-encryption-customer-key-MD5": b64(hashlib.md5(KEY_A).digest())},
            "valid encryption algorithm",
        ),
    ],
)
def test_malformed_key_headers_are_invalid_arguments(s3, bucket, headers, message):
    code, status, got = error_of(lambda: raw_put(s3, bucket, "bad", headers))
    assert (code, status) == ("InvalidArgument", 400)
    assert message in got
    code, _, _ = error_of(lambda: s3.head_object(Bucket=bucket, Key="bad"))
    assert code == "404"


def test_sse_c_with_another_method_is_refused(s3, bucket):
    code, status, _ = error_of(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256", **sse_c(KEY_A))
    )
    assert (code, status) == ("InvalidArgument", 400)


def test_multipart_upload_under_one_key(s3, bucket):
    part = random_bytes(5 * 1024 * 1024, seed=72)
    tail = random_bytes(70_000, seed=73)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **sse_c(KEY_A))["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=part, **sse_c(KEY_A))["ETag"]
    # A part under another key, or none, is refused; the upload goes on.
    code, status, _ = error_of(
        lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=tail, **sse_c(KEY_B))
    )
    assert (code, status) == ("AccessDenied", 403)
    code, status, _ = error_of(lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=tail))
    assert (code, status) == ("InvalidRequest", 400)
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=tail, **sse_c(KEY_A))["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=up, **sse_c_encoded(KEY_A))["Parts"]
    assert [p["Size"] for p in parts] == [len(part), len(tail)]
    assert len(s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)["Parts"]) == 2
    doc = {"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}
    code, status, _ = error_of(
        lambda: s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload=doc)
    )
    assert (code, status) == ("InvalidRequest", 400)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload=doc, **sse_c_encoded(KEY_A))
    data = part + tail
    assert s3.get_object(Bucket=bucket, Key="mp", **sse_c(KEY_A))["Body"].read() == data
    got = s3.get_object(Bucket=bucket, Key="mp", Range="bytes=5242000-5243000", **sse_c(KEY_A))
    assert got["Body"].read() == data[5_242_000:5_243_001]
    _, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="mp", **sse_c(KEY_B)))
    assert status == 403


def test_copies_in_and_out_of_sse_c(s3, bucket):
    data = random_bytes(200_000, seed=74)
    s3.put_object(Bucket=bucket, Key="src", Body=data, **sse_c(KEY_A))
    source = {"Bucket": bucket, "Key": "src"}
    # Without the source's key the copy cannot read it.
    code, status, _ = error_of(lambda: s3.copy_object(Bucket=bucket, Key="t0", CopySource=source))
    assert (code, status) == ("InvalidRequest", 400)
    code, status, _ = error_of(
        lambda: s3.copy_object(Bucket=bucket, Key="t0", CopySource=source, **copy_source_sse_c(KEY_B))
    )
    assert status == 403
    # SSE-C -> SSE-S3.
    s3.copy_object(Bucket=bucket, Key="s3", CopySource=source, ServerSideEncryption="AES256", **copy_source_sse_c(KEY_A))
    got = s3.get_object(Bucket=bucket, Key="s3")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == data
    # SSE-C -> SSE-C under another key.
    s3.copy_object(Bucket=bucket, Key="b", CopySource=source, **copy_source_sse_c(KEY_A), **sse_c(KEY_B))
    assert s3.get_object(Bucket=bucket, Key="b", **sse_c(KEY_B))["Body"].read() == data
    _, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="b", **sse_c(KEY_A)))
    assert status == 403
    # Plain -> SSE-C, and a key change in place (a copy onto itself).
    s3.put_object(Bucket=bucket, Key="plain", Body=data)
    s3.copy_object(Bucket=bucket, Key="plain", CopySource={"Bucket": bucket, "Key": "plain"}, **sse_c(KEY_A))
    assert s3.get_object(Bucket=bucket, Key="plain", **sse_c(KEY_A))["Body"].read() == data
    _, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="plain"))
    assert status == 400


def test_upload_part_copy_from_an_sse_c_source(s3, bucket):
    data = random_bytes(6 * 1024 * 1024, seed=75)
    s3.put_object(Bucket=bucket, Key="src", Body=data, **sse_c(KEY_A))
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst", **sse_c(KEY_B))["UploadId"]
    r = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=up, PartNumber=1, CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange="bytes=0-5242879", **copy_source_sse_c(KEY_A), **sse_c(KEY_B),
    )
    e1 = r["CopyPartResult"]["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="dst", UploadId=up, PartNumber=2, Body=b"tail", **sse_c(KEY_B))["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="dst", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}, **sse_c_encoded(KEY_B),
    )
    got = s3.get_object(Bucket=bucket, Key="dst", **sse_c(KEY_B))["Body"].read()
    assert got == data[:5_242_880] + b"tail"


def test_oss_dialect_cannot_read_an_sse_c_object(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", **sse_c(KEY_A))
    oss_bucket = oss2_bucket_for(server, bucket, "v4")
    with pytest.raises(oss2.exceptions.AccessDenied) as e:
        oss_bucket.get_object("k")
    assert "customer-provided key" in e.value.message
    with pytest.raises(oss2.exceptions.AccessDenied):
        oss_bucket.copy_object(bucket, "k", "copy")
    # Objects the OSS dialect wrote are unaffected, and SSE-C keys do not apply to them.
    oss_bucket.put_object("oss", b"o", headers={"x-oss-server-side-encryption": "AES256"})
    code, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="oss", **sse_c(KEY_A)))
    assert (code, status) == ("InvalidRequest", 400)


def test_keys_over_plain_http_are_refused_without_the_switch(coffer):
    s3 = client(coffer)
    name = unique_bucket_name("ssec-http")
    s3.create_bucket(Bucket=name)
    code, status, message = error_of(lambda: s3.put_object(Bucket=name, Key="k", Body=b"x", **sse_c(KEY_A)))
    assert (code, status) == ("InvalidRequest", 400)
    assert "secure connection" in message
    code, _, _ = error_of(lambda: s3.head_object(Bucket=name, Key="k"))
    assert code == "404"
    s3.delete_bucket(Bucket=name)


def test_keys_over_tls_are_accepted_without_the_switch(tmp_path):
    server = CofferServer.create(tmp_path)
    server.extra_args = ["--tls-self-signed"]
    server.start()
    try:
        s3 = client(
            server,
            endpoint=f"https://{server.host}:{server.s3_port}",
            verify=str(server.data_dir / "tls-self-signed.crt"),
        )
        name = unique_bucket_name("ssec-tls")
        s3.create_bucket(Bucket=name)
        unblock_sse_c(s3, name)
        data = random_bytes(100_000, seed=76)
        s3.upload_fileobj(io.BytesIO(data), name, "k", ExtraArgs=sse_c(KEY_A))
        assert s3.get_object(Bucket=name, Key="k", **sse_c(KEY_A))["Body"].read() == data
        _, status, _ = error_of(lambda: s3.get_object(Bucket=name, Key="k", **sse_c(KEY_B)))
        assert status == 403
    finally:
        assert server.stop() == 0, server.log_tail()


def test_the_key_never_reaches_the_data_directory_or_the_log(server, s3, bucket):
    marker = b"SSE-C-MARKER-" * 1000
    key = b"K" * 32
    s3.put_object(Bucket=bucket, Key="m", Body=marker, **sse_c(key))
    assert s3.get_object(Bucket=bucket, Key="m", **sse_c(key))["Body"].read() == marker
    encoded = base64.b64encode(key)
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert key not in content and encoded not in content and b"SSE-C-MARKER-" not in content, path
    assert encoded.decode() not in server.log_tail(10_000)


def test_the_multipart_family_echoes_the_customer_key_headers(s3, bucket):
    md5 = base64.b64encode(hashlib.md5(KEY_A).digest()).decode()

    def echoed(reply):
        return reply.get("SSECustomerAlgorithm"), reply.get("SSECustomerKeyMD5")

    up = s3.create_multipart_upload(Bucket=bucket, Key="echo", **sse_c(KEY_A))
    assert echoed(up) == ("AES256", md5)
    part = s3.upload_part(
        Bucket=bucket, Key="echo", UploadId=up["UploadId"], PartNumber=1, Body=b"only part", **sse_c(KEY_A)
    )
    assert echoed(part) == ("AES256", md5)
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="echo", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}, **sse_c_encoded(KEY_A),
    )
    # botocore's CompleteMultipartUpload output has no SSE-C members: the raw headers show them.
    headers = done["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("x-amz-server-side-encryption-customer-algorithm") == "AES256"
    assert headers.get("x-amz-server-side-encryption-customer-key-md5") == md5
    # A plain upload echoes none of them.
    plain = s3.create_multipart_upload(Bucket=bucket, Key="plain")
    assert echoed(plain) == (None, None)
    s3.abort_multipart_upload(Bucket=bucket, Key="plain", UploadId=plain["UploadId"])
