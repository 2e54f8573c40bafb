"""Authentication: V1/V4 headers, V1/V4 presigned URLs, and the auth failure codes."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from urllib.parse import parse_qsl, urlsplit

import alibabacloud_oss_v2 as oss
import oss2
import pytest
import requests

import osssign
from coffer_harness import REGION
from osssign import RawClient, http_date, path_for, query_string
from sdkutil import oss2_bucket_for, random_bytes, v2_client_for, v2_service_error

NOW = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731


# -- the raw signer agrees with the V1/V4 worked examples (guards the helper itself) ---------


def test_raw_signer_matches_spec_v1_example():
    h = {
        "Content-MD5": "XUFAKrxLKna5cZ2REBfFkg==",
        "Content-Type": "text/plain",
        "Date": "Wed, 21 Feb 2024 08:30:00 GMT",
        "x-oss-meta-author": "alice",
        "x-oss-server-side-encryption": "KMS",
    }
    sts = osssign.v1_string_to_sign("PUT", "examplebucket", "docs/hello world.txt", [], h, h["Date"])
    assert osssign.v1_signature("example-secret-key", sts) == "upzM3BIDazMUs3ZmsDisXbPC0cQ="
    q = osssign.v1_presign_query(
        "GET", "examplebucket", "docs/hello world.txt", "example-ak", "example-secret-key", 1708504200,
        extra=[("response-content-type", "text/plain")],
    )
    assert dict(q)["Signature"] == "p+XMjSXfIU0hVmLA0I8779pbubo="


def test_raw_signer_matches_spec_v4_example():
    h = {
        "Content-MD5": "XUFAKrxLKna5cZ2REBfFkg==",
        "Content-Type": "text/plain",
        "x-oss-meta-author": "alice",
        "x-oss-server-side-encryption": "KMS",
        "x-oss-date": "20240221T083000Z",
        "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
    }
    creq = osssign.v4_canonical_request("PUT", "examplebucket", "docs/hello world.txt", [], h)
    sig = osssign.v4_signature("example-secret-key", "cn-hangzhou", "20240221T083000Z", creq)
    assert sig == "9e0a47b27c4423ccde4b4d81b11da607c27a1ecb8e98a4da89978a95042c7714"


def test_raw_v4_presign_matches_v2_sdk():
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider("ak-x", "sk-y")
    cfg.region = REGION
    cfg.endpoint = "http://127.0.0.1:1"
    client = oss.Client(cfg)
    url = client.presign(oss.GetObjectRequest(bucket="bkt", key="a b/c.txt")).url
    q = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    when = dt.datetime.strptime(q["x-oss-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    mine = osssign.v4_presign_query("GET", "bkt", "a b/c.txt", "ak-x", "sk-y", REGION, when, int(q["x-oss-expires"]))
    assert dict(mine)["x-oss-signature"] == q["x-oss-signature"]


# -- accepted signatures ---------------------------------------------------------------------


@pytest.mark.parametrize("sign", ["v1", "v4"])
def test_raw_signed_put_get_list(raw, bucket_name, sign):
    key = "raw/ü b+c.txt"
    r = raw.request("PUT", bucket_name, key, body=b"raw body", headers={"Content-Type": "text/plain"}, sign=sign)
    assert r.status == 200, r
    r = raw.request("GET", bucket_name, key, sign=sign)
    assert (r.status, r.body) == (200, b"raw body"), r
    r = raw.request("GET", bucket_name, query=[("prefix", "raw/"), ("max-keys", "10")], sign=sign)
    assert r.status == 200, r
    r = raw.request("GET", bucket_name, query=[("bucketInfo", "")], sign=sign)
    assert r.status == 200, r
    r = raw.request("GET", sign=sign)  # ListBuckets
    assert r.status == 200, r


def test_oss2_v1_and_v4_interoperate(bucket, bucket_v4):
    bucket.put_object("x", b"from v1")
    assert bucket_v4.get_object("x").read() == b"from v1"
    bucket_v4.put_object("y", b"from v4")
    assert bucket.get_object("y").read() == b"from v4"


def test_v2_sdk_v1_and_v4(v2, v2_v1, bucket_name):
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="k", body=b"v4"))
    assert v2_v1.get_object(oss.GetObjectRequest(bucket=bucket_name, key="k")).body.read() == b"v4"


def test_v4_authorization_header_is_parsed_as_unordered_list(raw, bucket, bucket_name):
    """oss2's AuthV4 writes ', ' with AdditionalHeaders last; v2's SignerV4 writes ',' — any order works."""
    bucket.put_object("fmt", b"ok")
    formats = [
        lambda c, a, s: f"OSS4-HMAC-SHA256 Credential={c}, Signature={s}",
        lambda c, a, s: f"OSS4-HMAC-SHA256 Signature={s},Credential={c}",
        lambda c, a, s: f"OSS4-HMAC-SHA256   Credential={c} ,  Signature={s}",
    ]
    for fmt in formats:
        r = raw.request("GET", bucket_name, "fmt", sign="v4", v4_format=fmt)
        assert (r.status, r.body) == (200, b"ok"), r


@pytest.mark.parametrize(
    "fmt",
    [
        lambda c, a, s: f"OSS4-HMAC-SHA256 Credential={c},AdditionalHeaders={a},Signature={s}",
        lambda c, a, s: f"OSS4-HMAC-SHA256 Credential={c}, Signature={s}, AdditionalHeaders={a}",
    ],
    ids=["v2-order", "oss2-order"],
)
def test_v4_additional_headers(raw, bucket, bucket_name, coffer, fmt):
    bucket.put_object("add", b"ok")
    r = raw.request(
        "GET", bucket_name, "add", sign="v4", additional_headers=["host"], headers={"Host": coffer.address}, v4_format=fmt
    )
    assert (r.status, r.body) == (200, b"ok"), r


def test_v4_additional_header_is_really_signed(raw, bucket, bucket_name, coffer):
    bucket.put_object("add", b"ok")
    headers = _signed_with_host(raw, bucket_name, "add", coffer.address)
    r = raw.send("GET", path_for(bucket_name, "add"), headers)
    assert (r.status, r.body) == (200, b"ok"), r
    r = raw.send("GET", path_for(bucket_name, "add"), {**headers, "Host": f"localhost:{coffer.port}"})
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch"), r


def _signed_with_host(raw: RawClient, bucket_name: str, key: str, host: str) -> dict[str, str]:
    """Headers of a V4 GET signed with AdditionalHeaders=host for `host`."""
    headers = {"Host": host, "x-oss-date": osssign.iso_basic(NOW()), "x-oss-content-sha256": "UNSIGNED-PAYLOAD"}
    creq = osssign.v4_canonical_request("GET", bucket_name, key, [], headers, ["host"])
    sig = osssign.v4_signature(raw.access_key_secret, REGION, headers["x-oss-date"], creq)
    cred = f"{raw.access_key_id}/{osssign.v4_scope(headers['x-oss-date'], REGION)}"
    headers["Authorization"] = f"OSS4-HMAC-SHA256 Credential={cred},AdditionalHeaders=host,Signature={sig}"
    return headers


def test_v1_with_x_oss_date_and_no_date_header(raw, bucket, bucket_name):
    """ali-oss style: no Date, x-oss-date in RFC 1123 signed in the Date slot."""
    bucket.put_object("ali", b"ok")
    r = raw.request("GET", bucket_name, "ali", headers={"x-oss-date": http_date(NOW())}, date_header=False)
    assert (r.status, r.body) == (200, b"ok"), r


def test_v4_without_date_header(raw, bucket, bucket_name):
    """oss2 V4 sends only x-oss-date, no Date header."""
    bucket.put_object("nodate", b"ok")
    r = raw.request("GET", bucket_name, "nodate", sign="v4", date_header=False)
    assert (r.status, r.body) == (200, b"ok"), r


def test_clock_skew_within_fifteen_minutes_is_accepted(raw, bucket, bucket_name):
    bucket.put_object("skew", b"ok")
    for minutes in (-10, 10):
        when = NOW() + dt.timedelta(minutes=minutes)
        for sign in ("v1", "v4"):
            r = raw.request("GET", bucket_name, "skew", sign=sign, when=when)
            assert r.status == 200, (sign, minutes, r)


# -- presigned URLs --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["plain.txt", "dir/sub dir/ü+&=.txt"])
def test_v1_presigned_get_with_requests(bucket, key):
    bucket.put_object(key, b"presigned body")
    url = bucket.sign_url("GET", key, 300)
    assert "OSSAccessKeyId=" in url and "Signature=" in url
    r = requests.get(url, timeout=60)
    assert (r.status_code, r.content) == (200, b"presigned body"), r.text
    # Signed response-* override.
    url = bucket.sign_url("GET", key, 300, params={"response-content-type": "application/x-presigned"})
    r = requests.get(url, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/x-presigned"


def test_v1_presigned_put_with_requests(bucket):
    url = bucket.sign_url("PUT", "up.txt", 300, headers={"Content-Type": "text/plain"})
    r = requests.put(url, data=b"uploaded", headers={"Content-Type": "text/plain"}, timeout=60)
    assert r.status_code == 200, r.text
    assert bucket.get_object("up.txt").read() == b"uploaded"


def test_v4_presigned_get_from_oss2(bucket_v4):
    bucket_v4.put_object("v4/p.txt", b"v4 presigned")
    url = bucket_v4.sign_url("GET", "v4/p.txt", 300)
    assert "x-oss-signature=" in url
    r = requests.get(url, timeout=60)
    assert (r.status_code, r.content) == (200, b"v4 presigned"), r.text


def test_v4_presigned_get_and_put_from_v2_sdk(v2, bucket, bucket_name):
    bucket.put_object("v2/p.txt", b"v2 presigned")
    pre = v2.presign(oss.GetObjectRequest(bucket=bucket_name, key="v2/p.txt"))
    r = requests.get(pre.url, headers=pre.signed_headers or {}, timeout=60)
    assert (r.status_code, r.content) == (200, b"v2 presigned"), r.text

    data = random_bytes(5000)
    pre = v2.presign(oss.PutObjectRequest(bucket=bucket_name, key="v2/put.bin", content_type="application/x-bin"))
    r = requests.put(pre.url, data=data, headers=pre.signed_headers or {}, timeout=60)
    assert r.status_code == 200, r.text
    assert bucket.get_object("v2/put.bin").read() == data


def test_v1_presigned_from_v2_sdk(v2_v1, bucket, bucket_name):
    bucket.put_object("v1p", b"v1 presigned")
    pre = v2_v1.presign(oss.GetObjectRequest(bucket=bucket_name, key="v1p"))
    assert "OSSAccessKeyId=" in pre.url
    r = requests.get(pre.url, timeout=60)
    assert (r.status_code, r.content) == (200, b"v1 presigned"), r.text


def test_expired_v1_presigned_url_is_access_denied(bucket):
    bucket.put_object("exp", b"x")
    url = bucket.sign_url("GET", "exp", -60)  # expired a minute ago
    r = requests.get(url, timeout=60)
    assert r.status_code == 403
    assert "<Code>AccessDenied</Code>" in r.text, r.text


def test_expired_v4_presigned_url_is_access_denied(raw, coffer, bucket, bucket_name):
    bucket.put_object("exp4", b"x")
    when = NOW() - dt.timedelta(hours=2)
    q = osssign.v4_presign_query(
        "GET", bucket_name, "exp4", coffer.access_key_id, coffer.access_key_secret, REGION, when, 3600
    )
    r = raw.send("GET", path_for(bucket_name, "exp4") + query_string(q), {})
    assert (r.status, r.code) == (403, "AccessDenied"), r
    # The same construction, still valid, works (so the failure above is the expiry).
    q = osssign.v4_presign_query(
        "GET", bucket_name, "exp4", coffer.access_key_id, coffer.access_key_secret, REGION, NOW(), 3600
    )
    r = raw.send("GET", path_for(bucket_name, "exp4") + query_string(q), {})
    assert (r.status, r.body) == (200, b"x"), r


def test_raw_v1_presigned_url(raw, coffer, bucket, bucket_name):
    bucket.put_object("rp", b"raw presigned")
    q = osssign.v1_presign_query(
        "GET", bucket_name, "rp", coffer.access_key_id, coffer.access_key_secret, int(time.time()) + 300
    )
    r = raw.send("GET", path_for(bucket_name, "rp") + query_string(q), {})
    assert (r.status, r.body) == (200, b"raw presigned"), r


def test_presigned_get_url_cannot_be_used_to_put(bucket):
    bucket.put_object("g", b"original")
    url = bucket.sign_url("GET", "g", 300)
    r = requests.put(url, data=b"overwritten", timeout=60)
    assert r.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text, r.text
    assert bucket.get_object("g").read() == b"original"


def test_v4_presigned_url_longer_than_seven_days_is_rejected(raw, coffer, bucket, bucket_name):
    bucket.put_object("long", b"x")
    q = osssign.v4_presign_query(
        "GET", bucket_name, "long", coffer.access_key_id, coffer.access_key_secret, REGION, NOW(), 604801
    )
    r = raw.send("GET", path_for(bucket_name, "long") + query_string(q), {})
    assert r.status in (400, 403), r
    assert r.code, r


def test_tampered_presigned_url_is_signature_does_not_match(bucket):
    bucket.put_object("t", b"x")
    bucket.put_object("u", b"y")
    url = bucket.sign_url("GET", "t", 300)
    r = requests.get(url.replace("/t?", "/u?"), timeout=60)
    assert r.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text, r.text


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_wrong_secret_is_signature_does_not_match(coffer, bucket_name, version):
    auth = (oss2.Auth if version == "v1" else oss2.AuthV4)(coffer.access_key_id, "wrong-secret")
    b = oss2.Bucket(auth, coffer.endpoint, bucket_name, region=REGION)
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as e:
        b.put_object("k", b"v")
    assert (e.value.status, e.value.code) == (403, "SignatureDoesNotMatch")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        b.head_object("k")  # HEAD: code via x-oss-err
    assert (e.value.status, e.value.code) == (403, "SignatureDoesNotMatch")


def test_wrong_secret_with_v2_sdk(coffer, bucket_name):
    client = v2_client_for(
        coffer, "v4", credentials_provider=oss.credentials.StaticCredentialsProvider(coffer.access_key_id, "nope")
    )
    with pytest.raises(oss.exceptions.OperationError) as e:
        client.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket_name))
    err = v2_service_error(e)
    assert (err.status_code, err.code) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_unknown_access_key_is_invalid_access_key_id(coffer, bucket_name, version):
    auth = (oss2.Auth if version == "v1" else oss2.AuthV4)("LTAIunknownunknownXXX", coffer.access_key_secret)
    b = oss2.Bucket(auth, coffer.endpoint, bucket_name, region=REGION)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        b.get_object("k")
    assert (e.value.status, e.value.code) == (403, "InvalidAccessKeyId")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        b.list_objects()
    assert (e.value.status, e.value.code) == (403, "InvalidAccessKeyId")


def test_unknown_access_key_with_v2_sdk(coffer):
    client = v2_client_for(
        coffer, "v4", credentials_provider=oss.credentials.StaticCredentialsProvider("LTAInope", "x")
    )
    with pytest.raises(oss.exceptions.OperationError) as e:
        client.list_buckets(oss.ListBucketsRequest())
    err = v2_service_error(e)
    assert (err.status_code, err.code) == (403, "InvalidAccessKeyId")


def test_anonymous_requests_to_private_resources_are_access_denied(coffer, bucket, bucket_name):
    bucket.put_object("private.txt", b"secret")
    base = coffer.endpoint
    for method, url in [
        ("GET", f"{base}/{bucket_name}/private.txt"),
        ("HEAD", f"{base}/{bucket_name}/private.txt"),
        ("GET", f"{base}/{bucket_name}/"),
        ("PUT", f"{base}/{bucket_name}/anon.txt"),
        ("DELETE", f"{base}/{bucket_name}/private.txt"),
        ("GET", f"{base}/"),
    ]:
        r = requests.request(method, url, data=b"x" if method == "PUT" else None, timeout=60)
        assert r.status_code == 403, (method, url, r.status_code, r.text)
        if method != "HEAD":
            assert "<Code>AccessDenied</Code>" in r.text, (method, url, r.text)
    anon = oss2.Bucket(oss2.AnonymousAuth(), coffer.endpoint, bucket_name)
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_object("private.txt")
    with pytest.raises(oss2.exceptions.AccessDenied) as e:
        anon.head_object("private.txt")
    assert e.value.code == "AccessDenied"
    assert bucket.get_object("private.txt").read() == b"secret"
    assert not bucket.object_exists("anon.txt")


@pytest.mark.parametrize("sign", ["v1", "v4"])
@pytest.mark.parametrize("minutes", [-20, 20])
def test_request_time_too_skewed(raw, bucket, bucket_name, sign, minutes):
    bucket.put_object("sk", b"x")
    when = NOW() + dt.timedelta(minutes=minutes)
    r = raw.request("GET", bucket_name, "sk", sign=sign, when=when)
    assert (r.status, r.code) == (403, "RequestTimeTooSkewed"), r


def test_skew_uses_x_oss_date_before_date(raw, bucket, bucket_name):
    """V1 with a current Date but x-oss-date 20 minutes off (signed): the x-oss-date wins."""
    bucket.put_object("sk2", b"x")
    skewed = http_date(NOW() - dt.timedelta(minutes=20))
    r = raw.request("GET", bucket_name, "sk2", headers={"x-oss-date": skewed})
    assert (r.status, r.code) == (403, "RequestTimeTooSkewed"), r
    r = raw.request("GET", bucket_name, "sk2", headers={"x-oss-date": skewed}, date_header=False)
    assert (r.status, r.code) == (403, "RequestTimeTooSkewed"), r


def test_skewed_oss2_client_is_rejected(coffer, bucket_name, monkeypatch):
    b = oss2_bucket_for(coffer, bucket_name)
    monkeypatch.setattr(oss2.utils, "http_date", lambda timeval=None: http_date(NOW() - dt.timedelta(minutes=20)))
    with pytest.raises(oss2.exceptions.ServerError) as e:
        b.put_object("late", b"x")
    assert (e.value.status, e.value.code) == (403, "RequestTimeTooSkewed")


def test_tampered_signed_header_is_signature_does_not_match(raw, bucket_name):
    when = NOW()
    headers = {"Date": http_date(when), "x-oss-meta-a": "1"}
    sts = osssign.v1_string_to_sign("PUT", bucket_name, "tamper", [], headers, headers["Date"])
    headers["Authorization"] = f"OSS {raw.access_key_id}:{osssign.v1_signature(raw.access_key_secret, sts)}"
    headers["x-oss-meta-a"] = "2"
    r = raw.send("PUT", path_for(bucket_name, "tamper"), headers, b"x")
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch"), r


def test_v4_wrong_region_is_rejected(coffer, bucket_name):
    r = RawClient(coffer.host, coffer.port, coffer.access_key_id, coffer.access_key_secret, "cn-beijing").request(
        "GET", bucket_name, query=[("bucketInfo", "")], sign="v4"
    )
    assert r.status in (400, 403), r
    assert r.code in ("SignatureDoesNotMatch", "InvalidArgument", "AccessDenied"), r


@pytest.mark.parametrize(
    "authorization",
    ["OSS", "OSS nocolon", "OSS :", "Basic dXNlcjpwYXNz", "OSS4-HMAC-SHA256 garbage", "OSS4-HMAC-SHA256 Credential=x"],
)
def test_malformed_authorization_header_is_rejected(raw, bucket_name, authorization):
    r = raw.send("GET", path_for(bucket_name, None), {"Date": http_date(NOW()), "Authorization": authorization})
    assert r.status in (400, 403), r
    assert r.code, r


def test_v4_payload_hash_other_than_unsigned_payload_is_refused(raw, bucket, bucket_name):
    """OSS takes only UNSIGNED-PAYLOAD in x-oss-content-sha256 (EC 0002-00000214), even when
    the hash is signed and matches the body; nothing is stored."""
    body = b"hello"
    real_hash = hashlib.sha256(body).hexdigest()
    r = raw.request(
        "PUT", bucket_name, "hashed", sign="v4", headers={"x-oss-content-sha256": real_hash}, body=body
    )
    assert (r.status, r.code, r.element("EC")) == (400, "InvalidArgument", "0002-00000214"), r
    assert r.element("ArgumentName") == "x-oss-content-sha256"
    assert not bucket.object_exists("hashed")
    # The same request with UNSIGNED-PAYLOAD is fine, and V1 gives the header no meaning.
    r = raw.request("PUT", bucket_name, "hashed", sign="v4", body=body)
    assert r.status == 200, r
    r = raw.request(
        "PUT", bucket_name, "hashed-v1", sign="v1", headers={"x-oss-content-sha256": real_hash}, body=body
    )
    assert r.status == 200, r
    assert bucket.get_object("hashed").read() == body
