"""Node ali-oss 6.23.0 smoke test (node/smoke.js), one pytest case per step and addressing mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sdkutil import delete_bucket_with_contents, oss2_bucket_for, unique_bucket_name

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "node" / "smoke.js"
NODE_TIMEOUT_S = 300

STEPS = [
    "put", "get", "head", "list", "listV2", "copy", "range", "append", "multipartUpload",
    "missingKeyGet", "missingKeyHead", "deleteMulti", "delete", "listBuckets",
]
MODES = {
    "sld": STEPS + ["signatureUrl"],  # endpoint http://localhost:PORT, sldEnable: true (V1)
    "sld-v4": STEPS + ["signatureUrl"],  # same, authorizationV4: true
    "ip": STEPS,  # endpoint http://127.0.0.1:PORT → Host: <bucket>.oss-cn-hangzhou.aliyuncs.com
}


def run_smoke(coffer, mode: str, tmp_path: Path, extra_env: dict | None = None) -> dict:
    node = shutil.which("node")
    assert node, "node is not installed (bash .ci/run installs it)"
    assert (HERE / "node_modules" / "ali-oss").is_dir(), "run `npm ci` in tests/sdk (bash .ci/run does)"
    name = unique_bucket_name("node")
    bucket = oss2_bucket_for(coffer, name)
    bucket.create_bucket()
    try:
        env = dict(
            os.environ,
            COFFER_PORT=str(coffer.port),
            COFFER_AK=coffer.access_key_id,
            COFFER_SK=coffer.access_key_secret,
            COFFER_BUCKET=name,
            COFFER_TMP=str(tmp_path),
            **(extra_env or {}),
        )
        proc = subprocess.run(
            [node, str(SCRIPT), mode], cwd=HERE, env=env, capture_output=True, text=True,
            timeout=NODE_TIMEOUT_S, stdin=subprocess.DEVNULL,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        assert lines, f"smoke.js printed no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        result = json.loads(lines[-1])
        result["bucket"] = name
        result["returncode"] = proc.returncode
        result["stderr"] = proc.stderr
        return result
    finally:
        delete_bucket_with_contents(bucket)


@pytest.fixture(scope="module")
def smoke(coffer, tmp_path_factory):
    cache: dict[str, dict] = {}

    def get(mode: str) -> dict:
        if mode not in cache:
            cache[mode] = run_smoke(coffer, mode, tmp_path_factory.mktemp(f"node-{mode}"))
        return cache[mode]

    return get


@pytest.mark.parametrize(
    "mode,step", [(m, s) for m, steps in MODES.items() for s in steps], ids=lambda v: str(v)
)
def test_ali_oss_step(smoke, mode, step):
    result = smoke(mode)
    by_name = {s["name"]: s for s in result["steps"]}
    assert "main" not in by_name, by_name["main"]
    assert step in by_name, f"step {step} did not run; stderr:\n{result['stderr']}"
    assert by_name[step]["ok"], by_name[step]


def test_ali_oss_exits_cleanly(smoke):
    for mode in MODES:
        result = smoke(mode)
        assert result["ok"] and result["returncode"] == 0, (mode, [s for s in result["steps"] if not s["ok"]])


def test_ali_oss_ip_endpoint_uses_host_header_for_bucket(smoke, coffer):
    """ali-oss on an IP endpoint: requests go to the IP, the bucket is only in Host; no Date header."""
    result = smoke("ip")
    bucket = result["bucket"]
    reqs = result["requests"]
    assert reqs
    bucket_reqs = [r for r in reqs if r["host"] == f"{bucket}.oss-cn-hangzhou.aliyuncs.com"]
    service_reqs = [r for r in reqs if r["host"] == ".oss-cn-hangzhou.aliyuncs.com"]
    assert len(bucket_reqs) + len(service_reqs) == len(reqs), {r["host"] for r in reqs}
    assert service_reqs, "ListBuckets should carry the empty-label Host"
    for r in reqs:
        url = urlsplit(r["url"])
        assert url.netloc == f"127.0.0.1:{coffer.port}"
        assert not url.path.startswith(f"/{bucket}/"), r["url"]
        assert not r["hasDate"] and r["xOssDate"], r


def test_ali_oss_sld_uses_path_style_on_localhost(smoke, coffer):
    result = smoke("sld")
    bucket = result["bucket"]
    for r in result["requests"]:
        url = urlsplit(r["url"])
        assert url.netloc == f"localhost:{coffer.port}"
        assert r["host"] is None, "ali-oss leaves Host to the HTTP client (localhost:PORT)"
        assert url.path == "/" or url.path.startswith(f"/{bucket}/"), r["url"]


@pytest.fixture(scope="module")
def tls_coffer(tmp_path_factory):
    from coffer_harness import CofferServer

    server = CofferServer.create(tmp_path_factory.mktemp("node-tls"))
    server.extra_args = ["--tls-self-signed"]
    server.start()
    yield server
    assert server.stop() == 0, server.log_tail()


def test_ali_oss_over_https(tls_coffer, tmp_path, monkeypatch):
    """ali-oss (V4, path style) over https, trusting the self-signed certificate: every step of
    the smoke script passes, and every request it made went to an https URL."""
    cert = tls_coffer.data_dir / "tls-self-signed.crt"
    # oss2, which creates and empties the bucket here, trusts the certificate too.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    https_view = _HttpsView(tls_coffer)
    result = run_smoke(https_view, "sld-https", tmp_path, {"NODE_EXTRA_CA_CERTS": str(cert)})
    failed = [s for s in result["steps"] if not s["ok"]]
    assert not failed and result["returncode"] == 0, (failed, result["stderr"][-2000:])
    assert len(result["steps"]) == len(STEPS) + 1
    assert result["requests"] and all(r["url"].startswith("https://") for r in result["requests"])


class _HttpsView:
    """The server as run_smoke sees it, with its OSS endpoint over https."""

    def __init__(self, server):
        self._server = server
        self.endpoint = f"https://{server.host}:{server.port}"

    def __getattr__(self, name):
        return getattr(self._server, name)
