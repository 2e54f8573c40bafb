"""Unauthenticated health and metrics endpoints."""

from __future__ import annotations

import re

import requests

# One Prometheus/OpenMetrics sample line: name{labels} value [timestamp]
SAMPLE_RE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+]?([0-9.eE+-]+|NaN|[+-]?Inf)( [0-9]+)?$')


def test_health_live_and_ready(coffer):
    for path in ("/health/live", "/health/ready"):
        r = requests.get(coffer.endpoint + path, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text)


def test_metrics_is_prometheus_text(coffer, bucket):
    bucket.put_object("m", b"x")
    bucket.get_object("m").read()
    r = requests.get(coffer.endpoint + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain") or ctype.startswith("application/openmetrics-text"), ctype
    lines = [line for line in r.text.splitlines() if line.strip()]
    samples = [line for line in lines if not line.startswith("#")]
    assert samples, "no metric samples"
    bad = [line for line in samples if not SAMPLE_RE.match(line)]
    assert not bad, bad[:5]
    assert any(line.startswith("# TYPE") for line in lines)


def test_health_endpoints_need_no_signature_but_buckets_do(coffer):
    r = requests.get(coffer.endpoint + "/", timeout=30)
    assert r.status_code == 403, "anonymous ListBuckets must be denied"
    r = requests.get(coffer.endpoint + "/health/live", timeout=30)
    assert r.status_code == 200
