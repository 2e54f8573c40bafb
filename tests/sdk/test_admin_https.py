"""`coffer admin` and `coffer kms usage|audit` over https: against a server started with
--tls-self-signed, the client trusts the server's certificate through --ca-file (or the
profile's ca-file), refuses it without, and never falls back to plain HTTP."""

from __future__ import annotations

import pytest

from coffer_harness import CofferServer
from sdkutil import oss2_bucket_for, unique_bucket_name
from test_cli import Cli, admin_endpoint


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    server = CofferServer.create(tmp_path_factory.mktemp("admintls"))
    server.extra_args = ["--tls-self-signed"]
    server.start()
    yield server
    assert server.stop() == 0, server.log_tail()


def admin_https(server: CofferServer) -> str:
    return admin_endpoint(server, "https")


@pytest.fixture
def cli(tls_server, tmp_path) -> Cli:
    c = Cli(tls_server, tmp_path)
    c.run(
        "config",
        "--endpoint", f"https://{tls_server.host}:{tls_server.port}",
        "--admin-endpoint", admin_https(tls_server),
        "--access-key-id", tls_server.access_key_id,
        "--access-key-secret", tls_server.access_key_secret,
        "--ca-file", str(tls_server.data_dir / "tls-self-signed.crt"),
    )
    return c


def test_admin_commands_go_over_https_with_the_profiles_ca_file(cli):
    me = cli.json("admin", "sts", "whoami")
    assert me["Arn"].endswith(":root")
    user = cli.json("admin", "user", "create", "https-alice")
    assert user["User"]["UserName"] == "https-alice"
    names = [u["UserName"] for u in cli.json("admin", "user", "list")["Users"]]
    assert "https-alice" in names


def test_a_server_certificate_not_trusted_is_refused(tls_server, tmp_path):
    bare = Cli(tls_server, tmp_path)
    bare.run(
        "config",
        "--endpoint", f"https://{tls_server.host}:{tls_server.port}",
        "--admin-endpoint", admin_https(tls_server),
        "--access-key-id", tls_server.access_key_id,
        "--access-key-secret", tls_server.access_key_secret,
    )
    p = bare.run("admin", "sts", "whoami", ok=False)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert "certificate" in err.lower() or "tls" in err.lower(), err
    # The flag (or COFFER_CA_FILE) gives the certificate on the command line.
    ok = bare.run("admin", "--ca-file", str(tls_server.data_dir / "tls-self-signed.crt"), "sts", "whoami")
    assert b"root" in ok.stdout
    # Plain HTTP to the TLS listener is not answered as if it were the API.
    plain = admin_https(tls_server).replace("https://", "http://")
    p = bare.run("admin", "--endpoint", plain, "sts", "whoami", ok=False)
    assert p.returncode != 0


def test_kms_usage_and_audit_over_https(tls_server, cli, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.data_dir / "tls-self-signed.crt"))
    b = oss2_bucket_for(
        tls_server, unique_bucket_name("tlsu"), endpoint=f"https://{tls_server.host}:{tls_server.port}"
    )
    b.create_bucket()
    b.put_object("k", b"secret bytes", headers={"x-oss-server-side-encryption": "KMS"})
    trail = cli.lines("kms", "audit", "--tail", "20")
    assert any(r.get("operation") == "GenerateDataKey" for r in trail), trail
    usage = cli.lines("kms", "usage")
    assert usage, "no usage over https"
