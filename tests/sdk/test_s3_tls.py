"""The S3 dialect over TLS, where boto3's defaults send aws-chunked bodies with CRC trailers
(STREAMING-UNSIGNED-PAYLOAD-TRAILER), and a hand-made signed chunked body
(STREAMING-AWS4-HMAC-SHA256-PAYLOAD) whose changed chunk is refused."""

from __future__ import annotations

import hashlib
import hmac

import boto3
import botocore
import pytest
import requests
from botocore.config import Config

from coffer_harness import CofferServer
from sdkutil import oss2_bucket_for, unique_bucket_name


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    server = CofferServer.create(tmp_path_factory.mktemp("s3tls"))
    server.extra_args = ["--tls-self-signed"]
    server.start()
    yield server
    assert server.stop() == 0, server.log_tail()


def endpoint(server) -> str:
    return f"https://{server.host}:{server.s3_port}"


def cert(server) -> str:
    return str(server.data_dir / "tls-self-signed.crt")


@pytest.fixture
def s3(tls_server):
    return boto3.client(
        "s3",
        endpoint_url=endpoint(tls_server),
        aws_access_key_id=tls_server.access_key_id,
        aws_secret_access_key=tls_server.access_key_secret,
        region_name="us-east-1",
        verify=cert(tls_server),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def test_default_boto3_checksum_trailers_round_trip(tls_server, s3):
    name = unique_bucket_name("s3tls")
    s3.create_bucket(Bucket=name)
    events = []
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: events.append(dict(request.headers)))
    body = bytes(range(256)) * 4096
    s3.put_object(Bucket=name, Key="big", Body=body)
    # Header names as the signer wrote them: botocore's own signer and awscrt's differ in case.
    sent = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in events[-1].items()}
    assert sent.get("x-amz-content-sha256") in (
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), sent
    assert sent.get("x-amz-trailer", "").startswith("x-amz-checksum-"), sent
    assert s3.get_object(Bucket=name, Key="big")["Body"].read() == body
    s3.upload_fileobj(__import__("io").BytesIO(body * 3), name, "multi-mib")
    assert s3.head_object(Bucket=name, Key="multi-mib")["ContentLength"] == len(body) * 3
    for key in ("big", "multi-mib"):
        s3.delete_object(Bucket=name, Key=key)
    s3.delete_bucket(Bucket=name)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _signed_chunked_put(server, bucket, key, chunks, tamper=False):
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD PutObject, signed by hand as the reference shows."""
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    host = f"{server.host}:{server.s3_port}"
    decoded = sum(len(c) for c in chunks)
    headers = {
        "host": host,
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(decoded),
    }
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        ["PUT", f"/{bucket}/{key}", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"]
    )
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + server.access_key_secret).encode(), day), "us-east-1"), "s3"), "aws4_request")
    seed = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    prev, body = seed, b""
    empty = hashlib.sha256(b"").hexdigest()
    for data in [*chunks, b""]:
        csts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty, hashlib.sha256(data).hexdigest()])
        prev = hmac.new(k, csts.encode(), hashlib.sha256).hexdigest()
        sent = data[:-1] + b"!" if tamper and data else data
        body += f"{len(data):x};chunk-signature={prev}\r\n".encode() + sent + b"\r\n"
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={server.access_key_id}/{scope}, SignedHeaders={signed}, Signature={seed}"
    return requests.put(f"{endpoint(server)}/{bucket}/{key}", data=body, headers=headers, verify=cert(server), timeout=30)


def test_signed_chunks_are_verified(tls_server, s3):
    name = unique_bucket_name("s3chunk")
    s3.create_bucket(Bucket=name)
    chunks = [b"a" * 65536, b"b" * 1000]
    ok = _signed_chunked_put(tls_server, name, "signed", chunks)
    assert ok.status_code == 200, ok.text
    assert s3.get_object(Bucket=name, Key="signed")["Body"].read() == b"".join(chunks)
    bad = _signed_chunked_put(tls_server, name, "tampered", chunks, tamper=True)
    assert bad.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in bad.content, bad.text
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=name, Key="tampered")
    s3.delete_object(Bucket=name, Key="signed")
    s3.delete_bucket(Bucket=name)
