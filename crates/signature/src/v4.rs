//! Signature V4: `OSS4-HMAC-SHA256` (OSS documentation, "Include a V4 signature in the
//! Authorization header (recommended)" and "Include a V4 signature in a URL (recommended)"),
//! canonical request, string to sign and the signing-key chain.

use std::fmt;

use coffer_types::AccessKeySecret;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Result, malformed};
use crate::request::{
    CONTENT_MD5, CONTENT_TYPE, SignedRequest, X_OSS_CONTENT_SHA256, X_OSS_PREFIX,
};

/// The algorithm name, in `Authorization` and in `x-oss-signature-version`.
pub const ALGORITHM_V4: &str = "OSS4-HMAC-SHA256";
/// The product in the credential scope; CloudBox (`oss-cloudbox`) is not served.
pub const PRODUCT: &str = "oss";
/// The last element of the credential scope.
pub const SCOPE_TERMINATOR: &str = "aliyun_v4_request";
/// The hashed payload every SDK sends; the body is then not covered by the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The presigned signature itself; the one query parameter the canonical query leaves out.
pub(crate) const Q_SIGNATURE: &str = "x-oss-signature";

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Percent-encodes everything but the RFC 3986 unreserved set, with upper-case hex: the
/// encoding of canonical query keys and values, and of presigned URLs built by coffer's tools.
pub fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// As [`uri_encode`] but keeping `/`: the encoding of the canonical URI.
pub fn uri_encode_path(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED_AND_SLASH).to_string()
}

/// Whether V4 signs header `name` (lower case) without it being listed in AdditionalHeaders.
pub(crate) fn is_default_signed_header(name: &str) -> bool {
    name.starts_with(X_OSS_PREFIX) || name == CONTENT_TYPE || name == CONTENT_MD5
}

/// Lower-cases, sorts and de-duplicates AdditionalHeaders names: oss2 sorts only by first letter,
/// so the server must not trust the order it receives.
pub(crate) fn normalise_additional_headers<S: AsRef<str>>(names: &[S]) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let n = n.as_ref().trim();
        if n.is_empty() || n.contains(|c: char| c == ':' || c.is_whitespace()) {
            return Err(malformed("AdditionalHeaders names an invalid header"));
        }
        out.push(n.to_ascii_lowercase());
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The V4 canonical request (OSS documentation, "Include a V4 signature in the Authorization
/// header (recommended)").
///
/// `additional_headers` are the names from `AdditionalHeaders` / `x-oss-additional-headers`, in
/// any order or case; each must be present in the request. The canonical query is every
/// parameter except `x-oss-signature`: that only matters for the presigned form, because a
/// header-signed request that also carries presigned parameters is refused by
/// [`detect`](crate::detect).
pub fn canonical_request_v4<S: AsRef<str>>(
    req: &SignedRequest<'_>,
    additional_headers: &[S],
) -> Result<String> {
    let additional = normalise_additional_headers(additional_headers)?;

    let mut s = String::with_capacity(512);
    s.push_str(req.method);
    s.push('\n');
    s.push_str(&uri_encode_path(&req.resource_path()?));
    s.push('\n');

    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| k != Q_SIGNATURE)
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    query.sort_unstable();
    for (i, (k, v)) in query.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
    s.push('\n');

    let headers = req.signed_headers(|n| {
        is_default_signed_header(n) || additional.binary_search_by(|a| a.as_str().cmp(n)).is_ok()
    })?;
    for name in &additional {
        if headers.binary_search_by(|(n, _)| n.cmp(name)).is_err() {
            return Err(malformed(
                "AdditionalHeaders names a header the request lacks",
            ));
        }
    }
    for (name, value) in &headers {
        s.push_str(name);
        s.push(':');
        s.push_str(value);
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&additional.join(";"));
    s.push('\n');
    s.push_str(
        req.header(X_OSS_CONTENT_SHA256)?
            .unwrap_or(UNSIGNED_PAYLOAD),
    );
    Ok(s)
}

/// `<yyyymmdd>/<region>/oss/aliyun_v4_request`.
pub fn scope_v4(date: &str, region: &str) -> String {
    format!("{date}/{region}/{PRODUCT}/{SCOPE_TERMINATOR}")
}

/// The V4 string to sign: algorithm, the `x-oss-date` timestamp, the scope and the hex SHA-256 of
/// the canonical request, one per line.
pub fn string_to_sign_v4(timestamp: &str, scope: &str, canonical_request: &str) -> String {
    let hash = hex::encode(Sha256::digest(canonical_request.as_bytes()));
    format!("{ALGORITHM_V4}\n{timestamp}\n{scope}\n{hash}")
}

/// A key in the V4 derivation chain (kDate, kRegion, kService, kSigning). Zeroized on drop and
/// never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// kDate = HMAC-SHA256("aliyun_v4" + secret, yyyymmdd).
    pub fn date_key(secret: &AccessKeySecret, date: &str) -> Self {
        let secret = secret.expose_secret().as_bytes();
        // HMAC needs the key in one slice; wipe the concatenated copy of the secret afterwards.
        let mut key = Zeroizing::new(Vec::with_capacity(9 + secret.len()));
        key.extend_from_slice(b"aliyun_v4");
        key.extend_from_slice(secret);
        Self(hmac_sha256(&key, date.as_bytes()))
    }

    /// The next key in the chain: HMAC-SHA256(self, label).
    pub fn derive(&self, label: &str) -> Self {
        Self(hmac_sha256(&self.0, label.as_bytes()))
    }

    /// The key bytes; every use is a place to audit.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// kSigning for `date` (yyyymmdd) and `region` (`cn-hangzhou`, no `oss-` prefix).
pub fn signing_key_v4(secret: &AccessKeySecret, date: &str, region: &str) -> SigningKey {
    SigningKey::date_key(secret, date)
        .derive(region)
        .derive(PRODUCT)
        .derive(SCOPE_TERMINATOR)
}

/// `hex(HMAC-SHA256(kSigning, string_to_sign))`, lower case.
pub fn sign_v4(key: &SigningKey, string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(&key.0, string_to_sign.as_bytes()))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_encode(raw: &str, query: &str, path: &str) {
        assert_eq!(uri_encode(raw), query, "{raw:?}");
        assert_eq!(uri_encode_path(raw), path, "{raw:?}");
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_and_slash_in_paths() {
        check_encode("aZ09-_.~", "aZ09-_.~", "aZ09-_.~");
        check_encode("a b+c", "a%20b%2Bc", "a%20b%2Bc");
        check_encode("dir/x", "dir%2Fx", "dir/x");
        check_encode("100%", "100%25", "100%25");
        check_encode("é", "%C3%A9", "%C3%A9");
        check_encode("*=&?#", "%2A%3D%26%3F%23", "%2A%3D%26%3F%23");
    }

    fn check_canonical(
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        additional: &[&str],
        expected: &str,
    ) {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let req = SignedRequest {
            method: "GET",
            bucket: Some("b"),
            key: Some("a b/c"),
            query: &query,
            headers: &headers,
        };
        assert_eq!(canonical_request_v4(&req, additional).unwrap(), expected);
    }

    #[test]
    fn canonical_query_is_every_parameter_encoded_and_sorted_by_encoded_key() {
        check_canonical(
            &[
                ("uploads", ""),
                ("b", "x y"),
                ("a+", "1"),
                ("a", "2/3"),
                ("x-oss-signature", "s"),
            ],
            &[],
            &[],
            "GET\n/b/a%20b/c\na=2%2F3&a%2B=1&b=x%20y&uploads\n\n\nUNSIGNED-PAYLOAD",
        );
    }

    #[test]
    fn canonical_headers_are_x_oss_content_headers_and_additional_ones() {
        check_canonical(
            &[],
            &[
                ("host", "h:1"),
                ("x-oss-content-sha256", "abc"),
                ("content-type", "t"),
                ("date", "d"),
                ("user-agent", "u"),
            ],
            &["Host", "host"],
            "GET\n/b/a%20b/c\n\ncontent-type:t\nhost:h:1\nx-oss-content-sha256:abc\n\nhost\nabc",
        );
    }

    #[test]
    fn additional_headers_must_be_present() {
        let req = SignedRequest {
            method: "GET",
            bucket: None,
            key: None,
            query: &[],
            headers: &[],
        };
        assert!(canonical_request_v4(&req, &["host"]).is_err());
        assert!(canonical_request_v4(&req, &[""]).is_err());
    }

    #[test]
    fn signing_key_debug_shows_no_key_bytes() {
        let key = signing_key_v4(&AccessKeySecret::new("s"), "20240221", "cn-hangzhou");
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode(key.expose_secret())));
        assert!(!shown.contains(&format!("{:?}", key.expose_secret())));
    }
}
