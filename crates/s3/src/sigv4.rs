//! AWS Signature Version 4 as S3 uses it (Amazon S3 API reference, "Authenticating Requests
//! (AWS Signature Version 4)"): the `Authorization` header form and the presigned query form.
//! Pure: no I/O, requests are described by [`Request`].

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Most a presigned URL may live (seven days, as on S3).
pub const MAX_PRESIGN_SECS: i64 = 7 * 24 * 3600;
/// Largest accepted difference between the request's time and the server's.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// The characters SigV4 leaves unencoded: `A-Z a-z 0-9 - _ . ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What a signature covers.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as received (percent-encoded).
    pub raw_path: &'a str,
    /// The query's pairs, decoded.
    pub query: &'a [(String, String)],
    /// Header names lower-case.
    pub headers: &'a [(String, String)],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The `Authorization` header or query parameters are malformed.
    Malformed(String),
    /// The credential scope names another region.
    WrongRegion { expected: String },
    /// Not `AWS4-HMAC-SHA256` (SigV2 is not offered).
    UnsupportedAlgorithm,
    /// The signature differs; carries what the server signed, to help the client.
    Mismatch {
        string_to_sign: String,
        canonical_request: String,
    },
    /// Outside the allowed clock skew.
    Skewed,
    /// A presigned URL past its expiry.
    Expired,
    /// `X-Amz-Expires` out of 1..=604800.
    BadExpiry,
}

/// A request's claimed signature, before the secret is known.
#[derive(Debug, Clone)]
pub struct Presented {
    pub access_key_id: String,
    pub security_token: Option<String>,
    date: String,
    scope: String,
    scope_date: String,
    region: String,
    signed_headers: Vec<String>,
    signature: String,
    presigned: bool,
    /// `x-amz-content-sha256` (header form) or `UNSIGNED-PAYLOAD` (presigned).
    pub payload_hash: String,
    expires: Option<i64>,
}

fn malformed(what: impl Into<String>) -> Error {
    Error::Malformed(what.into())
}

/// Reads the signature a request presents, `None` for an anonymous request.
pub fn detect(req: &Request<'_>) -> Result<Option<Presented>, Error> {
    if let Some(auth) = req.header("authorization") {
        let rest = auth
            .strip_prefix(ALGORITHM)
            .ok_or(Error::UnsupportedAlgorithm)?;
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let (credential, signed, signature) = match (credential, signed, signature) {
            (Some(c), Some(h), Some(s)) => (c, h, s),
            _ => return Err(malformed("The authorization header is malformed.")),
        };
        let date = req
            .header("x-amz-date")
            .ok_or_else(|| malformed("The request must carry x-amz-date."))?;
        let payload_hash = req.header("x-amz-content-sha256").ok_or_else(|| {
            malformed("Missing required header for this request: x-amz-content-sha256")
        })?;
        return presented(
            credential,
            signed,
            signature,
            date,
            payload_hash,
            req.header("x-amz-security-token"),
            None,
        )
        .map(Some);
    }
    let Some(algorithm) = req.param("X-Amz-Algorithm") else {
        // A Signature Version 2 presigned URL is refused, not served as anonymous.
        if req.param("AWSAccessKeyId").is_some() && req.param("Signature").is_some() {
            return Err(Error::UnsupportedAlgorithm);
        }
        return Ok(None);
    };
    if algorithm != ALGORITHM {
        return Err(Error::UnsupportedAlgorithm);
    }
    let get = |name: &str| {
        req.param(name)
            .ok_or_else(|| malformed(format!("Query-string authentication requires {name}.")))
    };
    let expires: i64 = get("X-Amz-Expires")?
        .parse()
        .map_err(|_| Error::BadExpiry)?;
    if !(1..=MAX_PRESIGN_SECS).contains(&expires) {
        return Err(Error::BadExpiry);
    }
    presented(
        get("X-Amz-Credential")?,
        get("X-Amz-SignedHeaders")?,
        get("X-Amz-Signature")?,
        get("X-Amz-Date")?,
        "UNSIGNED-PAYLOAD",
        req.param("X-Amz-Security-Token"),
        Some(expires),
    )
    .map(Some)
}

fn presented(
    credential: &str,
    signed: &str,
    signature: &str,
    date: &str,
    payload_hash: &str,
    token: Option<&str>,
    expires: Option<i64>,
) -> Result<Presented, Error> {
    let mut parts = credential.splitn(5, '/');
    let (ak, day, region, service, terminal) = match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(a), Some(d), Some(r), Some(s), Some(t)) => (a, d, r, s, t),
        _ => return Err(malformed("The credential is malformed.")),
    };
    if service != "s3" || terminal != "aws4_request" || ak.is_empty() {
        return Err(malformed(
            "The credential scope must be <date>/<region>/s3/aws4_request.",
        ));
    }
    Ok(Presented {
        access_key_id: ak.to_owned(),
        security_token: token.map(str::to_owned),
        date: date.to_owned(),
        scope: format!("{day}/{region}/s3/aws4_request"),
        scope_date: day.to_owned(),
        region: region.to_owned(),
        signed_headers: signed.split(';').map(str::to_owned).collect(),
        signature: signature.to_owned(),
        presigned: expires.is_some(),
        payload_hash: payload_hash.to_owned(),
        expires,
    })
}

/// Percent-encodes as SigV4 does (each byte outside the unreserved set, upper-case hex).
pub fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

fn canonical_path(raw_path: &str) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    path.split('/')
        .map(|seg| uri_encode(&percent_decode_str(seg).decode_utf8_lossy()))
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_request(req: &Request<'_>, p: &Presented) -> String {
    let mut pairs: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| !(p.presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for name in &p.signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_path(req.raw_path),
        query,
        headers,
        p.signed_headers.join(";"),
        p.payload_hash
    )
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key of `secret` for a scope (date, region, `s3`).
pub fn signing_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, b"s3");
    hmac(&k, b"aws4_request")
}

/// Signs `string_to_sign` with the signing key (hex).
pub fn sign(key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(key, string_to_sign.as_bytes()))
}

/// What checks the chunk signatures of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body: the
/// request's signing key, time, scope and (the chain's seed) its signature.
pub struct ChunkSigner {
    key: [u8; 32],
    date: String,
    scope: String,
    seed: String,
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner").finish_non_exhaustive()
    }
}

impl Drop for ChunkSigner {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl ChunkSigner {
    /// A signer for chunks following a request signed `seed` with `key` at `date` in `scope`.
    pub fn new(key: [u8; 32], date: &str, scope: &str, seed: &str) -> Self {
        Self {
            key,
            date: date.to_owned(),
            scope: scope.to_owned(),
            seed: seed.to_owned(),
        }
    }

    /// The request's own signature, which the first chunk's chains from.
    pub fn seed(&self) -> &str {
        &self.seed
    }

    /// The signature of a chunk whose data hashes to `data_hash`, after `prev`.
    pub fn chunk_signature(&self, prev: &str, data_hash: &[u8]) -> String {
        let empty = hex::encode(Sha256::digest(b""));
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{prev}\n{empty}\n{}",
            self.date,
            self.scope,
            hex::encode(data_hash)
        );
        sign(&self.key, &string_to_sign)
    }

    /// The signature of a trailer whose canonical lines (`name:value\n` each) hash to
    /// `trailer_hash`, after the last chunk's signature `prev`.
    pub fn trailer_signature(&self, prev: &str, trailer_hash: &[u8]) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{prev}\n{}",
            self.date,
            self.scope,
            hex::encode(trailer_hash)
        );
        sign(&self.key, &string_to_sign)
    }
}

impl Presented {
    /// The chunk signer of this (verified) request, given the signing key [`verify`] returned.
    pub fn chunk_signer(&self, key: [u8; 32]) -> ChunkSigner {
        ChunkSigner::new(key, &self.date, &self.scope, &self.signature)
    }
}

/// Verifies `p` against the request with `secret`, at `now`, for `region`; returns the signing
/// key (for the chunk signatures of a streaming body).
pub fn verify(
    req: &Request<'_>,
    p: &Presented,
    secret: &str,
    now: OffsetDateTime,
    region: &str,
) -> Result<[u8; 32], Error> {
    if p.region != region {
        return Err(Error::WrongRegion {
            expected: region.to_owned(),
        });
    }
    let when = coffer_signature::parse_iso8601_basic(&p.date)
        .ok_or_else(|| malformed("X-Amz-Date is not an ISO 8601 basic time."))?;
    if !p.date.starts_with(&p.scope_date) {
        return Err(malformed("The credential date does not match X-Amz-Date."));
    }
    match p.expires {
        Some(expires) => {
            if (when - now).whole_seconds() > MAX_SKEW_SECS {
                return Err(Error::Skewed);
            }
            if (now - when).whole_seconds() > expires {
                return Err(Error::Expired);
            }
        }
        None if (now - when).whole_seconds().abs() > MAX_SKEW_SECS => return Err(Error::Skewed),
        None => {}
    }
    if !p.signed_headers.iter().any(|h| h == "host") {
        return Err(malformed("The host header must be signed."));
    }
    let canonical = canonical_request(req, p);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        p.date,
        p.scope,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(secret, &p.scope_date, &p.region);
    let expected = sign(&key, &string_to_sign);
    if subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), p.signature.as_bytes()).into() {
        Ok(key)
    } else {
        Err(Error::Mismatch {
            string_to_sign,
            canonical_request: canonical,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of the Amazon S3 API reference, "Example: GET Object" (header form).
    #[test]
    fn the_published_get_object_example_verifies() {
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            (
                "x-amz-content-sha256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            ("x-amz-date", "20130524T000000Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let req = Request {
            method: "GET",
            raw_path: "/test.txt",
            query: &[],
            headers: &headers,
        };
        let p = detect(&req).unwrap().unwrap();
        let now = coffer_signature::parse_iso8601_basic("20130524T000100Z").unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        verify(&req, &p, secret, now, "us-east-1").unwrap();
        assert!(matches!(
            verify(&req, &p, "wrong", now, "us-east-1"),
            Err(Error::Mismatch { .. })
        ));
        assert_eq!(
            verify(
                &req,
                &p,
                secret,
                now + time::Duration::hours(1),
                "us-east-1"
            ),
            Err(Error::Skewed)
        );
    }

    // "Example: Presigned URL" of the same reference.
    #[test]
    fn the_published_presigned_example_verifies_and_expires() {
        let query = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            (
                "X-Amz-Credential",
                "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
            ),
            ("X-Amz-Date", "20130524T000000Z"),
            ("X-Amz-Expires", "86400"),
            ("X-Amz-SignedHeaders", "host"),
            (
                "X-Amz-Signature",
                "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let headers = [(
            "host".to_owned(),
            "examplebucket.s3.amazonaws.com".to_owned(),
        )];
        let req = Request {
            method: "GET",
            raw_path: "/test.txt",
            query: &query,
            headers: &headers,
        };
        let p = detect(&req).unwrap().unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let t0 = coffer_signature::parse_iso8601_basic("20130524T000000Z").unwrap();
        verify(
            &req,
            &p,
            secret,
            t0 + time::Duration::hours(23),
            "us-east-1",
        )
        .unwrap();
        assert_eq!(
            verify(
                &req,
                &p,
                secret,
                t0 + time::Duration::hours(25),
                "us-east-1"
            ),
            Err(Error::Expired)
        );
        let mut long = query.clone();
        long[3].1 = "604801".into();
        let req = Request {
            query: &long,
            ..req
        };
        assert_eq!(detect(&req).unwrap_err(), Error::BadExpiry);
    }
}
