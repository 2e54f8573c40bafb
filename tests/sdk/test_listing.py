"""ListObjects (v1) and ListObjectsV2: prefix, delimiter, markers, continuation tokens, max-keys,
encoding-type=url, and paging over ~3000 keys with every client."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import alibabacloud_oss_v2 as oss
import oss2
import pytest

from sdkutil import delete_bucket_with_contents, oss2_bucket_for, unique_bucket_name

TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z")

# Keys chosen to need URL encoding in listings, sorted by UTF-8 bytes (OSS order).
KEYS = sorted(
    [
        "a.txt",
        "b/1.txt",
        "b/2.txt",
        "b/c/3.txt",
        "b/c/4.txt",
        "c d/space.txt",
        "e+plus/p.txt",
        "f&amp/x.txt",
        "g%41percent.txt",
        "h%2Fslash-escaped.txt",
        "i?q#h.txt",
        "j<lt>&gt'.txt",
        "ünï/cödé.txt",
        "中文/文件.txt",
        "z",
    ],
    key=lambda k: k.encode(),
)


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode())


@pytest.fixture
def populated(bucket):
    for k in KEYS:
        bucket.put_object(k, k.encode())
    return bucket


# -- ListObjects v1 --------------------------------------------------------------------------


def test_list_objects_all_keys_decoded(populated):
    result = populated.list_objects(max_keys=1000)
    assert [o.key for o in result.object_list] == KEYS
    assert result.is_truncated is False
    for o in result.object_list:
        assert o.size == len(o.key.encode())
        assert o.type == "Normal"
        assert o.storage_class == "Standard"
        assert o.etag and o.etag == o.etag.upper()
        assert o.last_modified > 0


def test_list_objects_prefix_and_delimiter(populated):
    result = populated.list_objects(delimiter="/", max_keys=1000)
    assert [o.key for o in result.object_list] == [k for k in KEYS if "/" not in k]
    assert result.prefix_list == utf8_sorted({k.split("/")[0] + "/" for k in KEYS if "/" in k})
    result = populated.list_objects(prefix="b/", delimiter="/")
    assert [o.key for o in result.object_list] == ["b/1.txt", "b/2.txt"]
    assert result.prefix_list == ["b/c/"]
    result = populated.list_objects(prefix="b/c/")
    assert [o.key for o in result.object_list] == ["b/c/3.txt", "b/c/4.txt"]
    result = populated.list_objects(prefix="c d/")
    assert [o.key for o in result.object_list] == ["c d/space.txt"]
    result = populated.list_objects(prefix="中文/")
    assert [o.key for o in result.object_list] == ["中文/文件.txt"]
    assert populated.list_objects(prefix="nothing-here").object_list == []


def test_list_objects_marker_paging(populated):
    keys, marker, pages = [], "", 0
    while True:
        r = populated.list_objects(marker=marker, max_keys=4)
        pages += 1
        assert len(r.object_list) <= 4
        keys += [o.key for o in r.object_list]
        if not r.is_truncated:
            break
        assert r.next_marker == r.object_list[-1].key
        marker = r.next_marker
    assert keys == KEYS
    assert pages == (len(KEYS) + 3) // 4


def test_list_objects_marker_is_exclusive(populated):
    r = populated.list_objects(marker="b/2.txt", max_keys=1000)
    assert [o.key for o in r.object_list] == [k for k in KEYS if k.encode() > b"b/2.txt"]


def test_list_objects_paging_counts_common_prefixes(populated):
    seen_keys, seen_prefixes, marker = [], [], ""
    while True:
        r = populated.list_objects(delimiter="/", marker=marker, max_keys=2)
        assert len(r.object_list) + len(r.prefix_list) <= 2
        seen_keys += [o.key for o in r.object_list]
        seen_prefixes += r.prefix_list
        if not r.is_truncated:
            break
        marker = r.next_marker
    assert seen_keys == [k for k in KEYS if "/" not in k]
    assert seen_prefixes == utf8_sorted({k.split("/")[0] + "/" for k in KEYS if "/" in k})


def test_list_objects_with_v2_sdk(v2c, populated, bucket_name):
    r = v2c.list_objects(oss.ListObjectsRequest(bucket=bucket_name, prefix="b/", delimiter="/"))
    assert [o.key for o in r.contents] == ["b/1.txt", "b/2.txt"]
    assert [p.prefix for p in r.common_prefixes] == ["b/c/"]
    keys = []
    for page in v2c.list_objects_paginator(limit=3).iter_page(oss.ListObjectsRequest(bucket=bucket_name)):
        keys += [o.key for o in page.contents or []]
    assert keys == KEYS


# -- ListObjectsV2 ---------------------------------------------------------------------------


def test_list_objects_v2_continuation_paging(populated):
    keys, token = [], ""
    while True:
        r = populated.list_objects_v2(continuation_token=token, max_keys=4)
        keys += [o.key for o in r.object_list]
        if not r.is_truncated:
            break
        assert r.next_continuation_token
        token = r.next_continuation_token
    assert keys == KEYS


def test_list_objects_v2_start_after(populated):
    r = populated.list_objects_v2(start_after="b/c/3.txt", max_keys=1000)
    assert [o.key for o in r.object_list] == [k for k in KEYS if k.encode() > "b/c/3.txt".encode()]


def test_list_objects_v2_prefix_delimiter(populated):
    r = populated.list_objects_v2(prefix="b/", delimiter="/")
    assert [o.key for o in r.object_list] == ["b/1.txt", "b/2.txt"]
    assert r.prefix_list == ["b/c/"]


def test_list_objects_v2_fetch_owner(populated):
    with_owner = populated.list_objects_v2(fetch_owner=True)
    assert all(o.owner is not None and o.owner.id for o in with_owner.object_list)
    without = populated.list_objects_v2(fetch_owner=False)
    assert all(o.owner is None for o in without.object_list)


def test_list_objects_v2_with_v2_sdk_paginator(v2c, populated, bucket_name):
    keys = []
    for page in v2c.list_objects_v2_paginator(limit=5).iter_page(oss.ListObjectsV2Request(bucket=bucket_name)):
        assert page.key_count == len(page.contents or []) + len(page.common_prefixes or [])
        keys += [o.key for o in page.contents or []]
    assert keys == KEYS


# -- encoding-type=url on the wire -----------------------------------------------------------


@pytest.mark.parametrize("list_type", ["1", "2"])
def test_encoding_type_url_encodes_keys_prefixes_and_markers(raw, populated, bucket_name, list_type):
    query = [("encoding-type", "url"), ("max-keys", "5"), ("delimiter", "/")]
    if list_type == "2":
        query.append(("list-type", "2"))
    r = raw.request("GET", bucket_name, query=query)
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.findtext("EncodingType") == "url"
    raw_keys = [c.findtext("Key") for c in root.findall("Contents")]
    raw_prefixes = [c.findtext("Prefix") for c in root.findall("CommonPrefixes")]
    for text in raw_keys + raw_prefixes:
        # Encoded text has no space, '+' (ambiguous), '&', '<', '>' or non-ASCII, and every
        # '%' starts an escape.
        assert not re.search(r"[ +&<>\x80-\U0010ffff]", text), text
        assert not re.search(r"%(?![0-9A-Fa-f]{2})", text), text
    decoded = [unquote(k) for k in raw_keys]
    decoded_prefixes = [unquote(p) for p in raw_prefixes]
    expect_all = utf8_sorted(
        [k for k in KEYS if "/" not in k] + list({k.split("/")[0] + "/" for k in KEYS if "/" in k})
    )
    assert utf8_sorted(decoded + decoded_prefixes) == expect_all[:5]
    if list_type == "1":
        # The marker is the last entry (key or common prefix) or a key inside that prefix.
        assert unquote(root.findtext("NextMarker")).startswith(expect_all[4])


@pytest.mark.parametrize("list_type", ["1", "2"])
def test_without_encoding_type_keys_are_plain_xml_text(raw, populated, bucket_name, list_type):
    query = [("max-keys", "1000")] + ([("list-type", "2")] if list_type == "2" else [])
    r = raw.request("GET", bucket_name, query=query)
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.find("EncodingType") is None
    assert [c.findtext("Key") for c in root.findall("Contents")] == KEYS


def test_list_xml_shape(raw, populated, bucket_name):
    """oss2 needs every Contents to have Key, LastModified (exactly .000Z), ETag, Type, Size, StorageClass."""
    for query in ([("max-keys", "3")], [("list-type", "2"), ("max-keys", "3")]):
        r = raw.request("GET", bucket_name, query=query)
        assert r.status == 200, r
        assert r.header("Content-Type").startswith("application/xml")
        root = ET.fromstring(r.body)
        assert root.tag == "ListBucketResult"
        assert root.findtext("Name") == bucket_name
        assert root.findtext("MaxKeys") == "3"
        assert root.findtext("IsTruncated") == "true"
        contents = root.findall("Contents")
        assert len(contents) == 3
        for c in contents:
            for el in ("Key", "LastModified", "ETag", "Type", "Size", "StorageClass"):
                assert c.find(el) is not None, el
            assert TIME_RE.fullmatch(c.findtext("LastModified")), c.findtext("LastModified")
            assert re.fullmatch(r'"[0-9A-F]{32}"', c.findtext("ETag")), c.findtext("ETag")
        if ("list-type", "2") in query:
            assert root.findtext("KeyCount") == "3"
            assert root.findtext("NextContinuationToken")
        else:
            assert root.findtext("NextMarker") == contents[-1].findtext("Key")


# -- paging over ~3000 keys ------------------------------------------------------------------

BULK_COUNT = 3000
BULK_DIRS = 10


def bulk_key(i: int) -> str:
    return f"p{i % BULK_DIRS}/{i:05d}"


BULK_KEYS = sorted((bulk_key(i) for i in range(BULK_COUNT)), key=lambda k: k.encode())


@pytest.fixture(scope="module")
def bulk(coffer):
    """A bucket with 3000 small objects, written concurrently."""
    name = unique_bucket_name("bulk")
    b = oss2_bucket_for(coffer, name)
    b.create_bucket()
    with ThreadPoolExecutor(max_workers=10) as pool:  # oss2 pools 10 connections
        list(pool.map(lambda k: b.put_object(k, k.encode()), BULK_KEYS))
    yield name, b
    delete_bucket_with_contents(b)


def test_bulk_paging_v1_markers(bulk):
    _, b = bulk
    keys = [o.key for o in oss2.ObjectIterator(b, max_keys=1000)]
    assert keys == BULK_KEYS
    small = [o.key for o in oss2.ObjectIterator(b, prefix="p3/", max_keys=97)]
    assert small == [k for k in BULK_KEYS if k.startswith("p3/")]
    assert len(small) == BULK_COUNT // BULK_DIRS


def test_bulk_paging_v2_continuation_tokens(bulk):
    _, b = bulk
    pages = 0
    keys, token = [], ""
    while True:
        r = b.list_objects_v2(continuation_token=token, max_keys=1000)
        pages += 1
        keys += [o.key for o in r.object_list]
        if not r.is_truncated:
            break
        token = r.next_continuation_token
    assert keys == BULK_KEYS
    assert pages == 3
    assert [o.key for o in oss2.ObjectIteratorV2(b, max_keys=250)] == BULK_KEYS


def test_bulk_delimiter_collapses_to_common_prefixes(bulk):
    _, b = bulk
    for list_fn in (b.list_objects, b.list_objects_v2):
        r = list_fn(delimiter="/", max_keys=1000)
        assert r.object_list == []
        assert r.prefix_list == [f"p{i}/" for i in range(BULK_DIRS)]
        assert r.is_truncated is False


def test_bulk_paging_with_v2_sdk(v2, bulk):
    name, _ = bulk
    keys = []
    for page in v2.list_objects_v2_paginator(limit=700).iter_page(oss.ListObjectsV2Request(bucket=name)):
        keys += [o.key for o in page.contents or []]
    assert keys == BULK_KEYS
    keys = []
    for page in v2.list_objects_paginator(limit=1000).iter_page(oss.ListObjectsRequest(bucket=name)):
        keys += [o.key for o in page.contents or []]
    assert keys == BULK_KEYS


def test_bulk_server_default_max_keys(raw, bulk):
    name, _ = bulk
    r = raw.request("GET", name)
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert len(root.findall("Contents")) == 100
    assert root.findtext("MaxKeys") == "100"
    assert root.findtext("IsTruncated") == "true"


def test_listing_reports_object_types(bucket):
    bucket.put_object("normal", b"n")
    bucket.append_object("appendable", 0, b"a")
    upload_id = bucket.init_multipart_upload("multipart").upload_id
    etag = bucket.upload_part("multipart", upload_id, 1, b"m").etag
    bucket.complete_multipart_upload("multipart", upload_id, [oss2.models.PartInfo(1, etag)])
    types = {o.key: o.type for o in bucket.list_objects().object_list}
    assert types == {"normal": "Normal", "appendable": "Appendable", "multipart": "Multipart"}
    types_v2 = {o.key: o.type for o in bucket.list_objects_v2().object_list}
    assert types_v2 == types


@pytest.mark.parametrize("list_type", ["1", "2"])
def test_plus_in_query_means_space(raw, populated, bucket_name, list_type):
    """oss2 (through requests) sends spaces in query values as '+'; '%2B' is a literal plus."""
    lt = "&list-type=2" if list_type == "2" else ""
    r = raw.request("GET", bucket_name, query=[("prefix", "c d/")], target=f"/{bucket_name}/?prefix=c+d%2F{lt}")
    assert r.status == 200, r
    assert [c.findtext("Key") for c in ET.fromstring(r.body).findall("Contents")] == ["c d/space.txt"]
    r = raw.request("GET", bucket_name, query=[("prefix", "e+plus/")], target=f"/{bucket_name}/?prefix=e%2Bplus%2F{lt}")
    assert r.status == 200, r
    assert [c.findtext("Key") for c in ET.fromstring(r.body).findall("Contents")] == ["e+plus/p.txt"]
