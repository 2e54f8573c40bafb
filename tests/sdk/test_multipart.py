"""Multipart upload: initiate, upload part, complete, list parts, list uploads, abort,
UploadPartCopy, the completion errors, and the SDKs' resumable/concurrent uploaders."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

import alibabacloud_oss_v2 as oss
import oss2
import pytest
from oss2.models import PartInfo

from sdkutil import crc64, md5_hex_upper, random_bytes, v2_service_error

KB = 1024
MB = 1024 * 1024
MIN_PART = 100 * KB  # OSS API reference, "CompleteMultipartUpload": non-last parts must be >= 100 KB
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z")


def multipart_etag(parts: list[bytes]) -> str:
    """MD5 over the concatenated binary MD5s, upper hex, '-' part count (S3's scheme; OSS is silent)."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest().upper()
    return f"{digest}-{len(parts)}"


def upload_parts(bucket, key, upload_id, parts):
    infos = []
    for n, data in enumerate(parts, start=1):
        r = bucket.upload_part(key, upload_id, n, data)  # oss2 checks the part CRC itself
        assert r.etag == md5_hex_upper(data)
        assert r.crc == crc64(data)
        infos.append(PartInfo(n, r.etag, size=len(data), part_crc=r.crc))
    return infos


def test_multipart_upload_round_trip(ob):
    parts = [random_bytes(MIN_PART + 1), random_bytes(MIN_PART), random_bytes(10)]
    key = "dir/multi part+.bin"
    upload_id = ob.init_multipart_upload(key).upload_id
    assert upload_id
    infos = upload_parts(ob, key, upload_id, parts)

    listed = ob.list_parts(key, upload_id)
    assert [(p.part_number, p.etag, p.size) for p in listed.parts] == [
        (i.part_number, i.etag, i.size) for i in infos
    ]
    assert listed.is_truncated is False
    assert key in [u.key for u in oss2.MultipartUploadIterator(ob)]

    # part_crc + size in PartInfo make oss2 verify the combined CRC of Complete.
    done = ob.complete_multipart_upload(key, upload_id, infos)
    assert done.status == 200
    data = b"".join(parts)
    assert done.etag == multipart_etag(parts)
    assert done.crc == crc64(data)

    head = ob.head_object(key)
    assert head.object_type == "Multipart"
    assert head.content_length == len(data)
    assert head.etag == done.etag
    assert ob.get_object(key).read() == data
    # The upload is gone once completed.
    assert key not in [u.key for u in oss2.MultipartUploadIterator(ob)]
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        ob.list_parts(key, upload_id)


def test_single_small_part_is_allowed(bucket):
    upload_id = bucket.init_multipart_upload("one").upload_id
    infos = upload_parts(bucket, "one", upload_id, [b"tiny"])
    bucket.complete_multipart_upload("one", upload_id, infos)
    assert bucket.get_object("one").read() == b"tiny"


def test_reuploading_a_part_replaces_it(bucket):
    upload_id = bucket.init_multipart_upload("re").upload_id
    bucket.upload_part("re", upload_id, 1, random_bytes(MIN_PART))
    first = random_bytes(MIN_PART)
    r1 = bucket.upload_part("re", upload_id, 1, first)
    r2 = bucket.upload_part("re", upload_id, 2, b"end")
    assert [p.etag for p in bucket.list_parts("re", upload_id).parts] == [r1.etag, r2.etag]
    bucket.complete_multipart_upload("re", upload_id, [PartInfo(1, r1.etag), PartInfo(2, r2.etag)])
    assert bucket.get_object("re").read() == first + b"end"


def test_complete_with_parts_in_any_subset(bucket):
    """Complete may list a subset of the uploaded parts; the others are dropped."""
    upload_id = bucket.init_multipart_upload("sub").upload_id
    a, b, c = random_bytes(MIN_PART), random_bytes(MIN_PART), b"last"
    r1 = bucket.upload_part("sub", upload_id, 1, a)
    bucket.upload_part("sub", upload_id, 2, b)
    r3 = bucket.upload_part("sub", upload_id, 3, c)
    bucket.complete_multipart_upload("sub", upload_id, [PartInfo(1, r1.etag), PartInfo(3, r3.etag)])
    assert bucket.get_object("sub").read() == a + c


def test_complete_all_header_uses_every_uploaded_part(bucket):
    upload_id = bucket.init_multipart_upload("all").upload_id
    parts = [random_bytes(MIN_PART), random_bytes(5)]
    upload_parts(bucket, "all", upload_id, parts)
    bucket.complete_multipart_upload("all", upload_id, None, headers={"x-oss-complete-all": "yes"})
    assert bucket.get_object("all").read() == b"".join(parts)


def test_initiate_metadata_is_applied_to_completed_object(bucket):
    upload_id = bucket.init_multipart_upload(
        "meta.json", headers={"Content-Type": "application/x-mp", "x-oss-meta-origin": "mp"}
    ).upload_id
    infos = upload_parts(bucket, "meta.json", upload_id, [b"{}"])
    bucket.complete_multipart_upload("meta.json", upload_id, infos)
    head = bucket.head_object("meta.json")
    assert head.content_type == "application/x-mp"
    assert head.headers.get("x-oss-meta-origin") == "mp"


def test_abort_multipart_upload(bucket):
    upload_id = bucket.init_multipart_upload("ab").upload_id
    bucket.upload_part("ab", upload_id, 1, b"x")
    assert bucket.abort_multipart_upload("ab", upload_id).status == 204
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("ab", upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.upload_part("ab", upload_id, 2, b"y")
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.complete_multipart_upload("ab", upload_id, [PartInfo(1, md5_hex_upper(b"x"))])
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.abort_multipart_upload("ab", upload_id)
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("ab")


def test_list_parts_paging(bucket):
    upload_id = bucket.init_multipart_upload("lp").upload_id
    etags = [bucket.upload_part("lp", upload_id, n, f"part{n}".encode()).etag for n in range(1, 6)]
    seen, marker = [], ""
    while True:
        r = bucket.list_parts("lp", upload_id, marker=marker, max_parts=2)
        seen += [(p.part_number, p.etag) for p in r.parts]
        if not r.is_truncated:
            break
        assert int(r.next_marker) == r.parts[-1].part_number
        marker = r.next_marker
    assert seen == list(zip(range(1, 6), etags))
    assert [p.part_number for p in oss2.PartIterator(bucket, "lp", upload_id, max_parts=1)] == [1, 2, 3, 4, 5]


def test_list_multipart_uploads_prefix_delimiter_and_paging(bucket):
    ids = {}
    for key in ["a/1", "a/2", "a/2", "b/1", "c"]:
        ids.setdefault(key, []).append(bucket.init_multipart_upload(key).upload_id)
    every = sorted((k, u) for k, us in ids.items() for u in us)

    r = bucket.list_multipart_uploads(max_uploads=1000)
    assert sorted((u.key, u.upload_id) for u in r.upload_list) == every
    assert [u.key for u in r.upload_list] == sorted(u.key for u in r.upload_list)

    r = bucket.list_multipart_uploads(prefix="a/")
    assert sorted(u.key for u in r.upload_list) == ["a/1", "a/2", "a/2"]

    r = bucket.list_multipart_uploads(delimiter="/")
    assert [u.key for u in r.upload_list] == ["c"]
    assert r.prefix_list == ["a/", "b/"]

    paged = [(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(bucket, max_uploads=1)]
    assert sorted(paged) == every
    assert len(paged) == len(set(paged))


def test_list_multipart_uploads_xml_always_has_next_markers(raw, bucket, bucket_name):
    """oss2 needs NextKeyMarker/NextUploadIdMarker always present, and NextPartNumberMarker in ListParts."""
    r = raw.request("GET", bucket_name, query=[("uploads", "")])
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.find("NextKeyMarker") is not None and root.find("NextUploadIdMarker") is not None
    upload_id = bucket.init_multipart_upload("x").upload_id
    bucket.upload_part("x", upload_id, 1, b"p")
    r = raw.request("GET", bucket_name, query=[("uploads", "")])
    upload = ET.fromstring(r.body).find("Upload")
    assert upload.findtext("UploadId") == upload_id
    assert TIME_RE.fullmatch(upload.findtext("Initiated"))
    r = raw.request("GET", bucket_name, "x", query=[("uploadId", upload_id)])
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.find("NextPartNumberMarker") is not None
    part = root.find("Part")
    assert TIME_RE.fullmatch(part.findtext("LastModified"))
    assert part.findtext("Size") == "1"


def test_v2_sdk_multipart_round_trip(v2c, bucket_name):
    key = "v2/mp.bin"
    init = v2c.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(bucket=bucket_name, key=key))
    assert init.upload_id and init.key == key
    parts = [random_bytes(MIN_PART + 3), random_bytes(99)]
    uploaded = []
    for n, data in enumerate(parts, start=1):
        r = v2c.upload_part(
            oss.UploadPartRequest(bucket=bucket_name, key=key, upload_id=init.upload_id, part_number=n, body=data)
        )
        assert r.hash_crc64 == str(crc64(data))
        uploaded.append(oss.UploadPart(part_number=n, etag=r.etag))
    lp = v2c.list_parts(oss.ListPartsRequest(bucket=bucket_name, key=key, upload_id=init.upload_id))
    assert [p.part_number for p in lp.parts] == [1, 2]
    lu = v2c.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=bucket_name))
    assert [(u.key, u.upload_id) for u in lu.uploads] == [(key, init.upload_id)]
    done = v2c.complete_multipart_upload(
        oss.CompleteMultipartUploadRequest(
            bucket=bucket_name,
            key=key,
            upload_id=init.upload_id,
            complete_multipart_upload=oss.CompleteMultipartUpload(parts=uploaded),
        )
    )
    assert done.key == key
    assert done.hash_crc64 == str(crc64(b"".join(parts)))
    got = v2c.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
    assert got.body.read() == b"".join(parts)


def test_v2_sdk_abort(v2, bucket_name):
    init = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(bucket=bucket_name, key="ab"))
    r = v2.abort_multipart_upload(
        oss.AbortMultipartUploadRequest(bucket=bucket_name, key="ab", upload_id=init.upload_id)
    )
    assert r.status_code == 204
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2.list_parts(oss.ListPartsRequest(bucket=bucket_name, key="ab", upload_id=init.upload_id))
    err = v2_service_error(e)
    assert (err.status_code, err.code) == (404, "NoSuchUpload")


# -- UploadPartCopy --------------------------------------------------------------------------


def test_upload_part_copy(bucket, coffer, bucket_name):
    source = random_bytes(300 * KB + 17)
    bucket.put_object("src/data bin", source)
    upload_id = bucket.init_multipart_upload("dst").upload_id
    r1 = bucket.upload_part_copy(bucket_name, "src/data bin", (0, 150 * KB - 1), "dst", upload_id, 1)
    r2 = bucket.upload_part_copy(bucket_name, "src/data bin", (150 * KB, len(source) - 1), "dst", upload_id, 2)
    r3 = bucket.upload_part("dst", upload_id, 3, b"tail")
    assert r1.etag == md5_hex_upper(source[: 150 * KB])
    assert r2.etag == md5_hex_upper(source[150 * KB :])
    bucket.complete_multipart_upload(
        "dst", upload_id, [PartInfo(1, r1.etag), PartInfo(2, r2.etag), PartInfo(3, r3.etag)]
    )
    assert bucket.get_object("dst").read() == source + b"tail"


def test_upload_part_copy_whole_source_with_v2_sdk(v2, bucket, bucket_name):
    source = random_bytes(123 * KB)
    bucket.put_object("whole", source)
    init = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(bucket=bucket_name, key="copy"))
    r = v2.upload_part_copy(
        oss.UploadPartCopyRequest(
            bucket=bucket_name,
            key="copy",
            upload_id=init.upload_id,
            part_number=1,
            source_bucket=bucket_name,
            source_key="whole",
        )
    )
    assert r.etag.strip('"') == md5_hex_upper(source)
    v2.complete_multipart_upload(
        oss.CompleteMultipartUploadRequest(
            bucket=bucket_name,
            key="copy",
            upload_id=init.upload_id,
            complete_multipart_upload=oss.CompleteMultipartUpload(
                parts=[oss.UploadPart(part_number=1, etag=r.etag)]
            ),
        )
    )
    assert bucket.get_object("copy").read() == source


def test_upload_part_copy_from_missing_source_is_no_such_key(bucket, bucket_name):
    upload_id = bucket.init_multipart_upload("dst").upload_id
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.upload_part_copy(bucket_name, "missing", None, "dst", upload_id, 1)


# -- completion errors -----------------------------------------------------------------------


def complete_xml(parts: list[tuple[int, str]]) -> bytes:
    body = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>\"{e}\"</ETag></Part>" for n, e in parts)
    return f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode()


@pytest.fixture
def two_parts(bucket):
    upload_id = bucket.init_multipart_upload("err").upload_id
    p1 = random_bytes(MIN_PART)
    e1 = bucket.upload_part("err", upload_id, 1, p1).etag
    e2 = bucket.upload_part("err", upload_id, 2, b"end").etag
    return upload_id, e1, e2


def test_complete_with_wrong_etag_is_invalid_part(bucket, two_parts):
    upload_id, e1, e2 = two_parts
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.complete_multipart_upload(
            "err", upload_id, [PartInfo(1, e1), PartInfo(2, "0123456789ABCDEF0123456789ABCDEF")]
        )
    assert (e.value.status, e.value.code) == (400, "InvalidPart")
    # The upload survives a failed completion.
    assert len(bucket.list_parts("err", upload_id).parts) == 2


def test_complete_with_part_never_uploaded_is_invalid_part(bucket, two_parts):
    upload_id, e1, e2 = two_parts
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.complete_multipart_upload("err", upload_id, [PartInfo(1, e1), PartInfo(3, e2)])
    assert (e.value.status, e.value.code) == (400, "InvalidPart")


def test_complete_with_unsorted_parts_is_invalid_part_order(raw, bucket, bucket_name, two_parts):
    # oss2 sorts parts itself, so send the XML by hand.
    upload_id, e1, e2 = two_parts
    r = raw.request("POST", bucket_name, "err", query=[("uploadId", upload_id)], body=complete_xml([(2, e2), (1, e1)]))
    assert (r.status, r.code) == (400, "InvalidPartOrder"), r
    r = raw.request("POST", bucket_name, "err", query=[("uploadId", upload_id)], body=complete_xml([(1, e1), (1, e1)]))
    assert (r.status, r.code) == (400, "InvalidPartOrder"), r
    # And the correct order still completes it.
    r = raw.request("POST", bucket_name, "err", query=[("uploadId", upload_id)], body=complete_xml([(1, e1), (2, e2)]))
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.tag == "CompleteMultipartUploadResult"
    assert root.findtext("Key") == "err" and root.findtext("Bucket") == bucket_name
    assert root.findtext("ETag").strip('"').endswith("-2")


def test_complete_with_small_non_last_part_is_entity_too_small(bucket):
    upload_id = bucket.init_multipart_upload("small").upload_id
    infos = upload_parts(bucket, "small", upload_id, [b"x" * (MIN_PART - 1), b"y"])
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.complete_multipart_upload("small", upload_id, infos)
    assert (e.value.status, e.value.code) == (400, "EntityTooSmall")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("small")


def test_complete_unknown_upload_id_is_no_such_upload(bucket):
    with pytest.raises(oss2.exceptions.NoSuchUpload) as e:
        bucket.complete_multipart_upload("k", "0123456789ABCDEF0123456789ABCDEF", [PartInfo(1, "A" * 32)])
    assert (e.value.status, e.value.code) == (404, "NoSuchUpload")


def test_upload_id_is_bound_to_its_key(bucket):
    upload_id = bucket.init_multipart_upload("mine").upload_id
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.upload_part("other", upload_id, 1, b"x")


# -- SDK transfer managers -------------------------------------------------------------------


@pytest.fixture
def big_file(tmp_path):
    data = random_bytes(25 * MB + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    return path, data


def test_oss2_resumable_upload_and_download(bucket, big_file, tmp_path):
    path, data = big_file
    result = oss2.resumable_upload(
        bucket,
        "resumable/big.bin",
        str(path),
        store=oss2.ResumableStore(root=str(tmp_path / "store")),
        multipart_threshold=1 * MB,
        part_size=1 * MB,
        num_threads=4,
    )
    # oss2 verified every part CRC and the combined CRC of Complete.
    assert result.etag.endswith("-26")
    head = bucket.head_object("resumable/big.bin")
    assert head.object_type == "Multipart"
    assert head.content_length == len(data)
    assert head.server_crc == crc64(data)

    # Ranges across part boundaries read the right bytes.
    for first, last in [(MB - 1, MB), (MB - 10, 3 * MB + 10), (0, 0), (len(data) - 1, len(data) - 1)]:
        got = bucket.get_object("resumable/big.bin", byte_range=(first, last))
        assert got.status == 206
        assert got.read() == data[first : last + 1], (first, last)

    dest = tmp_path / "down.bin"
    bucket.get_object_to_file("resumable/big.bin", str(dest))  # whole-object CRC check
    assert dest.read_bytes() == data

    ranged = tmp_path / "ranged.bin"
    oss2.resumable_download(
        bucket,
        "resumable/big.bin",
        str(ranged),
        store=oss2.ResumableDownloadStore(root=str(tmp_path / "dstore")),
        multiget_threshold=1 * MB,
        part_size=3 * MB,
        num_threads=4,
    )
    assert ranged.read_bytes() == data


def test_v2_uploader_and_downloader(v2, bucket_name, big_file, tmp_path):
    path, data = big_file
    uploader = v2.uploader(part_size=2 * MB, parallel_num=3)
    result = uploader.upload_file(oss.PutObjectRequest(bucket=bucket_name, key="v2/big.bin"), str(path))
    assert result.upload_id
    assert result.hash_crc64 == str(crc64(data))
    dest = tmp_path / "v2down.bin"
    v2.downloader(part_size=4 * MB, parallel_num=3).download_file(
        oss.GetObjectRequest(bucket=bucket_name, key="v2/big.bin"), str(dest)
    )
    assert dest.read_bytes() == data
    dest2 = tmp_path / "v2get.bin"
    v2.get_object_to_file(oss.GetObjectRequest(bucket=bucket_name, key="v2/big.bin"), str(dest2))
    assert dest2.read_bytes() == data
