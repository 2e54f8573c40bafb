"""TLS on the real binary with the real clients: oss2 (V1 and V4), alibabacloud-oss-v2 and the KMS
SDK over https, trusting the server's self-signed certificate through a CA bundle; a
certificate swapped and SIGHUP'd while a download runs; a certificate per listener;
`acs:SecureTransport` from the connection (OSS bucket policies, and RAM policies on the KMS
API); and the refusal of a KMS listener exposed without TLS.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import signal
import socket
import ssl
import subprocess
import time

import certifi
import oss2
import pytest
import requests
from alibabacloud_kms20160120 import models as tea_models
from alibabacloud_kms20160120.client import Client as TeaClient
from alibabacloud_tea_openapi import models as open_api_models
from cryptography import x509
from darabonba.runtime import RuntimeOptions
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from coffer_harness import REGION, CofferServer
from sdkutil import oss2_bucket_for, random_bytes, unique_bucket_name, v2_client_for

BOUND_S = 30


def tea_https_client(server: CofferServer) -> TeaClient:
    """The KMS SDK (Tea) for the server's KMS listener over https, signing as the root; it
    takes its CA bundle per call (`RuntimeOptions(ca=...)`)."""
    return TeaClient(
        open_api_models.Config(
            access_key_id=server.access_key_id,
            access_key_secret=server.access_key_secret,
            endpoint=server.kms_endpoint,
            protocol="https",
            region_id=REGION,
        )
    )


def https(server: CofferServer) -> str:
    return f"https://{server.host}:{server.port}"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    server = CofferServer.create(tmp_path_factory.mktemp("tls"))
    server.extra_args = ["--tls-self-signed"]
    server.start()
    yield server
    assert server.stop() == 0, server.log_tail()


@pytest.fixture
def ca_bundle(tls_server, monkeypatch):
    """Every requests-based SDK (oss2, oss-v2, Tea) trusts the self-signed certificate."""
    path = tls_server.data_dir / "tls-self-signed.crt"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(path))
    return path


def test_self_signed_start_prints_the_fingerprint_and_keeps_the_key_private(tls_server):
    key = tls_server.data_dir / "tls-self-signed.key"
    assert key.stat().st_mode & 0o777 == 0o600
    pem = (tls_server.data_dir / "tls-self-signed.crt").read_bytes()
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    fingerprint = hashlib.sha256(der).hexdigest().upper()
    log = tls_server.log_path.read_text()
    assert ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)) in log


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_oss2_over_https(tls_server, ca_bundle, version):
    name = unique_bucket_name("tls")
    bucket = oss2_bucket_for(tls_server, name, version, endpoint=https(tls_server))
    bucket.create_bucket()
    data = random_bytes(300_000, seed=1)
    bucket.put_object("k", data)
    assert bucket.get_object("k").read() == data
    # Without the bundle the certificate is not trusted.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(https(tls_server) + "/health/live", timeout=BOUND_S, verify=certifi.where())


def test_oss_v2_over_https(tls_server, ca_bundle):
    import alibabacloud_oss_v2 as oss

    client = v2_client_for(tls_server, "v4", endpoint=https(tls_server))
    name = unique_bucket_name("tlsv2")
    client.put_bucket(oss.PutBucketRequest(bucket=name))
    client.put_object(oss.PutObjectRequest(bucket=name, key="k", body=b"over tls"))
    got = client.get_object(oss.GetObjectRequest(bucket=name, key="k"))
    assert got.body.read() == b"over tls"


def test_kms_sdk_over_https(tls_server, ca_bundle):
    client = tea_https_client(tls_server)
    # The Tea SDK takes its CA bundle per call, not from the environment.
    rt = RuntimeOptions(ca=str(ca_bundle))
    key = client.create_key_with_options(tea_models.CreateKeyRequest(), rt).body.key_metadata.key_id
    blob = client.encrypt_with_options(
        tea_models.EncryptRequest(key_id=key, plaintext="aGVsbG8="), rt
    ).body.ciphertext_blob
    plain = client.decrypt_with_options(tea_models.DecryptRequest(ciphertext_blob=blob), rt).body.plaintext
    assert plain == "aGVsbG8="


def test_http2_is_offered_by_alpn(tls_server, ca_bundle):
    ctx = ssl.create_default_context(cafile=str(ca_bundle))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((tls_server.host, tls_server.port), timeout=BOUND_S) as raw:
        with ctx.wrap_socket(raw, server_hostname=tls_server.host) as s:
            assert s.selected_alpn_protocol() == "h2"


def secure_only_policy(bucket: oss2.Bucket) -> str:
    account = bucket.get_bucket_info().owner.id
    return json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["oss:GetObject"],
                    "Principal": ["*"],
                    "Resource": [f"acs:oss:*:{account}:{bucket.bucket_name}/*"],
                    "Condition": {"Bool": {"acs:SecureTransport": ["true"]}},
                }
            ],
        }
    )


def test_secure_transport_allows_over_tls(tls_server, ca_bundle):
    name = unique_bucket_name("st")
    bucket = oss2_bucket_for(tls_server, name, "v4", endpoint=https(tls_server))
    bucket.create_bucket()
    bucket.put_object("k", b"public over tls")
    bucket.put_bucket_policy(secure_only_policy(bucket))
    r = requests.get(f"{https(tls_server)}/{name}/k", timeout=BOUND_S)
    assert r.status_code == 200, r.text
    assert r.content == b"public over tls"


def test_secure_transport_denies_over_http(coffer, bucket, bucket_name):
    bucket.put_object("k", b"public over tls")
    bucket.put_bucket_policy(secure_only_policy(bucket))
    try:
        r = requests.get(f"{coffer.endpoint}/{bucket_name}/k", timeout=BOUND_S)
        assert r.status_code == 403, r.text
    finally:
        bucket.delete_bucket_policy()


def make_pair(directory, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert_pem, key_pem, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def served_fingerprint(server: CofferServer, port: int | None = None) -> str:
    """SHA-256 of the certificate the listener on `port` (the OSS one by default) presents."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((server.host, port or server.port), timeout=BOUND_S) as raw:
        with ctx.wrap_socket(raw) as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def test_a_certificate_swapped_on_sighup_keeps_a_running_download(tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    old_cert, old_key, old_fp = make_pair(tmp_path, "old")
    new_cert, new_key, new_fp = make_pair(tmp_path, "new")
    cert.write_bytes(old_cert)
    key.write_bytes(old_key)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(old_cert + new_cert)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    server = CofferServer.create(tmp_path / "swap")
    server.extra_args = ["--tls-cert", str(cert), "--tls-key", str(key)]
    server.start()
    try:
        bucket = oss2_bucket_for(server, unique_bucket_name("swap"), "v4", endpoint=https(server))
        bucket.create_bucket()
        data = random_bytes(8 * 1024 * 1024, seed=7)
        bucket.put_object("big", data)
        download = bucket.get_object("big")
        first = download.read(64 * 1024)
        cert.write_bytes(new_cert)
        key.write_bytes(new_key)
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + BOUND_S
        while served_fingerprint(server) != new_fp:
            assert time.monotonic() < deadline, "the new certificate was not served after SIGHUP"
            time.sleep(0.05)  # polling for the reload, bounded
        assert first + download.read() == data
        assert bucket.get_object("big").read() == data
    finally:
        assert server.stop() == 0, server.log_tail()


def test_a_kms_listener_off_loopback_without_tls_is_refused(tmp_path):
    server = CofferServer.create(tmp_path / "exposed")
    proc = subprocess.run(
        [str(server.binary), "server", "--listen", "127.0.0.1:0", "--data-dir", str(server.data_dir),
         "--kms-listen", "0.0.0.0:0"],
        capture_output=True, text=True, timeout=BOUND_S,
        env={"COFFER_ROOT_ACCESS_KEY_ID": server.access_key_id,
             "COFFER_ROOT_ACCESS_KEY_SECRET": server.access_key_secret,
             "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode != 0
    assert "without TLS" in proc.stderr and "--allow-insecure-network" in proc.stderr, proc.stderr


def test_each_listener_serves_its_own_pair_and_sighup_reloads_each(tmp_path):
    files = {}
    fingerprints = {}
    for name in ("oss", "kms", "kms-new"):
        cert_pem, key_pem, fingerprints[name] = make_pair(tmp_path, name)
        files[name] = (cert_pem, key_pem)
    paths = {}
    for listener in ("oss", "kms"):
        cert, key = tmp_path / f"{listener}.crt", tmp_path / f"{listener}.key"
        cert.write_bytes(files[listener][0])
        key.write_bytes(files[listener][1])
        paths[listener] = (cert, key)
    server = CofferServer.create(tmp_path / "own")
    server.extra_args = [
        "--oss-tls-cert", str(paths["oss"][0]), "--oss-tls-key", str(paths["oss"][1]),
        "--kms-tls-cert", str(paths["kms"][0]), "--kms-tls-key", str(paths["kms"][1]),
    ]
    server.start()
    try:
        assert served_fingerprint(server) == fingerprints["oss"]
        assert served_fingerprint(server, server.kms_port) == fingerprints["kms"]
        # The KMS SDK trusting only the KMS listener's certificate gets through.
        bundle = tmp_path / "kms-bundle.pem"
        bundle.write_bytes(files["kms"][0] + files["kms-new"][0])
        client = tea_https_client(server)
        rt = RuntimeOptions(ca=str(bundle))
        assert client.list_keys_with_options(tea_models.ListKeysRequest(), rt).body.total_count >= 0

        paths["kms"][0].write_bytes(files["kms-new"][0])
        paths["kms"][1].write_bytes(files["kms-new"][1])
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + BOUND_S
        while served_fingerprint(server, server.kms_port) != fingerprints["kms-new"]:
            assert time.monotonic() < deadline, "the KMS listener's new certificate was not served"
            time.sleep(0.05)  # polling for the reload, bounded
        assert served_fingerprint(server) == fingerprints["oss"], "the OSS listener's pair changed"
        assert client.list_keys_with_options(tea_models.ListKeysRequest(), rt).body.total_count >= 0
    finally:
        assert server.stop() == 0, server.log_tail()


def test_a_listener_certificate_without_its_key_is_a_one_line_error(tmp_path):
    server = CofferServer.create(tmp_path / "half")
    cert_pem, _, _ = make_pair(tmp_path, "half")
    cert = tmp_path / "half.crt"
    cert.write_bytes(cert_pem)
    proc = subprocess.run(
        [str(server.binary), "server", "--listen", "127.0.0.1:0", "--kms-listen", "127.0.0.1:0",
         "--data-dir", str(server.data_dir), "--kms-tls-cert", str(cert)],
        capture_output=True, text=True, timeout=BOUND_S,
        env={"COFFER_ROOT_ACCESS_KEY_ID": server.access_key_id,
             "COFFER_ROOT_ACCESS_KEY_SECRET": server.access_key_secret,
             "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "go together" in line]
    assert len(errors) == 1 and "--kms-tls-cert and --kms-tls-key" in errors[0], proc.stderr


def test_a_ram_policy_on_secure_transport_governs_the_kms_api(tmp_path):
    """One RAM user, one policy allowing kms:* but denying it without TLS: the KMS SDK is refused
    over http with the KMS error code and served over https (the same data directory restarted
    with --tls-self-signed)."""
    from alibabacloud_tea_openapi.exceptions import ClientException

    from test_ram import Ram, admin_endpoint

    server = CofferServer.create(tmp_path / "kms-st")
    server.start()
    try:
        ram = Ram(server, admin_endpoint(server))
        user = ram.user("kmsst")
        ram.policy(
            [
                {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "kms:*", "Resource": "*",
                 "Condition": {"Bool": {"acs:SecureTransport": "false"}}},
            ],
            tmp_path,
            user=user.name,
        )

        def client(protocol: str) -> TeaClient:
            return TeaClient(
                open_api_models.Config(
                    access_key_id=user.access_key_id,
                    access_key_secret=user.access_key_secret,
                    endpoint=server.kms_endpoint,
                    protocol=protocol,
                    region_id=REGION,
                )
            )

        for call in (
            lambda c: c.list_keys(tea_models.ListKeysRequest()),
            lambda c: c.create_key(tea_models.CreateKeyRequest()),
        ):
            with pytest.raises(ClientException) as denied:
                call(client("http"))
            assert (denied.value.code, denied.value.status_code) == ("Forbidden.NoPermission", 403), denied.value
    finally:
        assert server.stop() == 0, server.log_tail()

    server.extra_args = ["--tls-self-signed"]
    server.start()
    try:
        rt = RuntimeOptions(ca=str(server.data_dir / "tls-self-signed.crt"))
        tls = client("https")
        key = tls.create_key_with_options(tea_models.CreateKeyRequest(), rt).body.key_metadata.key_id
        blob = tls.encrypt_with_options(
            tea_models.EncryptRequest(key_id=key, plaintext="aGVsbG8="), rt
        ).body.ciphertext_blob
        plain = tls.decrypt_with_options(tea_models.DecryptRequest(ciphertext_blob=blob), rt).body.plaintext
        assert plain == "aGVsbG8="
    finally:
        assert server.stop() == 0, server.log_tail()
