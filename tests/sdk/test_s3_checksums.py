"""Additional checksums on the S3 dialect (x-amz-checksum-crc32|crc32c|crc64nvme|sha1|sha256):
boto3's default (CRC32, in a header over HTTP, in an aws-chunked trailer over TLS) and each
algorithm asked for explicitly, on PutObject and UploadPart; a wrong value is BadDigest and
nothing is stored; hand-made trailer bodies, unsigned and signed."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import zlib

import boto3
import botocore
import crcmod
import pytest
import requests
from botocore.config import Config

from coffer_harness import CofferServer
from sdkutil import random_bytes, unique_bucket_name
from test_s3_basic import s3_client

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]

# crcmod's initCrc is the register's initial value XORed with the final XOR (its documentation).
_crc32c = crcmod.mkCrcFun(0x11EDC6F41, initCrc=0, rev=True, xorOut=0xFFFFFFFF)
_crc64nvme = crcmod.mkCrcFun(0x1AD93D23594C93659, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)


def checksum(algorithm: str, data: bytes) -> str:
    """The base64 value S3 gives for `data` (CRCs big-endian), computed here without boto3."""
    raw = {
        "CRC32": lambda: zlib.crc32(data).to_bytes(4, "big"),
        "CRC32C": lambda: _crc32c(data).to_bytes(4, "big"),
        "CRC64NVME": lambda: _crc64nvme(data).to_bytes(8, "big"),
        "SHA1": lambda: hashlib.sha1(data).digest(),
        "SHA256": lambda: hashlib.sha256(data).digest(),
    }[algorithm]()
    return base64.b64encode(raw).decode()


def test_the_local_checksums_give_the_published_check_values():
    check = {
        "CRC32": "cbf43926",
        "CRC32C": "e3069283",
        "CRC64NVME": "ae8b14860a799888",
        "SHA1": "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
    }
    for algorithm, value in check.items():
        assert base64.b64decode(checksum(algorithm, b"123456789")).hex() == value, algorithm


def code_of(fn, **kw) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"]


def sent_headers(client, op: str) -> list[dict]:
    seen: list[dict] = []
    client.meta.events.register(
        f"before-send.s3.{op}",
        lambda request, **_: seen.append({k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}),
    )
    return seen


@pytest.fixture
def s3(coffer):
    return s3_client(coffer)


def test_boto3_default_sends_crc32_in_a_header_over_http(s3, bucket_name):
    sent = sent_headers(s3, "PutObject")
    data = random_bytes(300_000, seed=41)
    put = s3.put_object(Bucket=bucket_name, Key="default", Body=data)
    assert "x-amz-checksum-crc32" in sent[-1], sent[-1]
    assert put["ChecksumCRC32"] == checksum("CRC32", data)
    assert s3.get_object(Bucket=bucket_name, Key="default", ChecksumMode="ENABLED")["Body"].read() == data


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_algorithm_on_put_and_upload_part(s3, bucket_name, algorithm):
    data = random_bytes(70_000, seed=42)
    put = s3.put_object(Bucket=bucket_name, Key="k", Body=data, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == checksum(algorithm, data)
    assert s3.get_object(Bucket=bucket_name, Key="k")["Body"].read() == data
    up = s3.create_multipart_upload(Bucket=bucket_name, Key="mp", ChecksumAlgorithm=algorithm)
    part = s3.upload_part(
        Bucket=bucket_name, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=data, ChecksumAlgorithm=algorithm,
    )
    assert part[f"Checksum{algorithm}"] == checksum(algorithm, data)
    s3.abort_multipart_upload(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_wrong_checksum_header_is_bad_digest_and_nothing_is_stored(s3, bucket_name, algorithm):
    data = b"the body that was sent"
    wrong = checksum(algorithm, b"another body")
    assert code_of(
        s3.put_object, Bucket=bucket_name, Key="k", Body=data, **{f"Checksum{algorithm}": wrong},
    ) == "BadDigest"
    assert code_of(s3.head_object, Bucket=bucket_name, Key="k") == "404"
    up = s3.create_multipart_upload(Bucket=bucket_name, Key="mp")
    assert code_of(
        s3.upload_part, Bucket=bucket_name, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=data,
        **{f"Checksum{algorithm}": wrong},
    ) == "BadDigest"
    assert s3.list_parts(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"]).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"])


def test_malformed_or_several_checksum_headers_are_invalid_request(s3, bucket_name):
    assert code_of(s3.put_object, Bucket=bucket_name, Key="k", Body=b"x", ChecksumCRC32="not-base64") == "InvalidRequest"
    assert code_of(s3.put_object, Bucket=bucket_name, Key="k", Body=b"x", ChecksumSHA1=checksum("CRC32", b"x")) == "InvalidRequest"
    assert code_of(
        s3.put_object, Bucket=bucket_name, Key="k", Body=b"x",
        ChecksumCRC32=checksum("CRC32", b"x"), ChecksumSHA256=checksum("SHA256", b"x"),
    ) == "InvalidRequest"
    assert code_of(s3.head_object, Bucket=bucket_name, Key="k") == "404"


# Over TLS boto3 sends aws-chunked bodies with the checksum in a trailer.


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    server = CofferServer.create(tmp_path_factory.mktemp("s3sum"))
    server.extra_args = ["--tls-self-signed"]
    server.start()
    yield server
    assert server.stop() == 0, server.log_tail()


def tls_endpoint(server) -> str:
    return f"https://{server.host}:{server.s3_port}"


def cert(server) -> str:
    return str(server.data_dir / "tls-self-signed.crt")


@pytest.fixture
def tls(tls_server):
    return boto3.client(
        "s3",
        endpoint_url=tls_endpoint(tls_server),
        aws_access_key_id=tls_server.access_key_id,
        aws_secret_access_key=tls_server.access_key_secret,
        region_name="us-east-1",
        verify=cert(tls_server),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture
def tls_bucket(tls):
    name = unique_bucket_name("s3sum")
    tls.create_bucket(Bucket=name)
    yield name
    for o in tls.list_objects_v2(Bucket=name).get("Contents", []):
        tls.delete_object(Bucket=name, Key=o["Key"])
    for u in tls.list_multipart_uploads(Bucket=name).get("Uploads", []):
        tls.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
    tls.delete_bucket(Bucket=name)


@pytest.mark.parametrize("algorithm", [None, *ALGORITHMS])
def test_trailer_checksums_from_boto3(tls, tls_bucket, algorithm):
    sent = sent_headers(tls, "PutObject")
    data = random_bytes(200_000, seed=43)
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    put = tls.put_object(Bucket=tls_bucket, Key="k", Body=data, **extra)
    algorithm = algorithm or "CRC32"
    assert sent[-1]["x-amz-trailer"] == f"x-amz-checksum-{algorithm.lower()}", sent[-1]
    assert sent[-1]["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert put[f"Checksum{algorithm}"] == checksum(algorithm, data)
    got = tls.get_object(Bucket=tls_bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert "ContentEncoding" not in got, "aws-chunked is not stored"
    up = tls.create_multipart_upload(Bucket=tls_bucket, Key="mp", **extra)
    part = tls.upload_part(Bucket=tls_bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=data, **extra)
    assert part[f"Checksum{algorithm}"] == checksum(algorithm, data)


def _chunked(chunks: list[bytes], trailer: str) -> bytes:
    body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks)
    return body + b"0\r\n" + trailer.encode() + b"\r\n\r\n"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _signed_put(server, bucket, key, chunks, payload: str, trailer_name: str, trailer_value: str, tamper_trailer=False):
    """A PutObject with an aws-chunked body and a checksum trailer, signed by hand as the
    Amazon S3 API reference shows ("Signature calculation: Including trailing headers")."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    headers = {
        "host": f"{server.host}:{server.s3_port}",
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": payload,
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(sum(len(c) for c in chunks)),
        "x-amz-trailer": trailer_name,
    }
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        ["PUT", f"/{bucket}/{key}", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, payload]
    )
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + server.access_key_secret).encode(), day), "us-east-1"), "s3"), "aws4_request")
    seed = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={server.access_key_id}/{scope}, SignedHeaders={signed}, Signature={seed}"
    )
    trailer = f"{trailer_name}:{trailer_value}"
    if payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
        body = _chunked(chunks, trailer)
    else:
        prev, body = seed, b""
        empty = hashlib.sha256(b"").hexdigest()
        for data in [*chunks, b""]:
            csts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty, hashlib.sha256(data).hexdigest()])
            prev = hmac.new(k, csts.encode(), hashlib.sha256).hexdigest()
            body += f"{len(data):x};chunk-signature={prev}\r\n".encode() + data + (b"\r\n" if data else b"")
        tsts = "\n".join(
            ["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev, hashlib.sha256(f"{trailer}\n".encode()).hexdigest()]
        )
        trailer_signature = hmac.new(k, tsts.encode(), hashlib.sha256).hexdigest()
        sent_trailer = f"{trailer_name}:{checksum('CRC32', b'tampered')}" if tamper_trailer else trailer
        body += f"{sent_trailer}\r\nx-amz-trailer-signature:{trailer_signature}\r\n\r\n".encode()
    return requests.put(
        f"{tls_endpoint(server)}/{bucket}/{key}", data=body, headers=headers, verify=cert(server), timeout=30,
    )


@pytest.mark.parametrize("payload", ["STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"])
def test_hand_made_trailers_are_checked(tls_server, tls, tls_bucket, payload):
    chunks = [b"a" * 65536, b"b" * 1000]
    data = b"".join(chunks)
    name = "x-amz-checksum-crc32"
    ok = _signed_put(tls_server, tls_bucket, "ok", chunks, payload, name, checksum("CRC32", data))
    assert ok.status_code == 200, ok.text
    assert ok.headers[name] == checksum("CRC32", data)
    assert tls.get_object(Bucket=tls_bucket, Key="ok")["Body"].read() == data
    bad = _signed_put(tls_server, tls_bucket, "bad", chunks, payload, name, checksum("CRC32", b"other"))
    assert bad.status_code == 400 and b"<Code>BadDigest</Code>" in bad.content, bad.text
    missing = _signed_put(tls_server, tls_bucket, "missing", chunks, payload, name, "not-a-crc")
    assert missing.status_code == 400 and b"<Code>MalformedTrailerError</Code>" in missing.content, missing.text
    for key in ("bad", "missing"):
        assert code_of(tls.head_object, Bucket=tls_bucket, Key=key) == "404"
    if payload.startswith("STREAMING-AWS4"):
        tampered = _signed_put(tls_server, tls_bucket, "tampered", chunks, payload, name, checksum("CRC32", data), True)
        assert tampered.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in tampered.content, tampered.text
        assert code_of(tls.head_object, Bucket=tls_bucket, Key="tampered") == "404"
