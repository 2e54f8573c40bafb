"""Bucket operations: ListBuckets, PutBucket, DeleteBucket, GetBucketInfo, GetBucketLocation."""

from __future__ import annotations

import calendar
import re
import time

import alibabacloud_oss_v2 as oss
import oss2
import pytest

from sdkutil import oss2_bucket_for, unique_bucket_name, v2_client_for, v2_service_error

LOCATION = "oss-cn-hangzhou"
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z")


@pytest.fixture
def three_buckets(coffer):
    """Three buckets sharing a unique prefix; deleted afterwards."""
    prefix = unique_bucket_name("lb")
    names = [f"{prefix}-{i}" for i in range(3)]
    buckets = [oss2_bucket_for(coffer, n) for n in names]
    for b in buckets:
        b.create_bucket()
    yield prefix, names
    for b in buckets:
        try:
            b.delete_bucket()
        except oss2.exceptions.NoSuchBucket:
            pass


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_list_buckets_filters_by_prefix_and_reports_location(request, three_buckets, version):
    prefix, names = three_buckets
    service = request.getfixturevalue("service" if version == "v1" else "service_v4")
    result = service.list_buckets(prefix=prefix)
    assert [b.name for b in result.buckets] == sorted(names)
    assert result.is_truncated is False
    now = time.time()
    for b in result.buckets:
        assert b.location == LOCATION
        assert b.storage_class == "Standard"
        assert b.extranet_endpoint and b.intranet_endpoint
        assert abs(b.creation_date - now) < 24 * 3600, "CreationDate must be the creation time"


def test_list_buckets_pages_with_marker_and_max_keys(service, three_buckets):
    prefix, names = three_buckets
    first = service.list_buckets(prefix=prefix, max_keys=2)
    assert [b.name for b in first.buckets] == sorted(names)[:2]
    assert first.is_truncated is True
    assert first.next_marker == sorted(names)[1]
    second = service.list_buckets(prefix=prefix, marker=first.next_marker, max_keys=2)
    assert [b.name for b in second.buckets] == sorted(names)[2:]
    assert second.is_truncated is False
    # oss2's iterator drives the same paging.
    assert [b.name for b in oss2.BucketIterator(service, prefix=prefix, max_keys=1)] == sorted(names)


def test_list_buckets_with_v2_paginator(v2, three_buckets):
    prefix, names = three_buckets
    paginator = v2.list_buckets_paginator(limit=1)
    seen = []
    for page in paginator.iter_page(oss.ListBucketsRequest(prefix=prefix)):
        seen.extend(b.name for b in page.buckets or [])
    assert seen == sorted(names)


def test_created_bucket_is_empty_and_listable(bucket):
    result = bucket.list_objects_v2()
    assert result.object_list == [] and result.prefix_list == []
    assert result.is_truncated is False


def test_put_bucket_twice_by_same_owner_is_idempotent_or_already_exists(coffer, bucket_name):
    # OSS is believed to return 200 for a same-owner re-create (unconfirmed); 409 would also be OSS-like.
    b = oss2_bucket_for(coffer, bucket_name)
    try:
        b.create_bucket()
    except oss2.exceptions.ServerError as e:
        assert (e.status, e.code) == (409, "BucketAlreadyExists")
    assert b.get_bucket_info().name == bucket_name


def test_put_bucket_with_storage_class_and_acl(coffer):
    name = unique_bucket_name("sc")
    b = oss2_bucket_for(coffer, name)
    b.create_bucket(oss2.BUCKET_ACL_PRIVATE, oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA))
    try:
        info = b.get_bucket_info()
        assert info.storage_class == "IA"
        assert info.acl.grant == "private"
    finally:
        b.delete_bucket()


def test_put_bucket_with_v2_sdk(coffer, v2c):
    name = unique_bucket_name("v2")
    result = v2c.put_bucket(oss.PutBucketRequest(bucket=name))
    assert result.status_code == 200
    try:
        info = v2c.get_bucket_info(oss.GetBucketInfoRequest(bucket=name)).bucket_info
        assert info.name == name
    finally:
        r = v2c.delete_bucket(oss.DeleteBucketRequest(bucket=name))
        assert r.status_code == 204
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2c.get_bucket_info(oss.GetBucketInfoRequest(bucket=name))
    assert v2_service_error(e).code == "NoSuchBucket"


def test_delete_empty_bucket_then_it_is_gone(coffer, service):
    name = unique_bucket_name("del")
    b = oss2_bucket_for(coffer, name)
    b.create_bucket()
    result = b.delete_bucket()
    assert result.status == 204
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        b.get_bucket_info()
    assert name not in [x.name for x in service.list_buckets(prefix=name).buckets]


def test_delete_missing_bucket_is_no_such_bucket(coffer):
    b = oss2_bucket_for(coffer, unique_bucket_name("none"))
    with pytest.raises(oss2.exceptions.NoSuchBucket) as e:
        b.delete_bucket()
    assert e.value.status == 404


def test_delete_non_empty_bucket_is_bucket_not_empty(bucket):
    bucket.put_object("keep.txt", b"x")
    with pytest.raises(oss2.exceptions.BucketNotEmpty) as e:
        bucket.delete_bucket()
    assert (e.value.status, e.value.code) == (409, "BucketNotEmpty")
    assert bucket.get_object("keep.txt").read() == b"x"


def test_delete_bucket_with_in_progress_multipart_upload_is_bucket_not_empty(bucket):
    upload_id = bucket.init_multipart_upload("mp").upload_id
    with pytest.raises(oss2.exceptions.BucketNotEmpty):
        bucket.delete_bucket()
    bucket.abort_multipart_upload("mp", upload_id)
    assert bucket.delete_bucket().status == 204


def test_get_bucket_info_has_required_fields(bucket, bucket_name):
    info = bucket.get_bucket_info()
    assert info.name == bucket_name
    assert info.location == LOCATION
    assert info.storage_class == "Standard"
    assert info.extranet_endpoint and info.intranet_endpoint
    assert info.owner.id and info.owner.display_name
    assert info.acl.grant == "private"
    # oss2 keeps GetBucketInfo's CreationDate as the raw string (its time regex wants exactly .000Z).
    assert TIME_RE.fullmatch(info.creation_date), info.creation_date
    created = calendar.timegm(time.strptime(info.creation_date, "%Y-%m-%dT%H:%M:%S.000Z"))
    assert abs(created - time.time()) < 24 * 3600


def test_get_bucket_info_with_v2_sdk(v2c, bucket_name):
    info = v2c.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket_name)).bucket_info
    assert info.name == bucket_name
    assert info.location == LOCATION
    assert info.storage_class == "Standard"
    assert info.acl == "private"
    assert info.owner is not None and info.owner.id


def test_get_bucket_info_of_missing_bucket_is_no_such_bucket(v2):
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=unique_bucket_name("none")))
    err = v2_service_error(e)
    assert (err.status_code, err.code) == (404, "NoSuchBucket")


def test_get_bucket_location(bucket, v2, bucket_name):
    assert bucket.get_bucket_location().location == LOCATION
    assert v2.get_bucket_location(oss.GetBucketLocationRequest(bucket=bucket_name)).location == LOCATION


def test_object_ops_on_missing_bucket_are_no_such_bucket(coffer):
    b = oss2_bucket_for(coffer, unique_bucket_name("none"))
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        b.put_object("k", b"v")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        b.list_objects()
    with pytest.raises(oss2.exceptions.NoSuchBucket) as e:
        b.head_object("k")
    assert e.value.code == "NoSuchBucket", "HEAD errors must carry the code in x-oss-err"


def test_localhost_endpoint_is_path_style_for_oss2_and_v2(coffer, bucket_name):
    """oss2 treats `localhost` like an IP (path style); v2 needs use_path_style there."""
    b = oss2_bucket_for(coffer, bucket_name, endpoint=coffer.localhost_endpoint)
    b.put_object("lh", b"localhost")
    assert b.get_object("lh").read() == b"localhost"
    client = v2_client_for(coffer, "v4", endpoint=coffer.localhost_endpoint, use_path_style=True)
    got = client.get_object(oss.GetObjectRequest(bucket=bucket_name, key="lh"))
    assert got.body.read() == b"localhost"


def test_bucket_stat_counts_objects_bytes_classes_and_uploads(bucket):
    empty = bucket.get_bucket_stat()
    assert (empty.storage_size_in_bytes, empty.object_count, empty.multi_part_upload_count) == (0, 0, 0)
    assert empty.last_modified_time == 0
    bucket.put_object("a", b"x" * 100)
    bucket.put_object("b", b"y" * 20, headers={"x-oss-storage-class": "IA"})
    bucket.put_object("c", b"z" * 3, headers={"x-oss-server-side-encryption": "AES256"})
    up = bucket.init_multipart_upload("mp")
    bucket.upload_part("mp", up.upload_id, 1, b"p" * 10)
    bucket.upload_part("mp", up.upload_id, 2, b"q")
    bucket.init_multipart_upload("mp2")
    stat = bucket.get_bucket_stat()
    assert stat.storage_size_in_bytes == 123  # plaintext bytes, whatever the encryption
    assert stat.object_count == 3
    assert stat.multi_part_upload_count == 2
    assert stat.multipart_part_count == 2
    assert (stat.standard_storage, stat.standard_object_count) == (103, 2)
    assert (stat.infrequent_access_storage, stat.infrequent_access_object_count) == (20, 1)
    assert stat.archive_object_count == 0
    newest = bucket.head_object("c").last_modified
    assert stat.last_modified_time == newest
    bucket.delete_object("a")
    assert bucket.get_bucket_stat().object_count == 2


def test_bucket_stat_through_the_v2_sdk(v2c, bucket, bucket_name):
    import alibabacloud_oss_v2 as oss

    bucket.put_object("a", b"x" * 7)
    stat = v2c.get_bucket_stat(oss.GetBucketStatRequest(bucket=bucket_name))
    assert (stat.storage, stat.object_count, stat.standard_storage) == (7, 1, 7)
