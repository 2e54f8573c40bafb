"""Fixtures for the real-client tests: one coffer process per test session (per xdist worker),
SDK clients signed with its fresh root credentials, and a fresh bucket per test."""

from __future__ import annotations

import alibabacloud_oss_v2 as oss
import oss2
import pytest

from coffer_harness import REGION, CofferServer
from osssign import RawClient
from sdkutil import (
    delete_bucket_with_contents,
    oss2_bucket_for,
    oss2_service_for,
    unique_bucket_name,
    v2_client_for,
)


@pytest.fixture(scope="session")
def coffer(tmp_path_factory) -> CofferServer:
    """The shared coffer process. Stopped with SIGTERM at the end; it must exit 0."""
    server = CofferServer.create(tmp_path_factory.mktemp("coffer"))
    server.start()
    yield server
    code = server.stop()
    assert code == 0, f"coffer exited with {code} on SIGTERM; log:\n{server.log_tail()}"


@pytest.fixture(scope="session")
def raw(coffer) -> RawClient:
    """Hand-signed requests (V1 by default) for what SDKs refuse to send."""
    return RawClient(coffer.host, coffer.port, coffer.access_key_id, coffer.access_key_secret, REGION)


@pytest.fixture(scope="session")
def service(coffer) -> oss2.Service:
    """oss2.Service signing with V1."""
    return oss2_service_for(coffer, "v1")


@pytest.fixture(scope="session")
def service_v4(coffer) -> oss2.Service:
    """oss2.Service signing with V4."""
    return oss2_service_for(coffer, "v4")


@pytest.fixture
def bucket_name(coffer) -> str:
    """A fresh, empty bucket (created with oss2 V1), deleted with its contents afterwards."""
    name = unique_bucket_name()
    b = oss2_bucket_for(coffer, name)
    b.create_bucket()
    yield name
    delete_bucket_with_contents(b)


@pytest.fixture
def bucket(coffer, bucket_name) -> oss2.Bucket:
    """oss2.Bucket on the fresh bucket, signing with V1 (oss2's default)."""
    return oss2_bucket_for(coffer, bucket_name, "v1")


@pytest.fixture
def bucket_v4(coffer, bucket_name) -> oss2.Bucket:
    """oss2.Bucket on the same fresh bucket, signing with V4 (region cn-hangzhou)."""
    return oss2_bucket_for(coffer, bucket_name, "v4")


@pytest.fixture(params=["v1", "v4"])
def ob(request, coffer, bucket_name) -> oss2.Bucket:
    """oss2.Bucket on the fresh bucket, parametrised over both signature versions."""
    return oss2_bucket_for(coffer, bucket_name, request.param)


@pytest.fixture(scope="session")
def v2(coffer) -> oss.Client:
    """alibabacloud-oss-v2 client with its default V4 signing."""
    return v2_client_for(coffer, "v4")


@pytest.fixture(scope="session")
def v2_v1(coffer) -> oss.Client:
    """alibabacloud-oss-v2 client signing with V1."""
    return v2_client_for(coffer, "v1")


@pytest.fixture(params=["v4", "v1"])
def v2c(request, v2, v2_v1) -> oss.Client:
    """alibabacloud-oss-v2 client parametrised over both signature versions."""
    return v2 if request.param == "v4" else v2_v1
