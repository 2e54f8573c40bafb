"""Raw, hand-signed OSS requests for what the SDKs refuse to send.

Independent implementations of the V1 (OSS documentation, "Include a V1 signature in the
Authorization header" and "Include a V1 signature in a URL") and V4 ("Include a V4 signature in the
Authorization header (recommended)") signatures, checked against the worked examples in
test_auth.py, which oss2 and the v2 SDK reproduce. Requests go out through http.client so the
request target is sent byte for byte as given (no `..` normalisation, no re-quoting).
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import http.client
import re
from dataclasses import dataclass
from urllib.parse import quote

# Only these query parameters are part of the V1 canonicalized resource (the union of oss2's
# auth.py and the v2 SDK's signer/v1.py).
V1_SUBRESOURCES = frozenset(
    """acl uploads location cors logging website referer lifecycle delete append tagging objectMeta
    uploadId partNumber security-token position img style styleName replication replicationProgress
    replicationLocation cname bucketInfo comp qos live status vod startTime endTime symlink
    x-oss-process response-content-type response-content-language response-expires
    response-cache-control response-content-disposition response-content-encoding restore callback
    callback-var qosInfo policy stat encryption versions versioning versionId requestPayment
    x-oss-request-payer sequential inventory inventoryId continuation-token asyncFetch worm wormId
    wormExtend x-oss-traffic-limit transferAcceleration regionList cloudboxes metaQuery resourceGroup
    accessPoint accessPointPolicy publicAccessBlock httpsConfig seal cleanRestoredObject""".split()
)

V4_ALGORITHM = "OSS4-HMAC-SHA256"


def http_date(when: dt.datetime) -> str:
    """RFC 1123, always GMT, 2-digit day."""
    return email.utils.format_datetime(when.astimezone(dt.timezone.utc), usegmt=True)


def iso_basic(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def canonical_resource(bucket: str | None, key: str | None) -> str:
    if not bucket:
        return "/"
    if not key:
        return f"/{bucket}/"
    return f"/{bucket}/{key}"


def v1_string_to_sign(
    method: str,
    bucket: str | None,
    key: str | None,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    date_value: str,
) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    oss_headers = sorted((k, v) for k, v in lower.items() if k.startswith("x-oss-"))
    sub = sorted((k, v) for k, v in query if k in V1_SUBRESOURCES)
    resource = canonical_resource(bucket, key)
    if sub:
        resource += "?" + "&".join(k if v == "" else f"{k}={v}" for k, v in sub)
    return "".join(
        [
            method,
            "\n",
            lower.get("content-md5", ""),
            "\n",
            lower.get("content-type", ""),
            "\n",
            date_value,
            "\n",
            "".join(f"{k}:{v}\n" for k, v in oss_headers),
            resource,
        ]
    )


def v1_signature(secret: str, string_to_sign: str) -> str:
    mac = hmac.new(secret.encode(), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def uri_encode(text: str, keep_slash: bool) -> str:
    safe = "-_.~" + ("/" if keep_slash else "")
    return quote(text, safe=safe)


def v4_canonical_request(
    method: str,
    bucket: str | None,
    key: str | None,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    additional_headers: list[str] | None = None,
) -> str:
    uri = uri_encode(canonical_resource(bucket, key), keep_slash=True)
    enc = sorted((uri_encode(k, False), uri_encode(v, False)) for k, v in query)
    canonical_query = "&".join(k if v == "" else f"{k}={v}" for k, v in enc)
    additional = sorted(h.lower() for h in additional_headers or [])
    lower = {k.lower(): v.strip() for k, v in headers.items()}
    signed = sorted(
        (k, v)
        for k, v in lower.items()
        if k.startswith("x-oss-") or k in ("content-type", "content-md5") or k in additional
    )
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in signed)
    payload = lower.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
    return "\n".join([method, uri, canonical_query, canonical_headers, ";".join(additional), payload])


def v4_signing_key(secret: str, day: str, region: str, product: str = "oss") -> bytes:
    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = h(("aliyun_v4" + secret).encode(), day)
    k = h(k, region)
    k = h(k, product)
    return h(k, "aliyun_v4_request")


def v4_signature(secret: str, region: str, iso_time: str, canonical_request: str) -> str:
    day = iso_time[:8]
    scope = f"{day}/{region}/oss/aliyun_v4_request"
    sts = "\n".join(
        [V4_ALGORITHM, iso_time, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    return hmac.new(v4_signing_key(secret, day, region), sts.encode(), hashlib.sha256).hexdigest()


def v4_scope(iso_time: str, region: str) -> str:
    return f"{iso_time[:8]}/{region}/oss/aliyun_v4_request"


def v1_presign_query(
    method: str,
    bucket: str,
    key: str,
    access_key_id: str,
    secret: str,
    expires_at: int,
    extra: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """OSSAccessKeyId, Expires (unix seconds), Signature (OSS, "Include a V1 signature in a URL")."""
    extra = list(extra or [])
    sts = v1_string_to_sign(method, bucket, key, extra, headers or {}, str(expires_at))
    return extra + [
        ("OSSAccessKeyId", access_key_id),
        ("Expires", str(expires_at)),
        ("Signature", v1_signature(secret, sts)),
    ]


def v4_presign_query(
    method: str,
    bucket: str,
    key: str,
    access_key_id: str,
    secret: str,
    region: str,
    when: dt.datetime,
    expires_s: int,
    extra: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """x-oss-signature-version/-date/-expires/-credential, then x-oss-signature.

    OSS documentation, "Include a V4 signature in a URL (recommended)".
    """
    iso = iso_basic(when)
    query = list(extra or []) + [
        ("x-oss-signature-version", V4_ALGORITHM),
        ("x-oss-date", iso),
        ("x-oss-expires", str(expires_s)),
        ("x-oss-credential", f"{access_key_id}/{v4_scope(iso, region)}"),
    ]
    creq = v4_canonical_request(method, bucket, key, query, {})
    return query + [("x-oss-signature", v4_signature(secret, region, iso, creq))]


# --- responses ------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def error_xml(self) -> str:
        """Error document from the body, or from x-oss-err for bodiless (HEAD) errors."""
        if self.body:
            return self.body.decode("utf-8", "replace")
        err = self.headers.get("x-oss-err")
        if err:
            return base64.b64decode(err).decode("utf-8", "replace")
        return ""

    def element(self, name: str) -> str | None:
        m = re.search(rf"<{name}>(.*?)</{name}>", self.error_xml, re.S)
        return m.group(1) if m else None

    @property
    def code(self) -> str | None:
        return self.element("Code")

    def __repr__(self) -> str:  # shows up in assertion messages
        return f"RawResponse(status={self.status}, code={self.code!r}, body={self.body[:300]!r})"


# --- client ---------------------------------------------------------------------------------


class RawClient:
    """Sends one OSS request per call over a fresh connection, signed as asked."""

    def __init__(self, host: str, port: int, access_key_id: str, access_key_secret: str, region: str):
        self.host = host
        self.port = port
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.region = region

    def request(
        self,
        method: str,
        bucket: str | None = None,
        key: str | None = None,
        query: list[tuple[str, str]] | dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        sign: str | None = "v1",
        when: dt.datetime | None = None,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        target: str | None = None,
        timeout: float = 60.0,
        date_header: bool = True,
        additional_headers: list[str] | None = None,
        v4_format=None,
    ) -> RawResponse:
        """Path-style request. `sign` is "v1", "v4" or None (anonymous).

        `target` replaces the computed request target (path + query) verbatim; the signature is
        still computed from bucket/key/query. `date_header=False` omits `Date` (V1 then signs
        `x-oss-date`, as ali-oss does). `v4_format(credential, additional, signature)` builds the
        V4 Authorization value (default: v2 SDK's compact form).
        """
        if isinstance(query, dict):
            query = list(query.items())
        query = list(query or [])
        headers = dict(headers or {})
        ak = access_key_id or self.access_key_id
        sk = access_key_secret or self.access_key_secret
        when = when or dt.datetime.now(dt.timezone.utc)
        if sign == "v1":
            if date_header:
                headers.setdefault("Date", http_date(when))
            date_value = headers.get("x-oss-date") or headers["Date"]
            sts = v1_string_to_sign(method, bucket, key, query, headers, date_value)
            headers["Authorization"] = f"OSS {ak}:{v1_signature(sk, sts)}"
        elif sign == "v4":
            iso = iso_basic(when)
            headers["x-oss-date"] = iso
            headers.setdefault("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
            if date_header:
                headers.setdefault("Date", http_date(when))
            creq = v4_canonical_request(method, bucket, key, query, headers, additional_headers)
            sig = v4_signature(sk, self.region, iso, creq)
            credential = f"{ak}/{v4_scope(iso, self.region)}"
            additional = ";".join(sorted(h.lower() for h in additional_headers or []))
            if v4_format is None:
                parts = [f"Credential={credential}"]
                if additional:
                    parts.append(f"AdditionalHeaders={additional}")
                parts.append(f"Signature={sig}")
                headers["Authorization"] = f"{V4_ALGORITHM} " + ",".join(parts)
            else:
                headers["Authorization"] = v4_format(credential, additional, sig)
        elif sign is not None:
            raise ValueError(sign)
        if target is None:
            target = path_for(bucket, key) + query_string(query)
        return self.send(method, target, headers, body, timeout)

    def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b"", timeout: float = 60.0
    ) -> RawResponse:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            has_host = any(k.lower() == "host" for k in headers)
            conn.putrequest(method, target, skip_host=has_host, skip_accept_encoding=True)
            if not any(k.lower() == "content-length" for k in headers) and (body or method in ("PUT", "POST")):
                headers = {**headers, "Content-Length": str(len(body))}
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            return RawResponse(resp.status, resp.headers, data)
        finally:
            conn.close()


def path_for(bucket: str | None, key: str | None) -> str:
    if not bucket:
        return "/"
    return f"/{uri_encode(bucket, False)}/" + (uri_encode(key, keep_slash=True) if key else "")


def query_string(query: list[tuple[str, str]]) -> str:
    if not query:
        return ""
    return "?" + "&".join(
        uri_encode(k, False) if v == "" else f"{uri_encode(k, False)}={uri_encode(v, False)}" for k, v in query
    )


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def md5_etag(body: bytes) -> str:
    """The ETag a PutObject of `body` must return, without quotes: the MD5, upper-case hex."""
    return hashlib.md5(body).hexdigest().upper()
