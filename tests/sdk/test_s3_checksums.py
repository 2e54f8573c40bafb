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


# -- stored checksums: answered on reads, combined for multipart uploads -----------------------


def composite(algorithm: str, parts: list[bytes]) -> str:
    """S3's checksum of checksums: the algorithm over the parts' raw digests, then `-N`."""
    raw = b"".join(base64.b64decode(checksum(algorithm, p)) for p in parts)
    return f"{checksum(algorithm, raw)}-{len(parts)}"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_put_checksum_is_stored_and_returned_on_whole_object_reads(s3, bucket_name, algorithm):
    data = random_bytes(90_000, seed=51)
    s3.put_object(Bucket=bucket_name, Key="k", Body=data, ChecksumAlgorithm=algorithm)
    # boto3 checks the returned value against the body it reads: a wrong one fails this GET.
    got = s3.get_object(Bucket=bucket_name, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got[f"Checksum{algorithm}"] == checksum(algorithm, data)
    assert got["ChecksumType"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket_name, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == checksum(algorithm, data)
    # Not asked for: not answered; a range: not answered (it describes the whole object).
    assert f"Checksum{algorithm}" not in s3.head_object(Bucket=bucket_name, Key="k")
    ranged = s3.get_object(Bucket=bucket_name, Key="k", Range="bytes=0-99", ChecksumMode="ENABLED")
    assert ranged["Body"].read() == data[:100]
    assert f"Checksum{algorithm}" not in ranged


def test_a_copy_keeps_the_sources_whole_object_checksum(s3, bucket_name):
    data = random_bytes(40_000, seed=52)
    s3.put_object(Bucket=bucket_name, Key="src", Body=data, ChecksumAlgorithm="SHA256")
    s3.copy_object(Bucket=bucket_name, Key="dst", CopySource={"Bucket": bucket_name, "Key": "src"})
    got = s3.get_object(Bucket=bucket_name, Key="dst", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumSHA256"] == checksum("SHA256", data)


MIB = 1024 * 1024


@pytest.mark.parametrize(
    "algorithm,kind", [("CRC32", "COMPOSITE"), ("CRC64NVME", "FULL_OBJECT"), ("SHA256", "COMPOSITE"), ("CRC32C", "FULL_OBJECT")]
)
def test_a_multipart_upload_gets_the_checksum_s3_gives(s3, bucket_name, algorithm, kind):
    parts = [random_bytes(5 * MIB, seed=53), random_bytes(5 * MIB, seed=54), random_bytes(123_457, seed=55)]
    extra = {"ChecksumType": kind} if algorithm == "CRC32C" else {}
    up = s3.create_multipart_upload(Bucket=bucket_name, Key="mp", ChecksumAlgorithm=algorithm, **extra)
    assert up["ChecksumAlgorithm"] == algorithm
    assert up["ChecksumType"] == kind
    uid = up["UploadId"]
    listed = []
    for n, body in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket_name, Key="mp", UploadId=uid, PartNumber=n, Body=body, ChecksumAlgorithm=algorithm)
        listed.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{algorithm}": r[f"Checksum{algorithm}"]})
    lp = s3.list_parts(Bucket=bucket_name, Key="mp", UploadId=uid)
    assert lp["ChecksumAlgorithm"] == algorithm
    assert [p[f"Checksum{algorithm}"] for p in lp["Parts"]] == [checksum(algorithm, p) for p in parts]
    # A listed part checksum that is not the stored one: InvalidPart, and the upload stays.
    wrong = [dict(p) for p in listed]
    wrong[1][f"Checksum{algorithm}"] = checksum(algorithm, b"something else")
    assert code_of(
        s3.complete_multipart_upload, Bucket=bucket_name, Key="mp", UploadId=uid, MultipartUpload={"Parts": wrong}
    ) == "InvalidPart"
    done = s3.complete_multipart_upload(Bucket=bucket_name, Key="mp", UploadId=uid, MultipartUpload={"Parts": listed})
    whole = b"".join(parts)
    want = composite(algorithm, parts) if kind == "COMPOSITE" else checksum(algorithm, whole)
    assert done[f"Checksum{algorithm}"] == want
    assert done["ChecksumType"] == kind
    # A full-object value is checked by boto3 against the body it reads (a composite it skips).
    got = s3.get_object(Bucket=bucket_name, Key="mp", ChecksumMode="ENABLED")
    assert got["Body"].read() == whole
    assert got[f"Checksum{algorithm}"] == want
    assert got["ChecksumType"] == kind


def test_parts_must_carry_the_uploads_algorithm(s3, bucket_name):
    up = s3.create_multipart_upload(Bucket=bucket_name, Key="mp", ChecksumAlgorithm="CRC32")
    code = code_of(
        s3.upload_part, Bucket=bucket_name, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"x",
        ChecksumAlgorithm="SHA256",
    )
    assert code in ("InvalidRequest", "InvalidArgument"), code
    assert s3.list_parts(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"]).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"])
    assert code_of(
        s3.create_multipart_upload, Bucket=bucket_name, Key="x", ChecksumAlgorithm="SHA1", ChecksumType="FULL_OBJECT"
    ) == "InvalidRequest"
    assert code_of(
        s3.create_multipart_upload, Bucket=bucket_name, Key="x", ChecksumAlgorithm="CRC64NVME", ChecksumType="COMPOSITE"
    ) == "InvalidRequest"


def test_aws_cli_multipart_copy_then_head_object_checksum_mode(coffer, s3, bucket_name, tmp_path):
    from test_s3_tools import aws_cli

    aws = aws_cli(coffer, tmp_path)
    data = random_bytes(11 * MIB, seed=56)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    aws("s3", "cp", "--only-show-errors", str(src), f"s3://{bucket_name}/big.bin")
    import json

    head = json.loads(aws("s3api", "head-object", "--bucket", bucket_name, "--key", "big.bin", "--checksum-mode", "ENABLED"))
    assert head["ETag"].endswith('-3"'), head
    # The cli uploads with CRC32 by default: a composite over its three 5 MiB parts.
    pieces = [data[i : i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
    assert head["ChecksumCRC32"] == composite("CRC32", pieces), head
    assert head["ChecksumType"] == "COMPOSITE"
