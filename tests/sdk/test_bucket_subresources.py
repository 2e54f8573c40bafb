"""Bucket sub-resources real applications call: CORS (Put/Get/DeleteBucketCors, the preflight
OPTIONS request and the Access-Control-* headers of actual requests), bucket tagging, and
lifecycle rules (their validation, and objects expiring when the server's clock moves)."""

from __future__ import annotations

import datetime as dt
import time

import oss2
import pytest
from oss2.models import (
    AbortMultipartUpload,
    BucketCors,
    BucketLifecycle,
    CorsRule,
    LifecycleExpiration,
    LifecycleRule,
    Tagging,
    TaggingRule,
)


def server_error(fn) -> oss2.exceptions.ServerError:
    with pytest.raises(oss2.exceptions.ServerError) as e:
        fn()
    return e.value


def tagging(**tags: str) -> Tagging:
    rule = TaggingRule()
    for k, v in tags.items():
        rule.add(k, v)
    return Tagging(rule)


def preflight(raw, bucket_name, key="k", origin="http://app.test", method="PUT", headers=None):
    h = {}
    if origin is not None:
        h["Origin"] = origin
    if method is not None:
        h["Access-Control-Request-Method"] = method
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return raw.request("OPTIONS", bucket_name, key, headers=h, sign=None)


# -- CORS -----------------------------------------------------------------------------------


def test_cors_rules_round_trip_and_delete(ob):
    assert server_error(ob.get_bucket_cors).code == "NoSuchCORSConfiguration"
    rules = [
        CorsRule(
            allowed_origins=["http://app.test", "https://*.example.com"],
            allowed_methods=["GET", "PUT"],
            allowed_headers=["x-oss-*", "content-type"],
            expose_headers=["ETag", "x-oss-request-id"],
            max_age_seconds=600,
        ),
        CorsRule(allowed_origins=["*"], allowed_methods=["HEAD"]),
    ]
    ob.put_bucket_cors(BucketCors(rules, response_vary=True))
    got = ob.get_bucket_cors()
    assert got.response_vary is True
    assert [r.allowed_origins for r in got.rules] == [["http://app.test", "https://*.example.com"], ["*"]]
    assert got.rules[0].allowed_methods == ["GET", "PUT"]
    assert got.rules[0].allowed_headers == ["x-oss-*", "content-type"]
    assert got.rules[0].expose_headers == ["ETag", "x-oss-request-id"]
    assert got.rules[0].max_age_seconds == 600
    assert got.rules[1].max_age_seconds is None
    ob.delete_bucket_cors()
    assert server_error(ob.get_bucket_cors).status == 404


@pytest.mark.parametrize(
    "rule, code",
    [
        (CorsRule(allowed_origins=["http://*.a.*"], allowed_methods=["GET"]), "InvalidArgument"),
        (CorsRule(allowed_origins=["*"], allowed_methods=["GET"], allowed_headers=["x-*-*"]), "InvalidArgument"),
        (CorsRule(allowed_origins=["*"], allowed_methods=["PATCH"]), "InvalidArgument"),
        (CorsRule(allowed_origins=["*"], allowed_methods=["GET"], expose_headers=["x-*"]), "InvalidArgument"),
        (CorsRule(allowed_methods=["GET"]), "MalformedXML"),
    ],
)
def test_bad_cors_rules_are_refused(bucket, rule, code):
    e = server_error(lambda: bucket.put_bucket_cors(BucketCors([rule])))
    assert (e.status, e.code) == (400, code)
    assert server_error(bucket.get_bucket_cors).code == "NoSuchCORSConfiguration"


def test_at_most_ten_cors_rules(bucket):
    rule = CorsRule(allowed_origins=["*"], allowed_methods=["GET"])
    bucket.put_bucket_cors(BucketCors([rule] * 10))
    e = server_error(lambda: bucket.put_bucket_cors(BucketCors([rule] * 11)))
    assert (e.status, e.code) == (400, "InvalidArgument")
    assert len(bucket.get_bucket_cors().rules) == 10


def test_preflight_is_answered_by_the_first_matching_rule(raw, bucket, bucket_name):
    r = preflight(raw, bucket_name)
    assert (r.status, r.code) == (403, "AccessForbidden")
    bucket.put_bucket_cors(
        BucketCors(
            [
                CorsRule(
                    allowed_origins=["http://app.test"],
                    allowed_methods=["PUT", "GET"],
                    allowed_headers=["x-oss-*", "Content-Type"],
                    expose_headers=["ETag"],
                    max_age_seconds=60,
                ),
                CorsRule(allowed_origins=["https://*.example.com"], allowed_methods=["GET"]),
            ]
        )
    )
    r = preflight(raw, bucket_name, headers="x-oss-meta-a, content-type")
    assert r.status == 200, r
    assert r.header("Access-Control-Allow-Origin") == "http://app.test"
    assert "PUT" in r.header("Access-Control-Allow-Methods")
    assert r.header("Access-Control-Allow-Headers") == "x-oss-meta-a, content-type"
    assert r.header("Access-Control-Expose-Headers") == "ETag"
    assert r.header("Access-Control-Max-Age") == "60"
    r = preflight(raw, bucket_name, origin="https://a.example.com", method="GET")
    assert r.status == 200 and r.header("Access-Control-Allow-Origin") == "https://a.example.com"
    for origin, method, headers in [
        ("http://evil.test", "PUT", None),
        ("https://a.example.com", "PUT", None),
        ("http://app.test", "DELETE", None),
        ("http://app.test", "PUT", "authorization"),
    ]:
        r = preflight(raw, bucket_name, origin=origin, method=method, headers=headers)
        assert (r.status, r.code) == (403, "AccessForbidden"), (origin, method, headers)
        assert "CORS request is not allowed" in r.element("Message")
        assert r.header("Access-Control-Allow-Origin") is None
    r = preflight(raw, bucket_name, origin=None)
    assert (r.status, r.code) == (403, "AccessForbidden")


def test_actual_requests_carry_the_matching_rules_headers(raw, bucket, bucket_name):
    bucket.put_object("k", b"data")
    bucket.put_bucket_cors(
        BucketCors(
            [CorsRule(allowed_origins=["*"], allowed_methods=["GET"], expose_headers=["ETag"])]
        )
    )
    r = raw.request("GET", bucket_name, "k", headers={"Origin": "http://app.test"})
    assert r.status == 200
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert r.header("Access-Control-Expose-Headers") == "ETag"
    assert r.header("Vary") is None
    # An error answer carries them too, so a script can read it.
    r = raw.request("GET", bucket_name, "missing", headers={"Origin": "http://app.test"})
    assert (r.status, r.code) == (404, "NoSuchKey")
    assert r.header("Access-Control-Allow-Origin") == "*"
    # No Origin, or a method no rule allows: no CORS headers.
    assert raw.request("GET", bucket_name, "k").header("Access-Control-Allow-Origin") is None
    r = raw.request("DELETE", bucket_name, "nothing", headers={"Origin": "http://app.test"})
    assert r.header("Access-Control-Allow-Origin") is None
    bucket.put_bucket_cors(
        BucketCors([CorsRule(allowed_origins=["*"], allowed_methods=["GET"])], response_vary=True)
    )
    r = raw.request("GET", bucket_name, "k", headers={"Origin": "http://app.test"})
    assert r.header("Access-Control-Allow-Origin") == "http://app.test"
    assert r.header("Vary") == "Origin"


def test_cors_is_refused_on_objects_and_other_methods(raw, bucket, bucket_name):
    r = raw.request("GET", bucket_name, "k", query={"cors": ""})
    assert r.code == "NotImplemented"
    r = raw.request("POST", bucket_name, query={"cors": ""})
    assert (r.status, r.code) == (405, "MethodNotAllowed")


# -- bucket tagging ------------------------------------------------------------------------


def bucket_tags(b: oss2.Bucket) -> dict:
    return dict(b.get_bucket_tagging().tag_set.tagging_rule)


def test_bucket_tags_set_get_and_delete(ob):
    assert bucket_tags(ob) == {}
    ob.put_bucket_tagging(tagging(team="storage", env="test env", empty=""))
    assert bucket_tags(ob) == {"team": "storage", "env": "test env", "empty": ""}
    ob.delete_bucket_tagging(params={"tagging": "env,empty"})
    assert bucket_tags(ob) == {"team": "storage"}
    ob.put_bucket_tagging(tagging(a="1"))
    assert bucket_tags(ob) == {"a": "1"}, "a put replaces the whole set"
    ob.delete_bucket_tagging()
    assert bucket_tags(ob) == {}


@pytest.mark.parametrize(
    "tags",
    [
        {f"k{i}": "v" for i in range(21)},
        {"k" * 65: "v"},
        {"k": "v" * 129},
        {"aliyun-x": "v"},
        {"acs:x": "v"},
        {"http://x": "v"},
    ],
)
def test_bucket_tags_beyond_the_limits_are_refused(bucket, tags):
    e = server_error(lambda: bucket.put_bucket_tagging(tagging(**tags)))
    assert (e.status, e.code) == (400, "InvalidTag")
    assert bucket_tags(bucket) == {}


def test_twenty_bucket_tags_of_the_longest_are_accepted(bucket):
    tags = {f"{i:02d}" + "k" * 62: "v" * 128 for i in range(20)}
    bucket.put_bucket_tagging(tagging(**tags))
    assert bucket_tags(bucket) == tags


def test_bucket_tagging_of_a_missing_bucket(coffer):
    from sdkutil import oss2_bucket_for, unique_bucket_name

    b = oss2_bucket_for(coffer, unique_bucket_name("gone"))
    assert server_error(b.get_bucket_tagging).code == "NoSuchBucket"
    assert server_error(lambda: b.put_bucket_tagging(tagging(a="1"))).code == "NoSuchBucket"


# -- lifecycle -----------------------------------------------------------------------------


def test_lifecycle_rules_round_trip_and_delete(ob):
    assert server_error(ob.get_bucket_lifecycle).code == "NoSuchLifecycle"
    ob.put_bucket_lifecycle(
        BucketLifecycle(
            [
                LifecycleRule(
                    "logs",
                    "logs/",
                    status=LifecycleRule.ENABLED,
                    expiration=LifecycleExpiration(days=30),
                    abort_multipart_upload=AbortMultipartUpload(days=7),
                ),
                LifecycleRule(
                    "old",
                    "",
                    status=LifecycleRule.DISABLED,
                    expiration=LifecycleExpiration(created_before_date=dt.date(2023, 11, 15)),
                ),
                LifecycleRule(
                    "tmp",
                    "tmp/",
                    status=LifecycleRule.ENABLED,
                    expiration=LifecycleExpiration(days=1),
                    tagging=tagging(temporary="yes"),
                ),
            ]
        )
    )
    rules = ob.get_bucket_lifecycle().rules
    assert [(r.id, r.prefix, r.status) for r in rules] == [
        ("logs", "logs/", "Enabled"),
        ("old", "", "Disabled"),
        ("tmp", "tmp/", "Enabled"),
    ]
    assert rules[0].expiration.days == 30 and rules[0].abort_multipart_upload.days == 7
    assert rules[1].expiration.created_before_date == dt.date(2023, 11, 15)
    assert dict(rules[2].tagging.tag_set.tagging_rule) == {"temporary": "yes"}
    ob.delete_bucket_lifecycle()
    assert server_error(ob.get_bucket_lifecycle).status == 404


LIFECYCLE = "<LifecycleConfiguration>{}</LifecycleConfiguration>"


@pytest.mark.parametrize(
    "rules, code",
    [
        ("", "MalformedXML"),
        ("<Rule><ID>a</ID><Prefix/><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>", "MalformedXML"),
        ("<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>", "InvalidArgument"),
        ("<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>x</Days></Expiration></Rule>", "InvalidArgument"),
        (
            "<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>1</Days>"
            "<CreatedBeforeDate>2023-11-15T00:00:00.000Z</CreatedBeforeDate></Expiration></Rule>",
            "MalformedXML",
        ),
        (
            "<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration>"
            "<CreatedBeforeDate>2023-11-15T08:00:00.000Z</CreatedBeforeDate></Expiration></Rule>",
            "InvalidArgument",
        ),
        ("<Rule><ID>a</ID><Prefix/><Status>Enabled</Status></Rule>", "InvalidArgument"),
        (
            "<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"
            "<Rule><ID>a</ID><Prefix>b</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>",
            "InvalidArgument",
        ),
        (
            "<Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Tag><Key>k</Key><Value>v</Value></Tag>"
            "<AbortMultipartUpload><Days>1</Days></AbortMultipartUpload></Rule>",
            "InvalidArgument",
        ),
        (
            "<Rule><ID>a</ID><Prefix/><Status>Enabled</Status>"
            "<Transition><Days>1</Days><StorageClass>IA</StorageClass></Transition></Rule>",
            "NotImplemented",
        ),
    ],
)
def test_bad_lifecycle_rules_are_refused(raw, bucket, bucket_name, rules, code):
    r = raw.request("PUT", bucket_name, query={"lifecycle": ""}, body=LIFECYCLE.format(rules).encode())
    assert r.code == code, r
    assert server_error(bucket.get_bucket_lifecycle).code == "NoSuchLifecycle"


def test_expired_objects_and_stale_uploads_go_when_the_clock_moves(tmp_path):
    """The server applies lifecycle rules on its duty schedule; the `testing` build's clock file
    moves its time forward, so objects expire without waiting days."""
    from coffer_harness import CofferServer
    from sdkutil import oss2_bucket_for

    clock = tmp_path / "clock"
    clock.write_text("0")
    server = CofferServer.create(tmp_path / "lifecycle")
    server.extra_env["COFFER_TEST_KMS_CLOCK_FILE"] = str(clock)
    server.start()
    try:
        if "KMS test clock enabled" not in server.log_tail(200):
            pytest.skip("the binary was built without the `testing` feature")
        b = oss2_bucket_for(server, "lifecycle")
        b.create_bucket()
        for key in ["logs/a", "logs/b", "keep/a"]:
            b.put_object(key, b"x" * 100, headers={"x-oss-server-side-encryption": "AES256"})
        b.put_object("tmp/tagged", b"t", headers={"x-oss-tagging": "temporary=yes"})
        b.put_object("tmp/untagged", b"u")
        b.put_object("off/a", b"o")
        upload = b.init_multipart_upload("logs/big").upload_id
        b.upload_part("logs/big", upload, 1, b"p" * 1024)
        b.put_bucket_lifecycle(
            BucketLifecycle(
                [
                    LifecycleRule(
                        "logs",
                        "logs/",
                        status=LifecycleRule.ENABLED,
                        expiration=LifecycleExpiration(days=3),
                        abort_multipart_upload=AbortMultipartUpload(days=2),
                    ),
                    LifecycleRule(
                        "tmp",
                        "tmp/",
                        status=LifecycleRule.ENABLED,
                        expiration=LifecycleExpiration(days=1),
                        tagging=tagging(temporary="yes"),
                    ),
                    LifecycleRule(
                        "off",
                        "off/",
                        status=LifecycleRule.DISABLED,
                        expiration=LifecycleExpiration(days=1),
                    ),
                ]
            )
        )

        def keys():
            return sorted(o.key for o in oss2.ObjectIterator(b))

        everything = ["keep/a", "logs/a", "logs/b", "off/a", "tmp/tagged", "tmp/untagged"]
        clock.write_text(str(int(1.5 * 86400)))
        deadline = time.monotonic() + 30
        while "tmp/tagged" in keys():
            assert time.monotonic() < deadline, "the tagged object did not expire"
            time.sleep(0.2)
        assert keys() == [k for k in everything if k != "tmp/tagged"]
        assert [u.upload_id for u in oss2.MultipartUploadIterator(b)] == [upload]

        clock.write_text(str(4 * 86400))
        deadline = time.monotonic() + 30
        while "logs/a" in keys() or list(oss2.MultipartUploadIterator(b)):
            assert time.monotonic() < deadline, "the logs did not expire"
            time.sleep(0.2)
        assert keys() == ["keep/a", "off/a", "tmp/untagged"]
        assert b.get_object("keep/a").read() == b"x" * 100
        assert "lifecycle" in server.log_tail(400)
    finally:
        clock.write_text("0")
        assert server.stop() == 0


# -- a browser ------------------------------------------------------------------------------


def browser_fetch(coffer, bucket_name: str, key: str, body: str) -> dict:
    """Runs node/cors.js: a page served from another origin (this test's own HTTP server) PUTs
    `body` to the object and GETs it back with fetch(). Returns the page's outcome and origin."""
    import http.server
    import json
    import os
    import shutil
    import subprocess
    import threading
    from pathlib import Path

    here = Path(__file__).parent
    chromium = os.environ.get("COFFER_CHROMIUM", "/usr/bin/chromium")
    node = shutil.which("node")
    if not node or not (here / "node_modules" / "playwright-core").is_dir() or not Path(chromium).exists():
        pytest.skip("node, playwright-core (npm ci) and chromium are needed (bash .ci/run installs them)")

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            page = b"<!doctype html><title>another origin</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        env = dict(
            os.environ,
            COFFER_PAGE=origin + "/",
            COFFER_OBJECT=f"{coffer.endpoint}/{bucket_name}/{key}",
            COFFER_BODY=body,
            COFFER_CHROMIUM=chromium,
        )
        proc = subprocess.run(
            [node, str(here / "node" / "cors.js")], cwd=here, env=env, capture_output=True,
            text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
    finally:
        server.shutdown()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"cors.js printed no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(lines[-1])
    assert result["ok"], f"cors.js failed: {result.get('error')}\n{proc.stderr}"
    result["origin"] = origin
    return result


def test_a_page_on_another_origin_writes_and_reads_only_as_the_rules_allow(coffer, bucket, bucket_name):
    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    # The page's origin is only known once its server runs: first refuse every origin but one
    # the page does not have.
    bucket.put_bucket_cors(
        BucketCors([CorsRule(allowed_origins=["http://elsewhere.test"], allowed_methods=["GET", "PUT"],
                             allowed_headers=["*"])])
    )
    refused = browser_fetch(coffer, bucket_name, "from-browser", "refused write")
    assert refused["put"] == {"refused": "TypeError"}, refused
    assert refused["get"] == {"refused": "TypeError"}, refused
    assert not bucket.object_exists("from-browser"), "the refused preflight let the PUT through"

    origin = refused["origin"].rsplit(":", 1)[0] + ":*"  # any port of the page's host
    bucket.put_bucket_cors(
        BucketCors([CorsRule(allowed_origins=[origin], allowed_methods=["GET", "PUT"],
                             allowed_headers=["x-oss-meta-*"], expose_headers=["ETag"])])
    )
    allowed = browser_fetch(coffer, bucket_name, "from-browser", "hello from a page")
    assert allowed["put"]["status"] == 200, allowed
    assert allowed["get"] == {"status": 200, "text": "hello from a page", "etag": allowed["put"]["etag"]}
    assert allowed["put"]["etag"], "ETag is exposed to the page"
    head = bucket.head_object("from-browser")
    assert head.headers["x-oss-meta-from"] == "browser"
    assert bucket.get_object("from-browser").read() == b"hello from a page"
