"""Helpers shared by the test modules: clients, names, checksums, error unwrapping."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import secrets
import warnings

import alibabacloud_oss_v2 as oss
import crcmod
import oss2

from coffer_harness import REGION

CLIENT_TIMEOUT_S = 60

_bucket_counter = itertools.count()

# CRC-64/XZ as OSS uses it (OSS documentation, "Check data integrity by using CRC-64"); decimal in
# x-oss-hash-crc64ecma. The parameters are oss2's Crc64.
_crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)


def crc64(data: bytes) -> int:
    return _crc64(data)


def md5_hex_upper(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def random_bytes(n: int, seed: int | None = None) -> bytes:
    rng = random.Random(seed) if seed is not None else random.Random(secrets.randbits(64))
    return rng.randbytes(n)


def unique_bucket_name(tag: str = "t") -> str:
    """3–63 chars of [a-z0-9-], unique across workers and runs."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    return f"{tag}-{worker}-{next(_bucket_counter)}-{secrets.token_hex(4)}".lower()[:63]


# -- oss2 ------------------------------------------------------------------------------------


def oss2_auth(server, version: str = "v1"):
    if version == "v1":
        return oss2.Auth(server.access_key_id, server.access_key_secret)
    if version == "v4":
        return oss2.AuthV4(server.access_key_id, server.access_key_secret)
    raise ValueError(version)


def oss2_bucket_for(server, name: str, version: str = "v1", endpoint: str | None = None, **kw) -> oss2.Bucket:
    return oss2.Bucket(
        oss2_auth(server, version),
        endpoint or server.endpoint,
        name,
        connect_timeout=CLIENT_TIMEOUT_S,
        region=REGION,
        **kw,
    )


def oss2_service_for(server, version: str = "v1") -> oss2.Service:
    return oss2.Service(
        oss2_auth(server, version), server.endpoint, connect_timeout=CLIENT_TIMEOUT_S, region=REGION
    )


def delete_bucket_with_contents(bucket: oss2.Bucket) -> None:
    """Best-effort cleanup; failures become warnings (dedicated tests cover deletion)."""
    try:
        keys = [o.key for o in oss2.ObjectIteratorV2(bucket)]
        for i in range(0, len(keys), 1000):
            bucket.batch_delete_objects(keys[i : i + 1000])
        for up in oss2.MultipartUploadIterator(bucket):
            bucket.abort_multipart_upload(up.key, up.upload_id)
        bucket.delete_bucket()
    except oss2.exceptions.NoSuchBucket:
        pass
    except Exception as e:  # noqa: BLE001 - cleanup must not mask the test's own result
        warnings.warn(f"cleanup of bucket {bucket.bucket_name} failed: {e!r}")


# -- alibabacloud-oss-v2 ---------------------------------------------------------------------


class _NeverRetry(oss.retry.ErrorRetryable):
    def is_error_retryable(self, error: Exception) -> bool:
        return False


def v2_client_for(server, signature_version: str = "v4", endpoint: str | None = None, **cfg) -> oss.Client:
    config = oss.config.load_default()
    config.credentials_provider = oss.credentials.StaticCredentialsProvider(
        server.access_key_id, server.access_key_secret
    )
    config.region = REGION
    config.endpoint = endpoint or server.endpoint
    config.signature_version = signature_version
    config.connect_timeout = CLIENT_TIMEOUT_S
    config.readwrite_timeout = CLIENT_TIMEOUT_S
    # Never retry (retries would hide server errors), but report 2 attempts: v2's
    # get_object_to_file loops `range(1, attempts)` and downloads nothing with 1.
    config.retryer = oss.retry.StandardRetryer(max_attempts=2, error_retryables=[_NeverRetry()])
    for k, v in cfg.items():
        setattr(config, k, v)
    return oss.Client(config)


def v2_service_error(excinfo) -> "oss.exceptions.ServiceError":
    """The ServiceError inside the v2 SDK's OperationError (from pytest.raises)."""
    err = excinfo.value
    inner = err.unwrap() if hasattr(err, "unwrap") else err
    assert isinstance(inner, oss.exceptions.ServiceError), f"expected a ServiceError, got {inner!r}"
    return inner


def boto3_client_for(server, endpoint: str | None = None, **kw):
    """boto3's S3 client for the server's S3 listener: path style, the server's root key, no
    retries (a test sees the first answer)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint or server.s3_endpoint,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.access_key_secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        **kw,
    )
