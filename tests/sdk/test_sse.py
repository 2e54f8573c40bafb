"""Server-side encryption through the real SDKs: every method by header and by bucket default,
precedence, history rules, re-encryption by copy, multipart, appends, ranges across chunk edges,
large objects, encryption at rest and tamper detection.

Every method runs every case: AES256 and SM4 (service-managed keys) and KMS (the account's default
CMK, created on first use by the built-in KMS). Named CMKs, and what disabling or deleting one
does, are in test_sse_kms.py.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import alibabacloud_oss_v2 as oss
import oss2
import pytest
import requests

from coffer_harness import CofferServer
from sdkutil import crc64, md5_hex_upper, oss2_bucket_for, random_bytes, unique_bucket_name

SSE = "x-oss-server-side-encryption"
METHODS = ["AES256", "SM4", "KMS"]
CHUNK = 64 * 1024  # the format's default chunk length: boundaries worth testing around


def sse_of(headers) -> str | None:
    return headers.get(SSE)


@pytest.mark.parametrize("method", METHODS)
def test_header_encrypts_and_every_surface_reports_plaintext(bucket, method):
    data = random_bytes(3 * CHUNK + 17, seed=1)
    r = bucket.put_object("obj", data, headers={SSE: method, "x-oss-meta-owner": "alice"})
    assert sse_of(r.headers) == method
    assert r.etag == md5_hex_upper(data)
    assert r.crc == crc64(data)
    g = bucket.get_object("obj")
    assert sse_of(g.headers) == method
    assert g.read() == data
    h = bucket.head_object("obj")
    assert sse_of(h.headers) == method
    assert h.content_length == len(data)
    assert h.etag == md5_hex_upper(data)
    assert h.headers["x-oss-meta-owner"] == "alice"  # metadata stays readable
    assert int(h.headers["x-oss-hash-crc64ecma"]) == crc64(data)
    meta = bucket.get_object_meta("obj")
    assert meta.content_length == len(data)
    listed = [o for o in bucket.list_objects().object_list if o.key == "obj"][0]
    assert listed.size == len(data)
    assert listed.etag == md5_hex_upper(data)


@pytest.mark.parametrize("method", METHODS)
def test_v2_sdk_round_trip_and_headers(coffer, bucket_name, method):
    from sdkutil import v2_client_for

    client = v2_client_for(coffer, "v4")
    data = random_bytes(200_000, seed=2)
    put = client.put_object(
        oss.PutObjectRequest(bucket=bucket_name, key="v2", body=data, server_side_encryption=method)
    )
    assert put.headers.get(SSE) == method
    got = client.get_object(oss.GetObjectRequest(bucket=bucket_name, key="v2"))
    assert got.server_side_encryption == method
    assert got.body.read() == data
    head = client.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="v2"))
    assert head.server_side_encryption == method
    assert head.content_length == len(data)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1, 1_000_003])
@pytest.mark.parametrize("method", METHODS)
def test_sizes_around_chunk_boundaries(bucket, method, size):
    data = random_bytes(size, seed=size)
    bucket.put_object("s", data, headers={SSE: method})
    assert bucket.get_object("s").read() == data
    if size:
        for first, last in [(0, 0), (size - 1, size - 1), (0, size - 1)]:
            assert bucket.get_object("s", byte_range=(first, last)).read() == data[first : last + 1]


@pytest.mark.parametrize("method", METHODS)
def test_ranges_match_plaintext(bucket, method):
    size = 5 * CHUNK + 12345
    data = random_bytes(size, seed=3)
    bucket.put_object("r", data, headers={SSE: method})
    rng = random.Random(4)
    ranges = [(CHUNK - 1, CHUNK), (CHUNK - 10, 3 * CHUNK + 10), (2 * CHUNK, 2 * CHUNK), (size - CHUNK - 1, size - 1)]
    ranges += [tuple(sorted((rng.randrange(size), rng.randrange(size)))) for _ in range(20)]
    for first, last in ranges:
        assert bucket.get_object("r", byte_range=(first, last)).read() == data[first : last + 1], (first, last)
    # Suffix and open-ended ranges (raw Range headers).
    g = bucket.get_object("r", headers={"Range": "bytes=-1000"})
    assert g.read() == data[-1000:]
    g = bucket.get_object("r", headers={"Range": f"bytes={size - 70000}-"})
    assert g.read() == data[size - 70000 :]


@pytest.mark.parametrize("method", METHODS)
def test_bucket_default_applies_and_header_wins(bucket, method):
    other = "SM4" if method == "AES256" else "AES256"
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        bucket.get_bucket_encryption()
    bucket.put_bucket_encryption(oss2.models.ServerSideEncryptionRule(method))
    assert bucket.get_bucket_encryption().sse_algorithm == method
    assert bucket.get_bucket_info().bucket_encryption_rule.sse_algorithm == method
    data = random_bytes(100_000, seed=5)
    r = bucket.put_object("default", data)
    assert sse_of(r.headers) == method
    r = bucket.put_object("override", data, headers={SSE: other})
    assert sse_of(r.headers) == other
    assert bucket.get_object("default").read() == data
    assert bucket.get_object("override").read() == data
    # Defaults reach multipart, append and copy targets too.
    up = bucket.init_multipart_upload("mp")
    assert sse_of(up.headers) == method
    part = bucket.upload_part("mp", up.upload_id, 1, data)
    bucket.complete_multipart_upload("mp", up.upload_id, [oss2.models.PartInfo(1, part.etag)])
    assert sse_of(bucket.head_object("mp").headers) == method
    bucket.append_object("app", 0, data)
    assert sse_of(bucket.head_object("app").headers) == method
    bucket.put_object("plain-src", data, headers={SSE: other})
    bucket.copy_object(bucket.bucket_name, "plain-src", "copy")
    assert sse_of(bucket.head_object("copy").headers) == method  # target default, not the source's


def test_no_header_and_no_default_means_plain(bucket):
    r = bucket.put_object("plain", b"data")
    assert sse_of(r.headers) is None
    assert sse_of(bucket.head_object("plain").headers) is None
    assert bucket.get_bucket_info().bucket_encryption_rule.sse_algorithm in (None, "None", "")


def test_changing_the_default_never_touches_existing_objects(bucket):
    data = random_bytes(70_000, seed=6)
    bucket.put_object("before", data)
    bucket.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("AES256"))
    bucket.put_object("aes", data)
    bucket.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("SM4"))
    bucket.put_object("sm4", data)
    bucket.delete_bucket_encryption()
    bucket.put_object("after", data)
    assert sse_of(bucket.head_object("before").headers) is None
    assert sse_of(bucket.head_object("aes").headers) == "AES256"
    assert sse_of(bucket.head_object("sm4").headers) == "SM4"
    assert sse_of(bucket.head_object("after").headers) is None
    for key in ["before", "aes", "sm4", "after"]:
        assert bucket.get_object(key).read() == data


def test_copy_onto_itself_reencrypts_and_keeps_metadata(bucket):
    data = random_bytes(3 * CHUNK + 5, seed=7)
    bucket.put_object("o", data, headers={"x-oss-meta-color": "blue", "Content-Type": "text/x-test"})
    for target in ["AES256", "SM4", "AES256"]:
        bucket.copy_object(bucket.bucket_name, "o", "o", headers={SSE: target})
        h = bucket.head_object("o")
        assert sse_of(h.headers) == target
        assert h.headers["x-oss-meta-color"] == "blue"
        assert h.content_type == "text/x-test"
        assert h.etag == md5_hex_upper(data)
        assert bucket.get_object("o").read() == data
    # Back to no encryption: REPLACE without SSE headers (encryption is not inherited).
    bucket.copy_object(
        bucket.bucket_name, "o", "o", headers={"x-oss-metadata-directive": "REPLACE", "x-oss-meta-color": "red"}
    )
    h = bucket.head_object("o")
    assert sse_of(h.headers) is None
    assert h.headers["x-oss-meta-color"] == "red"
    assert bucket.get_object("o").read() == data


@pytest.mark.parametrize("method", METHODS)
def test_multipart_and_upload_part_copy(bucket, method, tmp_path):
    other = "SM4" if method == "AES256" else "AES256"
    src = random_bytes(300_000, seed=8)
    bucket.put_object("src", src, headers={SSE: other})
    up = bucket.init_multipart_upload("mp", headers={SSE: method})
    assert sse_of(up.headers) == method
    p1_data = random_bytes(200 * 1024, seed=9)
    p1 = bucket.upload_part("mp", up.upload_id, 1, p1_data)
    assert sse_of(p1.headers) == method
    p2 = bucket.upload_part_copy(bucket.bucket_name, "src", (1000, 250_999), "mp", up.upload_id, 2)
    p3 = bucket.upload_part("mp", up.upload_id, 3, b"tail")
    parts = bucket.list_parts("mp", up.upload_id).parts
    assert [p.size for p in parts] == [len(p1_data), 250_000, 4]
    r = bucket.complete_multipart_upload(
        "mp", up.upload_id, [oss2.models.PartInfo(n, p.etag) for n, p in [(1, p1), (2, p2), (3, p3)]]
    )
    assert sse_of(r.headers) == method
    whole = p1_data + src[1000:251_000] + b"tail"
    assert bucket.get_object("mp").read() == whole
    assert bucket.head_object("mp").content_length == len(whole)
    out = tmp_path / "mp.out"
    bucket.get_object_to_file("mp", str(out))  # oss2 checks the combined CRC
    assert out.read_bytes() == whole
    assert bucket.get_object("mp", byte_range=(len(p1_data) - 5, len(p1_data) + 5)).read() == whole[
        len(p1_data) - 5 : len(p1_data) + 6
    ]


@pytest.mark.parametrize("method", METHODS)
def test_resumable_upload_of_encrypted_object(bucket, method, tmp_path):
    data = random_bytes(5 * 1024 * 1024 + 3, seed=10)
    src = tmp_path / "src"
    src.write_bytes(data)
    oss2.resumable_upload(
        bucket, "big", str(src), headers={SSE: method}, multipart_threshold=1024 * 1024, part_size=1024 * 1024, num_threads=3
    )
    assert sse_of(bucket.head_object("big").headers) == method
    out = tmp_path / "out"
    bucket.get_object_to_file("big", str(out))
    assert out.read_bytes() == data


@pytest.mark.parametrize("method", METHODS)
def test_append_keeps_the_method_and_ignores_another(bucket, method):
    other = "SM4" if method == "AES256" else "AES256"
    pieces = [random_bytes(n, seed=n) for n in (10, CHUNK, 3, 2 * CHUNK + 1)]
    pos = 0
    for i, piece in enumerate(pieces):
        headers = {SSE: method} if i == 0 else {}
        r = bucket.append_object("a", pos, piece, headers=headers)
        pos = r.next_position
    whole = b"".join(pieces)
    assert bucket.get_object("a").read() == whole
    assert sse_of(bucket.head_object("a").headers) == method
    assert int(bucket.head_object("a").headers["x-oss-hash-crc64ecma"]) == crc64(whole)
    # OSS ignores a later append's SSE header: the first append's method stays.
    r = bucket.append_object("a", pos, b"x", headers={SSE: other})
    assert sse_of(r.headers) == method
    whole += b"x"
    assert sse_of(bucket.head_object("a").headers) == method
    assert bucket.get_object("a").read() == whole
    assert bucket.get_object("a", byte_range=(5, CHUNK + 20)).read() == whole[5 : CHUNK + 21]


@pytest.mark.parametrize("method", METHODS)
def test_64_mib_object(bucket, method, tmp_path):
    data = os.urandom(64 * 1024 * 1024)
    src = tmp_path / "src"
    src.write_bytes(data)
    r = bucket.put_object_from_file("huge", str(src), headers={SSE: method})
    assert r.crc == crc64(data)
    out = tmp_path / "out"
    bucket.get_object_to_file("huge", str(out))
    assert out.read_bytes() == data
    mid = 32 * 1024 * 1024 - 7
    assert bucket.get_object("huge", byte_range=(mid, mid + 1024 * 1024)).read() == data[mid : mid + 1024 * 1024 + 1]


def test_invalid_encryption_requests(bucket, raw):
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_object("x", b"x", headers={SSE: "AES128"})
    assert (e.value.status, e.value.code) == (400, "InvalidEncryptionAlgorithmError")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_object("x", b"x", headers={SSE: "AES256", "x-oss-server-side-encryption-key-id": "k"})
    assert (e.value.status, e.value.code) == (400, "InvalidArgument")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.put_object("x", b"x", headers={"x-oss-server-side-data-encryption": "SM4"})
    assert (e.value.status, e.value.code) == (400, "InvalidArgument")
    r = raw.request(
        "PUT",
        bucket.bucket_name,
        query=[("encryption", "")],
        body=b"<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>",
    )
    assert (r.status, r.code) == (400, "InvalidEncryptionAlgorithmError")
    bad_rules = [
        "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k1</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>",
        "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm><KMSDataEncryption>AES</KMSDataEncryption></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>",
    ]
    for body in bad_rules:
        r = raw.request("PUT", bucket.bucket_name, query=[("encryption", "")], body=body.encode())
        assert (r.status, r.code) == (400, "InvalidArgument"), body
    r = raw.request("PUT", bucket.bucket_name, query=[("encryption", "")], body=b"<ServerSideEncryptionRule>")
    assert (r.status, r.code) == (400, "MalformedXML")
    # The docs' own sample: an empty KMSMasterKeyID with AES256 is fine.
    ok = "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID></KMSMasterKeyID></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>"
    r = raw.request("PUT", bucket.bucket_name, query=[("encryption", "")], body=ok.encode())
    assert r.status == 200
    assert bucket.get_bucket_encryption().sse_algorithm == "AES256"


def test_encryption_set_at_bucket_creation(coffer):
    name = unique_bucket_name("enc")
    b = oss2_bucket_for(coffer, name)
    b.create_bucket(headers={SSE: "SM4"})
    try:
        assert b.get_bucket_encryption().sse_algorithm == "SM4"
        assert sse_of(b.put_object("k", b"v").headers) == "SM4"
    finally:
        b.delete_object("k")
        b.delete_bucket()


# -- at rest and tampering: a private server whose data directory the test can inspect -----------


@pytest.fixture
def private(tmp_path):
    server = CofferServer.create(tmp_path / "private")
    server.start()
    yield server
    server.kill()


def blob_files(server: CofferServer) -> list[Path]:
    return sorted(p for p in (server.data_dir / "blobs" / "blobs").rglob("*") if p.is_file())


def files_containing(root: Path, marker: bytes) -> list[str]:
    out = subprocess.run(["grep", "-rlF", marker.decode(), str(root)], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line]


def test_no_plaintext_at_rest_for_encrypted_objects(private):
    b = oss2_bucket_for(private, "rest")
    b.create_bucket()
    marker = b"COFFER-AT-REST-MARKER-" + os.urandom(6).hex().encode()
    data = (marker + b"\n") * 20_000
    b.put_object("aes", data, headers={SSE: "AES256"})
    b.put_object("sm4", data, headers={SSE: "SM4"})
    up = b.init_multipart_upload("mp", headers={SSE: "AES256"})
    part = b.upload_part("mp", up.upload_id, 1, data)
    b.complete_multipart_upload("mp", up.upload_id, [oss2.models.PartInfo(1, part.etag)])
    b.append_object("app", 0, data, headers={SSE: "SM4"})
    b.put_object("kms", data, headers={SSE: "KMS"})
    b.put_object("kms-sm4", data, headers={SSE: "KMS", "x-oss-server-side-data-encryption": "SM4"})
    assert files_containing(private.data_dir, marker) == []
    # The check works: an unencrypted object's data is found by the same search.
    b.put_object("plain", data)
    assert len(files_containing(private.data_dir, marker)) == 1
    # And the root key is not in the data directory.
    root_key = private.data_dir.parent / (private.data_dir.name + ".root-key")
    assert root_key.exists()
    assert not list(private.data_dir.rglob("*.root-key"))


def fetch(server: CofferServer, bucket: str, key: str) -> tuple[int, bytes | None]:
    """(status, body); body is None when the transfer broke before the declared length."""
    url = oss2_bucket_for(server, bucket).sign_url("GET", key, 60)
    r = requests.get(url, timeout=60, stream=True)
    try:
        return r.status_code, r.content
    except requests.exceptions.RequestException:
        return r.status_code, None


def test_flipped_byte_anywhere_in_stored_data_fails_loudly(private):
    b = oss2_bucket_for(private, "tamper")
    b.create_bucket()
    data = random_bytes(20 * CHUNK, seed=11)
    b.put_object("t", data, headers={SSE: "AES256"})
    (blob,) = blob_files(private)
    original = blob.read_bytes()
    for offset in [0, 40, 75, 76, 200, CHUNK + 100, len(original) // 2, len(original) - 17, len(original) - 1]:
        damaged = bytearray(original)
        damaged[offset] ^= 0x01
        blob.write_bytes(bytes(damaged))
        status, body = fetch(private, "tamper", "t")
        # Either an error status up front, or a transfer that breaks: never a complete body.
        assert status == 500 or body is None, (offset, status)
    blob.write_bytes(original)
    assert b.get_object("t").read() == data  # the server kept serving; restoring the bytes restores the object


def test_flipped_byte_in_an_unencrypted_object_fails_loudly(private):
    """Plain objects carry a CRC-64 per 64 KiB chunk: a stored byte that flips (data or sum) is a
    500 or a broken transfer, never a complete body; a range that does not touch the damaged
    chunk still reads."""
    b = oss2_bucket_for(private, "plainflip")
    b.create_bucket()
    data = random_bytes(20 * CHUNK, seed=15)
    b.put_object("p", data)
    (blob,) = blob_files(private)
    original = blob.read_bytes()
    assert len(original) == len(data) + 20 * 8  # 20 chunks, 8 bytes of sum each
    for offset in [0, CHUNK - 1, CHUNK, CHUNK + 7, CHUNK + 8, len(original) // 2, len(original) - 1]:
        damaged = bytearray(original)
        damaged[offset] ^= 0x20
        blob.write_bytes(bytes(damaged))
        status, body = fetch(private, "plainflip", "p")
        assert status == 500 or body is None, (offset, status)
    damaged = bytearray(original)
    damaged[len(original) - 1] ^= 0x20  # the last chunk's sum
    blob.write_bytes(bytes(damaged))
    assert b.get_object("p", byte_range=(0, CHUNK * 3 - 1)).read() == data[: CHUNK * 3]
    blob.write_bytes(original)
    assert b.get_object("p").read() == data


def test_truncated_blob_fails(private):
    b = oss2_bucket_for(private, "trunc")
    b.create_bucket()
    data = random_bytes(3 * CHUNK, seed=12)
    b.put_object("t", data, headers={SSE: "SM4"})
    (blob,) = blob_files(private)
    blob.write_bytes(blob.read_bytes()[:-16])
    with pytest.raises((oss2.exceptions.ServerError, oss2.exceptions.RequestError, requests.exceptions.RequestException)):
        got = b.get_object("t").read()
        assert got != data
        raise oss2.exceptions.RequestError(Exception("short body"))


def test_blobs_swapped_between_objects_fail(private):
    b = oss2_bucket_for(private, "swap")
    b.create_bucket()
    one = random_bytes(CHUNK + 100, seed=13)
    two = random_bytes(CHUNK + 100, seed=14)
    b.put_object("one", one, headers={SSE: "AES256"})
    b.put_object("two", two, headers={SSE: "AES256"})
    first, second = blob_files(private)
    a, c = first.read_bytes(), second.read_bytes()
    first.write_bytes(c)
    second.write_bytes(a)
    for key in ["one", "two"]:
        with pytest.raises(oss2.exceptions.ServerError) as e:
            b.get_object(key).read()
        assert e.value.status == 500
    # HEAD and LIST need no key and keep working.
    assert b.head_object("one").content_length == len(one)
    assert sorted(o.key for o in b.list_objects().object_list) == ["one", "two"]


def test_keyring_rotation_from_the_cli_while_serving(private):
    """`coffer keyring rotate` beside a running server: new objects use the new master key
    version, objects written before stay readable, nothing is re-encrypted."""
    import json

    b = oss2_bucket_for(private, "rotate")
    b.create_bucket()
    before = random_bytes(100_000, seed=31)
    b.put_object("before", before, headers={SSE: "AES256"})

    def keyring(*args: str):
        out = subprocess.run(
            [str(private.binary), "keyring", *args, "--data-dir", str(private.data_dir), "--json"],
            capture_output=True, text=True, check=True,
        ).stdout
        return json.loads(out)

    assert [(v["version"], v["primary"]) for v in keyring("list")] == [(1, True)]
    assert [(v["version"], v["primary"]) for v in keyring("rotate")] == [(1, False), (2, True)]
    after = random_bytes(100_000, seed=32)
    b.put_object("after", after, headers={SSE: "SM4"})
    assert b.get_object("before").read() == before
    assert b.get_object("after").read() == after
    # The rotation survives a restart, and both versions still unwrap.
    private.stop()
    private.start()
    b = oss2_bucket_for(private, "rotate")  # the restarted server listens on a new port
    assert b.get_object("before").read() == before
    assert b.get_object("after").read() == after
    assert [(v["version"], v["primary"]) for v in keyring("list")] == [(1, False), (2, True)]
