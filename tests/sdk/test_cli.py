"""The `coffer` client commands run as a user would: the real binary against the real server,
checked with oss2 where another client's view matters."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import oss2
import pytest

from coffer_harness import CofferServer
from sdkutil import oss2_bucket_for, random_bytes, unique_bucket_name

MiB = 1024 * 1024


class Cli:
    """Runs `coffer` with a private config file and checkpoint directory."""

    def __init__(self, server: CofferServer, home: Path):
        self.server = server
        self.home = home
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("COFFER_"):
                del self.env[k]
        self.env["COFFER_CONFIG"] = str(home / "config.toml")
        self.env["XDG_CACHE_HOME"] = str(home / "cache")
        # A backtrace would follow the one error line of commands that fail through anyhow.
        self.env["RUST_BACKTRACE"] = "0"
        self.checkpoints = home / "cache" / "coffer" / "checkpoints"

    def argv(self, *args: str) -> list[str]:
        return [str(self.server.binary), *args]

    def run(self, *args: str, ok: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        p = subprocess.run(self.argv(*args), env=self.env, input=stdin, capture_output=True, timeout=300)
        if ok:
            assert p.returncode == 0, f"coffer {' '.join(args)} failed:\n{p.stderr.decode()}"
        return p

    def json(self, *args: str):
        out = self.run(*args, "-o", "json").stdout.decode()
        return json.loads(out)

    def lines(self, *args: str) -> list[dict]:
        out = self.run(*args, "-o", "json").stdout.decode()
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def admin_endpoint(server: CofferServer, scheme: str = "http") -> str:
    """scheme://host:port of the admin API, from the ready file the binary wrote."""
    info = json.loads((server.work_dir / f"ready-{server.starts}.json").read_text())
    return f"{scheme}://{info['admin']}"


@pytest.fixture
def cli(coffer, tmp_path) -> Cli:
    c = Cli(coffer, tmp_path)
    c.run(
        "config",
        "--endpoint", coffer.endpoint,
        "--kms-endpoint", f"http://{coffer.kms_endpoint}",
        "--admin-endpoint", admin_endpoint(coffer),
        "--access-key-id", coffer.access_key_id,
        "--access-key-secret", coffer.access_key_secret,
    )
    return c


def ram_user(cli: Cli, coffer: CofferServer, tmp_path: Path, statements: list[dict]) -> dict:
    """A RAM user with one policy of `statements` (none when empty), made with `coffer admin` as
    the root; returns the environment that signs as that user."""
    env = dict(cli.env, COFFER_ROOT_ACCESS_KEY_ID=coffer.access_key_id,
               COFFER_ROOT_ACCESS_KEY_SECRET=coffer.access_key_secret)

    def admin(*args: str) -> dict:
        p = subprocess.run([str(coffer.binary), "admin", "--endpoint", admin_endpoint(coffer), "--json", *args],
                           env=env, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        return json.loads(p.stdout)

    name = f"cli-{os.urandom(4).hex()}"
    key = admin("user", "create", name)["AccessKey"]
    if statements:
        doc = tmp_path / f"{name}.json"
        doc.write_text(json.dumps({"Version": "1", "Statement": statements}))
        admin("policy", "create", name, "--document", str(doc))
        admin("policy", "attach", name, "--user", name)
    return dict(cli.env, COFFER_ACCESS_KEY_ID=key["AccessKeyId"], COFFER_ACCESS_KEY_SECRET=key["AccessKeySecret"])


@pytest.fixture
def bucket_url(cli, coffer):
    name = unique_bucket_name()
    cli.run("mb", f"oss://{name}")
    yield f"oss://{name}"
    cli.run("rb", f"oss://{name}", "--force", ok=False)


def make_key(cli: Cli, description: str = "cli test") -> str:
    return cli.json("kms", "key", "create", "--description", description)["KeyId"]


def test_config_is_private_and_profiles_and_env_override(cli, coffer, tmp_path):
    cfg = tmp_path / "config.toml"
    assert cfg.stat().st_mode & 0o777 == 0o600
    assert coffer.access_key_secret in cfg.read_text()
    shown = cli.run("config", "--show").stdout.decode()
    assert coffer.access_key_secret not in shown and coffer.endpoint in shown
    # A profile with a wrong secret fails with the OSS code and a request id, on one line.
    cli.run("config", "--profile", "bad", "--endpoint", coffer.endpoint,
            "--access-key-id", coffer.access_key_id, "--access-key-secret", "wrong")
    p = cli.run("ls", "--profile", "bad", ok=False)
    assert p.returncode == 1
    err = p.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "SignatureDoesNotMatch" in err and "request id" in err
    # The environment overrides the profile.
    env_ok = dict(cli.env, COFFER_ACCESS_KEY_SECRET=coffer.access_key_secret)
    p = subprocess.run(cli.argv("ls", "--profile", "bad"), env=env_ok, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    p = cli.run("ls", "--profile", "nosuch", ok=False)
    assert p.returncode == 1 and b"nosuch" in p.stderr


def test_first_use_flow_mb_kms_cp_stat_bucket_encryption(cli, coffer, tmp_path):
    key = make_key(cli)
    name = unique_bucket_name()
    cli.run("mb", f"oss://{name}", "--sse", "KMS", "--kms-key-id", key)
    try:
        rule = cli.json("bucket-encryption", "get", f"oss://{name}")["rule"]
        assert rule == {"SSEAlgorithm": "KMS", "KMSMasterKeyID": key}
        f = tmp_path / "hello.txt"
        f.write_bytes(b"hello coffer\n")
        cli.run("cp", str(f), f"oss://{name}/")
        st = cli.json("stat", f"oss://{name}/hello.txt")
        assert st["sse"] == "KMS" and st["kms_key_id"] == key and st["size"] == 13
        # Another client sees the same object.
        assert oss2_bucket_for(coffer, name).get_object("hello.txt").read() == b"hello coffer\n"
        assert cli.run("cat", f"oss://{name}/hello.txt").stdout == b"hello coffer\n"
        cli.run("bucket-encryption", "put", f"oss://{name}", "--sse-algorithm", "SM4")
        assert cli.json("bucket-encryption", "get", f"oss://{name}")["rule"]["SSEAlgorithm"] == "SM4"
        cli.run("bucket-encryption", "delete", f"oss://{name}")
        assert cli.json("bucket-encryption", "get", f"oss://{name}")["rule"] is None
        bstat = cli.json("stat", f"oss://{name}")
        assert bstat["bucket"] == name
        assert any(b["Name"] == name for b in cli.lines("ls"))
    finally:
        cli.run("rb", f"oss://{name}", "--force")
    assert not any(b["Name"] == name for b in cli.lines("ls"))


def test_errors_exit_nonzero_with_code_and_request_id(cli, bucket_url):
    p = cli.run("stat", f"{bucket_url}/missing", ok=False)
    assert p.returncode == 1
    assert b"NoSuchKey" in p.stderr and b"request id" in p.stderr
    p = cli.run("cat", "oss://no-such-bucket-xyz-123/k", ok=False)
    assert p.returncode == 1 and b"NoSuchBucket" in p.stderr
    p = cli.run("rb", bucket_url, ok=False)  # fine when empty: use a non-empty one below
    assert p.returncode == 0
    cli.run("mb", bucket_url)


def test_recursive_tree_of_small_and_big_files(cli, bucket_url, tmp_path):
    src = tmp_path / "tree"
    expected = {}
    for i in range(2000):
        rel = f"d{i % 20}/sub{i % 3}/f{i}.txt"
        data = f"small file {i}\n".encode() * (i % 7 + 1)
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
        expected[rel] = hashlib.sha256(data).hexdigest()
    for i in range(3):
        data = os.urandom(9 * MiB + i * 12345)
        (src / f"big/b{i}.bin").parent.mkdir(parents=True, exist_ok=True)
        (src / f"big/b{i}.bin").write_bytes(data)
        expected[f"big/b{i}.bin"] = hashlib.sha256(data).hexdigest()
    (src / "skip.tmp").write_bytes(b"x")
    small = ["--multipart-threshold-mib", "2", "--part-size-mib", "1", "--parallel", "8"]
    up = cli.json("cp", "-r", str(src), f"{bucket_url}/t", "--exclude", "*.tmp", *small)
    assert up["files"] == len(expected) and up["failed"] == 0
    listed = cli.lines("ls", f"{bucket_url}/t/", "-r")
    assert {o["Key"] for o in listed} == {f"t/{k}" for k in expected}
    dst = tmp_path / "back"
    down = cli.json("cp", "-r", f"{bucket_url}/t/", str(dst), *small)
    assert down["files"] == len(expected) and down["failed"] == 0
    got = {
        str(p.relative_to(dst)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in dst.rglob("*") if p.is_file()
    }
    assert got == expected
    only = cli.json("cp", "-r", f"{bucket_url}/t/", str(tmp_path / "only"), "--include", "big/*")
    assert only["files"] == 3
    # Server-side copy of the tree, then recursive delete.
    cp = cli.json("cp", "-r", f"{bucket_url}/t/big/", f"{bucket_url}/copy/")
    assert cp["files"] == 3
    assert cli.json("stat", f"{bucket_url}/copy/b1.bin")["size"] == 9 * MiB + 12345
    assert cli.json("rm", "-r", f"{bucket_url}/t/")["deleted"] == len(expected)
    assert [o["Key"] for o in cli.lines("ls", bucket_url, "-r")] == [f"copy/b{i}.bin" for i in range(3)]


def test_sync_copies_only_changes_and_deletes(cli, bucket_url, tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}").write_text(f"v1 {i}")
    first = cli.json("sync", str(src), f"{bucket_url}/s")
    assert first["files"] == 5
    again = cli.json("sync", str(src), f"{bucket_url}/s")
    assert again["files"] == 0
    (src / "f0").write_text("changed, longer")
    (src / "f4").unlink()
    third = cli.json("sync", str(src), f"{bucket_url}/s", "--delete")
    assert third["files"] == 1 and third["deleted"] == 1
    assert sorted(o["Key"] for o in cli.lines("ls", bucket_url, "-r")) == [f"s/f{i}" for i in range(4)]
    assert cli.run("cat", f"{bucket_url}/s/f0").stdout == b"changed, longer"


def test_sync_compares_size_and_mtime_with_last_modified(cli, bucket_url, tmp_path):
    src = tmp_path / "up"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}").write_bytes(b"one %d" % i)
    assert cli.json("sync", str(src), f"{bucket_url}/m")["files"] == 3
    # Same size, older than the object: skipped, though the bytes differ; --checksum sees it.
    (src / "f0").write_bytes(b"ONE 0")
    os.utime(src / "f0", (time.time() - 3600, time.time() - 3600))
    assert cli.json("sync", str(src), f"{bucket_url}/m")["files"] == 0
    assert cli.json("sync", str(src), f"{bucket_url}/m", "--checksum")["files"] == 1
    assert cli.run("cat", f"{bucket_url}/m/f0").stdout == b"ONE 0"
    # Same size, changed after the upload: copied.
    (src / "f1").write_bytes(b"ONE 1")
    os.utime(src / "f1", (time.time() + 3600, time.time() + 3600))
    assert cli.json("sync", str(src), f"{bucket_url}/m")["files"] == 1
    assert cli.run("cat", f"{bucket_url}/m/f1").stdout == b"ONE 1"

    # Down: the files take the objects' Last-Modified, so a second sync (either way) copies nothing.
    down = tmp_path / "down"
    assert cli.json("sync", f"{bucket_url}/m", str(down))["files"] == 3
    modified = {o["Key"]: o["LastModified"] for o in cli.lines("ls", f"{bucket_url}/m/", "-r")}
    from datetime import datetime
    for i in range(3):
        lm = datetime.fromisoformat(modified[f"m/f{i}"].replace("Z", "+00:00")).timestamp()
        assert int((down / f"f{i}").stat().st_mtime) == int(lm)
    assert cli.json("sync", f"{bucket_url}/m", str(down))["files"] == 0
    assert cli.json("sync", str(down), f"{bucket_url}/m")["files"] == 0
    # A local file changed later than the object is kept; an object newer than the file is fetched.
    (down / "f2").write_bytes(b"XXX 2")
    os.utime(down / "f2", (time.time() + 7200, time.time() + 7200))
    (down / "extra").write_bytes(b"only here")
    (down / "f0").write_bytes(b"old 0")
    os.utime(down / "f0", (0, 0))
    out = cli.json("sync", f"{bucket_url}/m", str(down), "--delete")
    assert out["files"] == 1 and out["deleted"] == 1
    assert (down / "f0").read_bytes() == b"ONE 0" and (down / "f2").read_bytes() == b"XXX 2"
    assert not (down / "extra").exists()

    # Remote to remote: copies what is newer at the source, deletes what it lacks.
    assert cli.json("sync", f"{bucket_url}/m", f"{bucket_url}/r")["files"] == 3
    assert cli.json("sync", f"{bucket_url}/m", f"{bucket_url}/r")["files"] == 0
    cli.run("cp", str(src / "f2"), f"{bucket_url}/r/stray")
    out = cli.json("sync", f"{bucket_url}/m", f"{bucket_url}/r", "--delete")
    assert out["files"] == 0 and out["deleted"] == 1
    assert sorted(o["Key"] for o in cli.lines("ls", f"{bucket_url}/r/", "-r")) == [f"r/f{i}" for i in range(3)]


def test_large_server_side_copy_goes_part_by_part_with_metadata_and_encryption(cli, coffer, bucket_url):
    name = bucket_url.removeprefix("oss://")
    b = oss2_bucket_for(coffer, name)
    data = os.urandom(5 * MiB + 4321)
    b.put_object("src.bin", data, headers={"x-oss-meta-owner": "ops", "Content-Type": "application/x-test",
                                          "Content-Disposition": "attachment"})
    key = make_key(cli, "copy target")
    # Above the copy threshold (1 GiB by default, CopyObject's limit; lowered here), UploadPartCopy.
    out = cli.json("cp", f"{bucket_url}/src.bin", f"{bucket_url}/dst.bin", "--sse", "KMS", "--kms-key-id", key,
                   "--copy-threshold-mib", "2", "--part-size-mib", "1")
    assert out["files"] == 1 and out["failed"] == 0 and out["parts_transferred"] == 6
    h = b.head_object("dst.bin").headers
    assert h["ETag"].strip('"').endswith("-6"), h["ETag"]
    assert h["x-oss-server-side-encryption"] == "KMS" and h["x-oss-server-side-encryption-key-id"] == key
    assert h["x-oss-meta-owner"] == "ops" and h["Content-Type"] == "application/x-test"
    assert h["Content-Disposition"] == "attachment"
    assert h["x-oss-hash-crc64ecma"] == b.head_object("src.bin").headers["x-oss-hash-crc64ecma"]
    assert b.get_object("dst.bin").read() == data
    assert not list(oss2.MultipartUploadIterator(b))
    # Below it, one CopyObject.
    out = cli.json("cp", f"{bucket_url}/src.bin", f"{bucket_url}/small.bin", "--copy-threshold-mib", "8")
    assert out["parts_transferred"] == 1
    assert "-" not in b.head_object("small.bin").headers["ETag"]


def test_presign_get_and_put(cli, bucket_url, tmp_path):
    import requests

    url = cli.json("presign", f"{bucket_url}/p.txt", "--method", "PUT", "--expires", "10m")["url"]
    r = requests.put(url, data=b"presigned body", timeout=30)
    assert r.status_code == 200, r.text
    url = cli.run("presign", f"{bucket_url}/p.txt").stdout.decode().strip()
    assert requests.get(url, timeout=30).content == b"presigned body"
    assert requests.get(url + "x", timeout=30).status_code == 403


def checkpoint_parts(cli: Cli) -> int:
    files = list(cli.checkpoints.glob("*.json")) if cli.checkpoints.exists() else []
    if not files:
        return 0
    try:
        return len(json.loads(files[0].read_text())["parts"])
    except ValueError:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_upload_resumes_after_interruption_without_reuploading_parts(cli, bucket_url, tmp_path, sig):
    data = os.urandom(48 * MiB)
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    args = ["cp", str(f), f"{bucket_url}/big.bin", "--part-size-mib", "1",
            "--multipart-threshold-mib", "1", "--parallel", "2"]
    proc = subprocess.Popen(cli.argv(*args), env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while checkpoint_parts(cli) < 5:
        assert proc.poll() is None, "the upload finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)  # polling the checkpoint, not synchronising
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    # No partial object is visible.
    p = cli.run("stat", f"{bucket_url}/big.bin", ok=False)
    assert p.returncode == 1 and b"NoSuchKey" in p.stderr
    done = checkpoint_parts(cli)
    assert 5 <= done < 48
    out = cli.json(*args)
    assert out["parts_resumed"] == done
    assert out["parts_transferred"] == 48 - done
    assert not list(cli.checkpoints.glob("*.json"))
    back = tmp_path / "back.bin"
    cli.run("cp", f"{bucket_url}/big.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()


def interrupt_upload(cli: Cli, args: list[str], parts: int = 5) -> int:
    """Starts `coffer *args`, kills it once the checkpoint holds `parts` parts; returns how many."""
    proc = subprocess.Popen(cli.argv(*args), env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while checkpoint_parts(cli) < parts:
        assert proc.poll() is None, "the upload finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)  # polling the checkpoint, not synchronising
    proc.kill()
    proc.communicate(timeout=60)
    return checkpoint_parts(cli)


def test_upload_starts_again_when_its_checkpoint_is_of_no_use(cli, coffer, bucket_url, tmp_path):
    name = bucket_url.removeprefix("oss://")
    b = oss2_bucket_for(coffer, name)
    f = tmp_path / "big.bin"
    f.write_bytes(os.urandom(32 * MiB))
    args = ["cp", str(f), f"{bucket_url}/big.bin", "--part-size-mib", "1",
            "--multipart-threshold-mib", "1", "--parallel", "2"]
    # The upload was aborted meanwhile: the next run starts a new one instead of failing.
    assert interrupt_upload(cli, args) >= 5
    [stale] = list(oss2.MultipartUploadIterator(b))
    b.abort_multipart_upload("big.bin", stale.upload_id)
    out = cli.json(*args)
    assert out["parts_resumed"] == 0 and out["parts_transferred"] == 32
    assert not list(oss2.MultipartUploadIterator(b))
    # The file changed: the old upload is aborted, not left behind, and the new bytes are sent.
    assert interrupt_upload(cli, args) >= 5
    data = os.urandom(32 * MiB)
    f.write_bytes(data)
    out = cli.json(*args)
    assert out["parts_resumed"] == 0
    assert not list(oss2.MultipartUploadIterator(b))
    assert b.get_object("big.bin").read() == data
    # Other encryption asked for: a new upload too (the old one's parts are under the old method).
    assert interrupt_upload(cli, args) >= 5
    out = cli.json(*args, "--sse", "SM4")
    assert out["parts_resumed"] == 0
    assert b.head_object("big.bin").headers["x-oss-server-side-encryption"] == "SM4"
    assert not list(oss2.MultipartUploadIterator(b))


def test_download_resumes_and_never_leaves_a_partial_file(cli, bucket_url, tmp_path):
    data = os.urandom(40 * MiB)
    f = tmp_path / "src.bin"
    f.write_bytes(data)
    cli.run("cp", str(f), f"{bucket_url}/d.bin")
    dst = tmp_path / "out.bin"
    args = ["cp", f"{bucket_url}/d.bin", str(dst), "--part-size-mib", "1",
            "--multipart-threshold-mib", "1", "--parallel", "1"]
    proc = subprocess.Popen(cli.argv(*args), env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while checkpoint_parts(cli) < 3:
        assert proc.poll() is None, "the download finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)  # polling the checkpoint, not synchronising
    proc.kill()
    proc.communicate(timeout=60)
    assert not dst.exists()
    done = checkpoint_parts(cli)
    out = cli.json(*args)
    assert out["parts_resumed"] == done and out["parts_transferred"] == 40 - done
    assert dst.read_bytes() == data


def test_reencrypt_mixed_bucket_to_a_named_cmk(cli, coffer, bucket_url, tmp_path):
    name = bucket_url.removeprefix("oss://")
    b = oss2_bucket_for(coffer, name)
    kinds = [None, "AES256", "SM4", None, "AES256"]
    for i, sse in enumerate(kinds):
        headers = {"x-oss-meta-owner": f"user{i}", "Content-Type": "text/x-test"}
        if sse:
            headers["x-oss-server-side-encryption"] = sse
        b.put_object(f"obj{i}", f"content {i}".encode() * 100, headers=headers)
    key = make_key(cli, "reencrypt target")
    before = {f"obj{i}": b.head_object(f"obj{i}").headers for i in range(len(kinds))}

    dry = cli.lines("reencrypt", bucket_url, "--sse", "KMS", "--kms-key-id", key, "--dry-run")
    assert dry[-1]["rewritten"] == len(kinds) and dry[-1]["dry_run"] is True
    assert all(b.head_object(k).headers.get("x-oss-server-side-encryption") == before[k].get("x-oss-server-side-encryption") for k in before)

    summary = cli.lines("reencrypt", bucket_url, "--sse", "KMS", "--kms-key-id", key)[-1]
    assert summary == {"objects": 5, "rewritten": 5, "rewrapped": 0,
                       "bytes": sum(len(f"content {i}") * 100 for i in range(5)),
                       "already_right": 0, "skipped": 0, "failed": 0, "dry_run": False}
    for i in range(len(kinds)):
        h = b.head_object(f"obj{i}").headers
        assert h["x-oss-server-side-encryption"] == "KMS"
        assert h["x-oss-server-side-encryption-key-id"] == key
        assert h["x-oss-meta-owner"] == f"user{i}"
        assert h["Content-Type"] == "text/x-test"
        assert b.get_object(f"obj{i}").read() == f"content {i}".encode() * 100
    again = cli.lines("reencrypt", bucket_url, "--sse", "KMS", "--kms-key-id", key)[-1]
    assert again["already_right"] == 5 and again["rewritten"] == 0
    p = cli.run("reencrypt", bucket_url, "--sse", "AES256", "--rewrap", ok=False)
    assert p.returncode == 1 and b"KMS only" in p.stderr
    # KMS naming no CMK takes any CMK: objects under the named one are already right.
    default = cli.lines("reencrypt", bucket_url, "--sse", "KMS")[-1]
    assert default["already_right"] == 5 and default["rewritten"] == 0, default
    # Asking for SM4 data under the same CMK is another encryption.
    sm4 = cli.lines("reencrypt", bucket_url, "--sse", "KMS", "--kms-key-id", key,
                    "--kms-data-encryption", "SM4", "--dry-run")[-1]
    assert sm4["rewritten"] == 5 and sm4["already_right"] == 0, sm4


def test_reencrypt_rewrap_changes_only_the_key_where_it_can(cli, coffer, bucket_url):
    """--rewrap: AES256 objects and objects under another CMK get their data key wrapped anew
    under the target CMK, their stored bytes untouched; unencrypted and SM4 objects (a rewrap
    cannot give them AES-256 data under KMS) are copied as without --rewrap."""
    name = bucket_url.removeprefix("oss://")
    b = oss2_bucket_for(coffer, name)
    old_key, new_key = make_key(cli, "rewrap from"), make_key(cli, "rewrap to")
    blobs = coffer.data_dir / "blobs" / "blobs"
    kinds = {"aes": {"x-oss-server-side-encryption": "AES256"},
             "kms": {"x-oss-server-side-encryption": "KMS", "x-oss-server-side-encryption-key-id": old_key},
             "plain": {}, "sm4": {"x-oss-server-side-encryption": "SM4"}}
    data, blob_of = {}, {}
    for i, (k, headers) in enumerate(kinds.items()):
        seen = {p for p in blobs.rglob("*") if p.is_file()}
        data[k] = random_bytes(40_000 + i, seed=70 + i)
        b.put_object(k, data[k], headers={**headers, "x-oss-meta-kind": k})
        (blob_of[k],) = {p for p in blobs.rglob("*") if p.is_file()} - seen
    stored = {k: blob_of[k].read_bytes() for k in ("aes", "kms")}
    dry = cli.lines("reencrypt", bucket_url, "--sse", "KMS", "--kms-key-id", new_key, "--rewrap", "--dry-run")[-1]
    assert (dry["rewritten"], dry["rewrapped"]) == (4, 2), dry
    summary = cli.lines("reencrypt", bucket_url, "--sse", "KMS", "--kms-key-id", new_key, "--rewrap")[-1]
    assert summary == {"objects": 4, "rewritten": 4, "rewrapped": 2, "bytes": 40_002 + 40_003,
                       "already_right": 0, "skipped": 0, "failed": 0, "dry_run": False}, summary
    for k in kinds:
        h = b.head_object(k).headers
        assert (h["x-oss-server-side-encryption"], h["x-oss-server-side-encryption-key-id"]) == ("KMS", new_key), k
        assert h["x-oss-meta-kind"] == k
        assert b.get_object(k).read() == data[k]
    assert "x-oss-server-side-data-encryption" not in b.head_object("sm4").headers
    for k, raw in stored.items():
        assert blob_of[k].read_bytes() == raw, f"{k}: its data was rewritten"
    again = cli.lines("reencrypt", bucket_url, "--sse", "KMS", "--kms-key-id", new_key, "--rewrap")[-1]
    assert again["already_right"] == 4 and again["rewritten"] == 0, again


def test_reencrypt_follows_the_listing_across_pages(cli, coffer, bucket_url):
    """More objects than one ListObjects page (1000): every page is listed and rewritten."""
    from concurrent.futures import ThreadPoolExecutor

    name = bucket_url.removeprefix("oss://")
    b = oss2_bucket_for(coffer, name)
    count = 1010
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: b.put_object(f"p/{i:05}", b"x" * (i % 7),
                                             headers={"x-oss-server-side-encryption": "AES256"} if i % 3 == 0 else None),
                      range(count)))
    already = len(range(0, count, 3))
    summary = cli.lines("reencrypt", f"{bucket_url}/p/", "--sse", "AES256", "-j", "16")[-1]
    assert summary == {"objects": count, "rewritten": count - already, "rewrapped": 0,
                       "bytes": sum(i % 7 for i in range(count) if i % 3), "already_right": already,
                       "skipped": 0, "failed": 0, "dry_run": False}, summary
    for i in (1, 998, 999, 1000, 1001, count - 1):
        assert b.head_object(f"p/{i:05}").headers["x-oss-server-side-encryption"] == "AES256", i
    again = cli.lines("reencrypt", f"{bucket_url}/p/", "--sse", "AES256")[-1]
    assert again["already_right"] == count and again["rewritten"] == 0, again


def test_reencrypt_of_a_missing_bucket_is_one_error_line(cli):
    p = cli.run("reencrypt", f"oss://{unique_bucket_name('gone')}", "--sse", "AES256", "-o", "json", ok=False)
    assert p.returncode == 1 and p.stdout == b"", p.stdout
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "NoSuchBucket" in lines[0], lines


def test_kms_key_and_alias_commands(cli):
    key = make_key(cli, "lifecycle")
    assert cli.json("kms", "key", "describe", key)["Description"] == "lifecycle"
    assert key in [k["KeyId"] for k in cli.lines("kms", "key", "list")]
    cli.run("kms", "key", "disable", key)
    assert cli.json("kms", "key", "describe", key)["KeyState"] == "Disabled"
    cli.run("kms", "key", "enable", key)
    assert cli.json("kms", "key", "describe", key)["KeyState"] == "Enabled"
    cli.run("kms", "key", "rotate", key)
    cli.run("kms", "key", "schedule-deletion", key, "--pending-window-in-days", "7")
    assert cli.json("kms", "key", "describe", key)["KeyState"] == "PendingDeletion"
    cli.run("kms", "key", "cancel-deletion", key)
    # As in Alibaba KMS, a key whose deletion is cancelled comes back disabled.
    assert cli.json("kms", "key", "describe", key)["KeyState"] == "Disabled"
    alias = f"alias/cli-{key[:8]}"
    cli.run("kms", "alias", "create", alias, key)
    assert {"AliasName": alias, "KeyId": key}.items() <= next(
        a for a in cli.lines("kms", "alias", "list") if a["AliasName"] == alias).items()
    cli.run("kms", "alias", "delete", alias)
    assert alias not in [a["AliasName"] for a in cli.lines("kms", "alias", "list")]
    ext = cli.json("kms", "key", "create", "--origin", "EXTERNAL")["KeyId"]
    params = cli.json("kms", "key", "import", ext, "--print-parameters")
    assert params["ImportToken"] and params["PublicKey"]
    p = cli.run("kms", "key", "describe", "no-such-key", ok=False)
    assert p.returncode == 1 and b"request id" in p.stderr


def test_kms_usage_and_audit_over_the_network(cli, coffer, bucket_url, tmp_path):
    key = make_key(cli, "metered")
    alias = f"alias/usage-{key[:8]}"
    cli.run("kms", "alias", "create", alias, key)
    name = bucket_url.removeprefix("oss://")
    b = oss2_bucket_for(coffer, name)
    b.put_object("m", b"metered", headers={"x-oss-server-side-encryption": "KMS",
                                            "x-oss-server-side-encryption-key-id": key})
    b.get_object("m").read()
    b.get_object("m").read()

    # Live counters of the server, by key id or by alias, for the root of the profile.
    for name_given in [key, alias]:
        usage = {r["operation"]: r for r in cli.lines("kms", "usage", "--key", name_given)}
        assert usage["GenerateDataKey"]["calls"] == 1 and usage["Decrypt"]["calls"] == 2
        assert all(r["key_id"] == key for r in usage.values())
    text = cli.run("kms", "usage", "--key", key).stdout.decode()
    assert "Decrypt" in text and key in text

    records = cli.lines("kms", "audit", "--key", key)
    sse = [r for r in records if r["via"] == "Oss"]
    assert [r["operation"] for r in sse] == ["GenerateDataKey", "Decrypt", "Decrypt"]
    assert {r["resource"] for r in sse} == {f"{name}/m"}
    assert records[0]["operation"] == "CreateKey"
    # By bucket or object prefix, and by principal.
    assert cli.lines("kms", "audit", "--key", key, "--resource", name) == sse
    assert cli.lines("kms", "audit", "--key", key, "--resource", f"{name}/m") == sse
    assert cli.lines("kms", "audit", "--key", key, "--resource", f"{name}/nothing-here") == []
    assert cli.lines("kms", "audit", "--key", key, "--principal", "nobody-such") == []
    assert cli.lines("kms", "audit", "--key", key, "--principal", records[0]["principal"]) == [
        r for r in records if r["principal"] == records[0]["principal"]]
    decrypts = cli.lines("kms", "audit", "--key", key, "--operation", "Decrypt")
    assert len(decrypts) == 2 and all(r["operation"] == "Decrypt" for r in decrypts)
    assert cli.lines("kms", "audit", "--key", key, "--tail", "1") == records[-1:]
    # Page after page (the server's pages are at most 1000 records; here 2) gives the same trail.
    assert cli.lines("kms", "audit", "--key", key, "--page-size", "2") == records
    p = cli.run("kms", "audit", "--key", key, "--page-size", "0", ok=False)
    assert p.returncode == 1 and b"InvalidParameter.MaxResults" in p.stderr
    assert cli.lines("kms", "audit", "--key", key, "--since", "2999-01-01T00:00:00Z") == []
    # The same trail read from the data directory on the server's host.
    local = subprocess.run(cli.argv("kms", "audit", "--data-dir", str(coffer.data_dir), "--key", key, "--json"),
                           env=cli.env, capture_output=True, timeout=60, check=True).stdout.decode()
    assert [json.loads(line)["operation"] for line in local.splitlines()] == [r["operation"] for r in records]

    def refused(env: dict, *args: str):
        p = subprocess.run(cli.argv("kms", *args), env=env, capture_output=True, timeout=60)
        assert p.returncode == 1, p.stdout
        err = p.stderr.decode().strip()
        assert len(err.splitlines()) == 1 and "NoPermission" in err, err

    # A RAM user needs an explicit permission; the read-only wildcards do not reach the trail.
    nobody = ram_user(cli, coffer, tmp_path, [])
    refused(nobody, "usage")
    refused(nobody, "audit", "--key", key)
    viewer = ram_user(cli, coffer, tmp_path, [
        {"Effect": "Allow", "Action": ["kms:List*", "kms:Describe*", "kms:Get*"], "Resource": "*"}])
    refused(viewer, "usage", "--key", key)
    refused(viewer, "audit")
    # kms:ReadAuditTrail on one key: that key's trail, not the account's, and not its usage.
    auditor = ram_user(cli, coffer, tmp_path, [
        {"Effect": "Allow", "Action": "kms:ReadAuditTrail", "Resource": f"acs:kms:*:*:key/{key}"}])
    p = subprocess.run(cli.argv("kms", "audit", "--key", alias, "-o", "json"), env=auditor,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert [json.loads(line) for line in p.stdout.decode().splitlines()] == records
    refused(auditor, "audit")
    refused(auditor, "usage", "--key", key)
    accountant = ram_user(cli, coffer, tmp_path, [
        {"Effect": "Allow", "Action": "kms:ReadUsage", "Resource": "acs:kms:*:*:key/*"}])
    p = subprocess.run(cli.argv("kms", "usage", "-o", "json"), env=accountant, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert any(json.loads(line)["key_id"] == key for line in p.stdout.decode().splitlines())
    refused(accountant, "audit", "--key", key)


def test_admin_takes_profiles_and_options_come_before_the_subcommand(cli, coffer, bucket_url, tmp_path):
    # The profile alone (no COFFER_ROOT_* in the environment) reaches the admin API as the root.
    assert not any(k.startswith("COFFER_ROOT") for k in cli.env)
    me = cli.json("admin", "sts", "whoami")
    assert me["IdentityType"] == "Account"
    # A RAM user's profile, chosen before the subcommand, signs as that user.
    user_env = ram_user(cli, coffer, tmp_path, [])
    cli.run("config", "--profile", "alice", "--endpoint", coffer.endpoint,
            "--admin-endpoint", admin_endpoint(coffer),
            "--access-key-id", user_env["COFFER_ACCESS_KEY_ID"],
            "--access-key-secret", user_env["COFFER_ACCESS_KEY_SECRET"])
    def who(out: bytes) -> str:
        return json.loads(out)["Arn"]

    alice = json.loads(cli.run("--profile", "alice", "-o", "json", "admin", "sts", "whoami").stdout)
    assert alice["IdentityType"] == "RAMUser" and alice["AccountId"] == me["AccountId"]
    assert who(cli.run("--profile=alice", "admin", "--json", "sts", "whoami").stdout) == alice["Arn"]
    env = dict(cli.env, COFFER_PROFILE="alice")
    p = subprocess.run(cli.argv("admin", "sts", "whoami", "-o", "json"), env=env, capture_output=True, timeout=60)
    assert p.returncode == 0 and who(p.stdout) == alice["Arn"], p.stderr
    # Alice has no ram:ListUsers: refused with RAM's code, on one line.
    p = cli.run("--profile", "alice", "admin", "user", "list", ok=False)
    assert p.returncode == 1 and b"NoPermission" in p.stderr and len(p.stderr.splitlines()) == 1
    # The data commands take the options before the subcommand too.
    f = tmp_path / "g.txt"
    f.write_bytes(b"global options")
    cli.run("-o", "json", "cp", str(f), f"{bucket_url}/g.txt")
    assert [o["Key"] for o in json.loads("[" + ",".join(
        cli.run("-o", "json", "--profile", "default", "ls", bucket_url).stdout.decode().split()) + "]")] == ["g.txt"]
    p = cli.run("--endpoint", "http://127.0.0.1:1", "cat", f"{bucket_url}/g.txt", ok=False)
    assert p.returncode == 1
    assert cli.run("--endpoint", coffer.endpoint, "cat", f"{bucket_url}/g.txt").stdout == b"global options"


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"])
def test_kms_key_import_wraps_raw_material_itself(cli, coffer, bucket_url, tmp_path, algorithm):
    key = cli.json("kms", "key", "create", "--origin", "EXTERNAL")["KeyId"]
    assert cli.json("kms", "key", "describe", key)["KeyState"] == "PendingImport"
    material = tmp_path / "material.bin"
    material.write_bytes(os.urandom(32))
    cli.run("kms", "key", "import", key, "--key-material", str(material), "--wrapping-algorithm", algorithm)
    assert cli.json("kms", "key", "describe", key)["KeyState"] == "Enabled"
    name = bucket_url.removeprefix("oss://")
    b = oss2_bucket_for(coffer, name)
    b.put_object("byok", b"under imported material",
                 headers={"x-oss-server-side-encryption": "KMS", "x-oss-server-side-encryption-key-id": key})
    assert b.get_object("byok").read() == b"under imported material"
    # The KMS took exactly the file's bytes: it accepts them again and refuses any others.
    cli.run("kms", "key", "import", key, "--key-material", str(material), "--wrapping-algorithm", algorithm)
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(32))
    p = cli.run("kms", "key", "import", key, "--key-material", str(other), ok=False)
    assert p.returncode == 1 and b"request id" in p.stderr
    p = cli.run("kms", "key", "import", key, "--key-material", str(material), "--wrapping-algorithm", "SM2PKE", ok=False)
    assert p.returncode == 1


def test_completions_and_help():
    binary = str(CofferServer.create.__globals__["coffer_binary"]())
    for shell in ["bash", "zsh", "fish"]:
        out = subprocess.run([binary, "completions", shell], capture_output=True, timeout=30, check=True).stdout
        assert b"reencrypt" in out and b"bucket-encryption" in out
    out = subprocess.run([binary, "cp", "--help"], capture_output=True, timeout=30, check=True).stdout
    assert b"Examples" in out


def run_in_terminal(cli: Cli, *args: str) -> tuple[int, bytes]:
    """Runs `coffer *args` with standard output and error on a pseudo-terminal, as in a shell;
    returns the exit code and everything the terminal received."""
    import fcntl
    import pty
    import struct
    import termios
    import threading

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    env = dict(cli.env, TERM="xterm-256color")
    proc = subprocess.Popen(cli.argv(*args), env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []

    def read():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the process and its terminal are gone
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    code = proc.wait(timeout=300)
    reader.join(timeout=60)
    os.close(master)
    return code, b"".join(chunks)


def test_terminal_shows_a_bar_per_large_file_and_a_total(cli, bucket_url, tmp_path):
    src = tmp_path / "tree"
    src.mkdir()
    (src / "large-one.bin").write_bytes(os.urandom(40 * MiB))
    (src / "small-one.txt").write_bytes(b"small")
    code, screen = run_in_terminal(cli, "cp", "-r", str(src), f"{bucket_url}/t", "--part-size-mib", "1",
                                   "--multipart-threshold-mib", "1", "--parallel", "1")
    assert code == 0, screen
    # Redrawn in place, with the large file's own bar and the total bar's file count; the small
    # file (one request) moves only the total.
    assert b"\x1b[" in screen and b"large-one.bin" in screen, screen[-2000:]
    assert b"/2 files" in screen and b"small-one.txt" not in screen
    assert b"2 of 2 files" in screen
    code, screen = run_in_terminal(cli, "cp", f"{bucket_url}/t/large-one.bin", str(tmp_path / "back.bin"),
                                   "--part-size-mib", "1", "--multipart-threshold-mib", "1", "--parallel", "1")
    assert code == 0 and b"large-one.bin" in screen and b"\x1b[" in screen


def test_piped_output_has_no_terminal_codes(cli, bucket_url, tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(os.urandom(3 * MiB))
    p = cli.run("cp", str(f), f"{bucket_url}/x.bin", "--multipart-threshold-mib", "1", "--part-size-mib", "1")
    assert b"\x1b" not in p.stdout and b"\x1b" not in p.stderr and b"\r" not in p.stderr
    assert p.stdout.decode().startswith("1 of 1 files")


def test_progress_as_a_person_sees_it_in_tmux(cli, bucket_url, tmp_path):
    """The rendered screen, not the byte stream: in a real terminal (tmux, 120 × 20) the bars
    redraw in place while a file uploads, two lines (the file's and the total) and never a
    scrolling trail, and at the end only the summary line is left."""
    import shlex
    import shutil

    tmux = shutil.which("tmux")
    assert tmux, "tmux is not installed (bash .ci/run installs it)"
    src = tmp_path / "big.bin"
    block = os.urandom(MiB)
    with src.open("wb") as f:
        for _ in range(300):
            f.write(block)
    session = f"coffer-{os.getpid()}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in cli.env.items() if k.startswith(("COFFER_", "XDG_")))
    command = (f"env {env} {shlex.quote(str(cli.server.binary))} cp {shlex.quote(str(src))} "
               f"{bucket_url}/big.bin --parallel 2; echo EXIT=$?; sleep 60")
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "120", "-y", "20", command], check=True)

    def screen() -> list[str]:
        out = subprocess.run([tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True)
        return [line for line in out.stdout.splitlines() if line.strip()]

    try:
        seen_bars: list[list[str]] = []
        deadline = time.monotonic() + 120
        while True:
            lines = screen()
            if any(line.startswith("EXIT=") for line in lines):
                break
            if any("MiB/300.00 MiB" in line for line in lines):
                seen_bars.append(lines)
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)  # sampling the screen, bounded by the deadline
        assert seen_bars, "no progress bar was ever on the screen"
        for lines in seen_bars:
            bars = [line for line in lines if "MiB/300.00 MiB" in line]
            # The file's bar and the total: redrawn in place, never a trail of old frames.
            assert 1 <= len(bars) <= 2 and len(lines) <= 3, lines
        final = screen()
        assert final == ["1 of 1 files, 314572800 bytes", "EXIT=0"], final
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)


def max_rss_kib(cli: Cli, *args: str) -> int:
    """Runs `coffer *args` to its end and returns its peak resident set size, in KiB."""
    proc = subprocess.Popen(cli.argv(*args), env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.returncode == 0, f"coffer {' '.join(args)}: {err}"
    return usage.ru_maxrss


def test_memory_stays_flat_as_files_grow(cli, bucket_url, tmp_path):
    """Uploads and downloads stream: the client's peak memory for a 2 GiB file is about that of a
    256 MiB one (both multipart, parts in flight bounded by --parallel), not eight times it."""
    sizes = {"small": 256 * MiB, "large": 2048 * MiB}
    peaks = {}
    for name, size in sizes.items():
        src = tmp_path / f"{name}.bin"
        with src.open("wb") as f:
            f.truncate(size)  # sparse: the file costs no disk, its bytes still stream through
        up = max_rss_kib(cli, "cp", str(src), f"{bucket_url}/{name}.bin", "--parallel", "4")
        back = tmp_path / f"{name}.back"
        down = max_rss_kib(cli, "cp", f"{bucket_url}/{name}.bin", str(back), "--parallel", "4")
        assert back.stat().st_size == size
        back.unlink()
        src.unlink()
        peaks[name] = (up, down)
    for i, what in enumerate(["upload", "download"]):
        small, large = peaks["small"][i], peaks["large"][i]
        assert large < small + 48 * 1024, f"{what}: {small} KiB for 256 MiB, {large} KiB for 2 GiB"
        assert large < 256 * 1024, f"{what}: {large} KiB for a 2 GiB file"
