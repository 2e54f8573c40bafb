"""The S3 dialect through real S3 tools: the aws cli (`s3 cp` recursive with multipart, `s3 sync`,
`s3api`), rclone (copy, sync, check against an SSE-KMS bucket), s3cmd (put, get, ls) and restic
(init, backup, restore, `check --read-data` into a bucket whose default is SSE-KMS).

Each tool runs as a subprocess with its own configuration in the test's temporary directory (no
file of the user's is read). A test is skipped only when its tool is not installed; `.ci/run`
installs them all."""

from __future__ import annotations

import filecmp
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import oss2
import pytest

from sdkutil import oss2_bucket_for, random_bytes
from test_s3_basic import s3_client
from test_sse_kms import cmk, kms_client  # noqa: F401  (fixtures)

TOOL_TIMEOUT_S = 300
MIB = 1024 * 1024


def tool(name: str) -> str:
    """The tool's path; the aws cli is the one installed in the SDK venv, beside this Python."""
    if name == "aws":
        beside = Path(sys.executable).parent / "aws"
        if beside.exists():
            return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return found


def run(argv: list[str], env: dict, cwd: Path | None = None) -> str:
    """Runs a tool; a failure shows its output."""
    proc = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv[:3])}... exited {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}"
            f"\nstderr:\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


def base_env(tmp_path: Path) -> dict:
    """The environment minus anything that would point a tool at the user's own configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "RESTIC_"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    return env


def make_tree(root: Path, seed: int) -> dict[str, bytes]:
    """A directory tree: small files, an empty one, nested directories, spaces and one file
    large enough to be uploaded in parts (12 MiB with 5 MiB parts: three parts)."""
    files = {
        "a.txt": b"alpha\n",
        "empty": b"",
        "dir one/b.bin": random_bytes(70_000, seed=seed),
        "dir one/deeper/c.bin": random_bytes(1_500_000, seed=seed + 1),
        "d/e/f/g.txt": b"nested " * 100,
        "big.bin": random_bytes(12 * MIB + 12345, seed=seed + 2),
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def assert_same_tree(left: Path, right: Path) -> None:
    def walk(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*")
            if p.is_file()
        }

    assert walk(left) == walk(right)


def stored_keys(s3, bucket: str, prefix: str = "") -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


@pytest.fixture
def s3(coffer):
    return s3_client(coffer)


# -- aws cli ---------------------------------------------------------------------------------


@pytest.fixture
def aws(coffer, tmp_path):
    """`aws ...` against the S3 listener: 5 MiB multipart threshold and parts, path-style."""
    return aws_cli(coffer, tmp_path)


def aws_cli(coffer, tmp_path):
    """The aws cli as the `aws` fixture sets it up, for tests in other files."""
    exe = tool("aws")
    config = tmp_path / "aws-config"
    config.write_text(
        "[default]\nregion = us-east-1\n"
        "s3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n  addressing_style = path\n"
    )
    env = base_env(tmp_path)
    env.update(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials-none"),
        AWS_ACCESS_KEY_ID=coffer.access_key_id,
        AWS_SECRET_ACCESS_KEY=coffer.access_key_secret,
        AWS_MAX_ATTEMPTS="1",
    )

    def aws_(*args: str) -> str:
        return run([exe, "--endpoint-url", coffer.s3_endpoint, *args], env)

    return aws_


def test_aws_cli_recursive_copy_uses_multipart_and_round_trips(aws, s3, bucket_name, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    files = make_tree(src, seed=101)
    aws("s3", "cp", "--recursive", "--only-show-errors", str(src), f"s3://{bucket_name}/tree/")
    assert sorted(stored_keys(s3, bucket_name, "tree/")) == sorted(f"tree/{k}" for k in files)
    # Above the threshold the cli uploads in parts: the ETag of a multipart object ends in -3.
    big = s3.head_object(Bucket=bucket_name, Key="tree/big.bin")
    assert big["ETag"].strip('"').endswith("-3") and big["ContentLength"] == len(files["big.bin"])
    small = s3.head_object(Bucket=bucket_name, Key="tree/a.txt")
    assert small["ETag"] == '"%s"' % hashlib.md5(files["a.txt"]).hexdigest()
    aws("s3", "cp", "--recursive", "--only-show-errors", f"s3://{bucket_name}/tree/", str(dst))
    assert_same_tree(src, dst)
    listing = aws("s3", "ls", "--recursive", f"s3://{bucket_name}/tree/")
    assert "tree/dir one/deeper/c.bin" in listing and "tree/big.bin" in listing


def test_aws_cli_sync_uploads_changes_and_deletes(aws, s3, bucket_name, tmp_path):
    src = tmp_path / "src"
    make_tree(src, seed=202)
    aws("s3", "sync", "--only-show-errors", str(src), f"s3://{bucket_name}/s/")
    # A second sync of an unchanged tree has nothing to do.
    assert aws("s3", "sync", str(src), f"s3://{bucket_name}/s/").strip() == ""
    (src / "a.txt").write_bytes(b"alpha, changed in size\n")
    (src / "new.txt").write_bytes(b"new file\n")
    (src / "d" / "e" / "f" / "g.txt").unlink()
    out = aws("s3", "sync", "--delete", str(src), f"s3://{bucket_name}/s/")
    assert "upload: " in out and "a.txt" in out and "new.txt" in out
    assert "delete: " in out and "g.txt" in out
    assert "big.bin" not in out
    keys = set(stored_keys(s3, bucket_name, "s/"))
    assert "s/new.txt" in keys and "s/d/e/f/g.txt" not in keys
    assert s3.get_object(Bucket=bucket_name, Key="s/a.txt")["Body"].read() == b"alpha, changed in size\n"
    # And down again into an empty directory.
    dst = tmp_path / "dst"
    aws("s3", "sync", "--only-show-errors", f"s3://{bucket_name}/s/", str(dst))
    assert_same_tree(src, dst)


def test_aws_cli_s3api_encryption_calls(aws, coffer, bucket_name, tmp_path, cmk):  # noqa: F811
    import json

    body = tmp_path / "body"
    body.write_bytes(random_bytes(300_000, seed=303))
    put = json.loads(
        aws("s3api", "put-object", "--bucket", bucket_name, "--key", "kms", "--body", str(body),
            "--server-side-encryption", "aws:kms", "--ssekms-key-id", cmk)
    )
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == cmk
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket_name, "--key", "kms"))
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == cmk
    assert head["ContentLength"] == 300_000
    out = tmp_path / "out"
    aws("s3api", "get-object", "--bucket", bucket_name, "--key", "kms", str(out))
    assert out.read_bytes() == body.read_bytes()
    # The high-level command with SSE-S3, then the object as the OSS API sees it.
    aws("s3", "cp", "--only-show-errors", "--sse", "AES256", str(body), f"s3://{bucket_name}/s3")
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket_name, "--key", "s3"))
    assert head["ServerSideEncryption"] == "AES256"
    oss = oss2_bucket_for(coffer, bucket_name, "v4")
    assert oss.head_object("s3").headers["x-oss-server-side-encryption"] == "AES256"
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket_name))
    assert sorted(o["Key"] for o in listed["Contents"]) == ["kms", "s3"]
    aws("s3api", "delete-object", "--bucket", bucket_name, "--key", "kms")
    assert [o.key for o in oss2.ObjectIteratorV2(oss)] == ["s3"]
    # The bucket default through s3api: what the OSS API reads, and what a plain cp gets.
    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": cmk}}]}
    aws("s3api", "put-bucket-encryption", "--bucket", bucket_name,
        "--server-side-encryption-configuration", json.dumps(config))
    got = json.loads(aws("s3api", "get-bucket-encryption", "--bucket", bucket_name))
    assert got["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"] == (
        config["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    )
    assert oss.get_bucket_encryption().kms_master_keyid == cmk
    aws("s3", "cp", "--only-show-errors", str(body), f"s3://{bucket_name}/defaulted")
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket_name, "--key", "defaulted"))
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == cmk
    aws("s3api", "delete-bucket-encryption", "--bucket", bucket_name)
    with pytest.raises(AssertionError, match="ServerSideEncryptionConfigurationNotFoundError"):
        aws("s3api", "get-bucket-encryption", "--bucket", bucket_name)


# -- rclone ----------------------------------------------------------------------------------


@pytest.fixture
def rclone(coffer, tmp_path, cmk):  # noqa: F811
    """`rclone ...` with a remote `coffer:` (S3, provider Other) that writes under SSE-KMS with
    the test's CMK, in 5 MiB parts above 5 MiB."""
    exe = tool("rclone")
    env = base_env(tmp_path)
    env["RCLONE_CONFIG"] = str(tmp_path / "rclone.conf")
    env.update(
        {
            "RCLONE_CONFIG_COFFER_TYPE": "s3",
            "RCLONE_CONFIG_COFFER_PROVIDER": "Other",
            "RCLONE_CONFIG_COFFER_ACCESS_KEY_ID": coffer.access_key_id,
            "RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY": coffer.access_key_secret,
            "RCLONE_CONFIG_COFFER_ENDPOINT": coffer.s3_endpoint,
            "RCLONE_CONFIG_COFFER_REGION": "us-east-1",
            "RCLONE_CONFIG_COFFER_FORCE_PATH_STYLE": "true",
            "RCLONE_CONFIG_COFFER_SERVER_SIDE_ENCRYPTION": "aws:kms",
            "RCLONE_CONFIG_COFFER_SSE_KMS_KEY_ID": cmk,
            "RCLONE_CONFIG_COFFER_UPLOAD_CUTOFF": "5M",
            "RCLONE_CONFIG_COFFER_CHUNK_SIZE": "5M",
            "RCLONE_LOW_LEVEL_RETRIES": "1",
            "RCLONE_RETRIES": "1",
        }
    )

    def rclone_(*args: str) -> str:
        return run([exe, *args], env)

    rclone_.cmk = cmk
    return rclone_


def test_rclone_copy_sync_check_against_an_sse_kms_bucket(rclone, s3, bucket_name, tmp_path):
    src = tmp_path / "src"
    make_tree(src, seed=404)
    remote = f"coffer:{bucket_name}/r"
    rclone("copy", str(src), remote)
    rclone("check", str(src), remote)
    rclone("check", "--download", str(src), remote)
    for key in stored_keys(s3, bucket_name, "r/"):
        head = s3.head_object(Bucket=bucket_name, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == rclone.cmk, key
    (src / "a.txt").write_bytes(b"changed by the sync test\n")
    (src / "dir one" / "b.bin").unlink()
    (src / "added.bin").write_bytes(random_bytes(6 * MIB, seed=405))
    rclone("sync", str(src), remote)
    rclone("check", "--download", str(src), remote)
    keys = set(stored_keys(s3, bucket_name, "r/"))
    assert "r/dir one/b.bin" not in keys and "r/added.bin" in keys
    dst = tmp_path / "dst"
    rclone("copy", remote, str(dst))
    assert_same_tree(src, dst)
    # A changed remote object is what check is for: it must notice.
    s3.put_object(Bucket=bucket_name, Key="r/a.txt", Body=b"tampered behind rclone's back\n")
    with pytest.raises(AssertionError):
        rclone("check", str(src), remote)


# -- s3cmd -----------------------------------------------------------------------------------


@pytest.fixture
def s3cmd(coffer, tmp_path):
    exe = tool("s3cmd")
    host = f"{coffer.host}:{coffer.s3_port}"
    config = tmp_path / "s3cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {coffer.access_key_id}\n"
        f"secret_key = {coffer.access_key_secret}\n"
        f"host_base = {host}\n"
        f"host_bucket = {host}\n"
        "bucket_location = us-east-1\n"
        "use_https = False\n"
        "signature_v2 = False\n"
        "multipart_chunk_size_mb = 5\n"
        "check_ssl_certificate = False\n"
    )
    env = base_env(tmp_path)

    def s3cmd_(*args: str) -> str:
        return run([exe, "-c", str(config), "--no-progress", *args], env)

    return s3cmd_


def test_s3cmd_put_get_ls(s3cmd, s3, bucket_name, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src, seed=505)
    s3cmd("put", str(src / "a.txt"), f"s3://{bucket_name}/one/a.txt")
    # 12 MiB in 5 MiB parts: s3cmd's multipart upload.
    s3cmd("put", str(src / "big.bin"), f"s3://{bucket_name}/one/big.bin")
    assert s3.head_object(Bucket=bucket_name, Key="one/big.bin")["ETag"].strip('"').endswith("-3")
    s3cmd("put", "--recursive", str(src) + "/", f"s3://{bucket_name}/tree/")
    listing = s3cmd("ls", f"s3://{bucket_name}/one/")
    assert f"s3://{bucket_name}/one/a.txt" in listing and f"s3://{bucket_name}/one/big.bin" in listing
    recursive = s3cmd("ls", "--recursive", f"s3://{bucket_name}/tree/")
    for rel in files:
        assert f"s3://{bucket_name}/tree/{rel}" in recursive, rel
    assert bucket_name in s3cmd("ls")
    out = tmp_path / "out"
    out.mkdir()
    s3cmd("get", f"s3://{bucket_name}/one/big.bin", str(out / "big.bin"))
    assert filecmp.cmp(src / "big.bin", out / "big.bin", shallow=False)
    (out / "tree").mkdir()
    s3cmd("get", "--recursive", f"s3://{bucket_name}/tree/", str(out / "tree") + "/")
    assert_same_tree(src, out / "tree")
    s3cmd("del", f"s3://{bucket_name}/one/a.txt")
    assert "one/a.txt" not in stored_keys(s3, bucket_name, "one/")
    with pytest.raises(AssertionError):
        s3cmd("get", f"s3://{bucket_name}/one/a.txt", str(out / "gone"))


# -- restic ----------------------------------------------------------------------------------


def test_restic_backup_restore_and_read_check_in_an_sse_kms_bucket(
    coffer, s3, bucket_name, tmp_path, cmk  # noqa: F811
):
    exe = tool("restic")
    oss2_bucket_for(coffer, bucket_name, "v4").put_bucket_encryption(
        oss2.models.ServerSideEncryptionRule("KMS", cmk)
    )
    env = base_env(tmp_path)
    env.update(
        RESTIC_REPOSITORY=f"s3:{coffer.s3_endpoint}/{bucket_name}/repo",
        RESTIC_PASSWORD="correct horse battery staple",
        AWS_ACCESS_KEY_ID=coffer.access_key_id,
        AWS_SECRET_ACCESS_KEY=coffer.access_key_secret,
        AWS_DEFAULT_REGION="us-east-1",
        RESTIC_CACHE_DIR=str(tmp_path / "restic-cache"),
    )
    src = tmp_path / "src"
    make_tree(src, seed=606)
    run([exe, "init"], env)
    run([exe, "backup", "--quiet", "."], env, cwd=src)
    (src / "a.txt").write_bytes(b"second snapshot\n")
    run([exe, "backup", "--quiet", "."], env, cwd=src)
    run([exe, "check", "--read-data"], env)
    snapshots = run([exe, "snapshots", "--json"], env)
    assert snapshots.count('"id"') == 2
    dst = tmp_path / "restored"
    run([exe, "restore", "latest", "--target", str(dst)], env)
    assert_same_tree(src, dst)
    # Every object restic wrote took the bucket's default: SSE-KMS under the CMK.
    keys = stored_keys(s3, bucket_name, "repo/")
    assert any(k.startswith("repo/data/") for k in keys) and "repo/config" in keys
    for key in keys:
        head = s3.head_object(Bucket=bucket_name, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == cmk, key
    # A damaged pack is what `check --read-data` is for: it must fail.
    pack = next(k for k in keys if k.startswith("repo/data/"))
    blob = s3.get_object(Bucket=bucket_name, Key=pack)["Body"].read()
    s3.put_object(Bucket=bucket_name, Key=pack, Body=blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(AssertionError):
        run([exe, "check", "--read-data"], env)
