//! Signature V1: `OSS <ak>:<base64(HMAC-SHA1)>` and its presigned query form (OSS documentation,
//! "Include a V1 signature in the Authorization header" and "Include a V1 signature in a URL").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_types::AccessKeySecret;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::error::{Error, Result};
use crate::request::{CONTENT_MD5, CONTENT_TYPE, DATE, SignedRequest, X_OSS_DATE, X_OSS_PREFIX};

/// The query parameters V1 signs: the union of what oss2's `auth.py` and the v2 SDK's
/// `signer/v1.py` sign. Any other parameter (`prefix`, `max-keys`, …) can change without breaking
/// a V1 signature.
pub const SUB_RESOURCES: &[&str] = &[
    "acl",
    "uploads",
    "location",
    "cors",
    "logging",
    "website",
    "referer",
    "lifecycle",
    "delete",
    "append",
    "tagging",
    "objectMeta",
    "uploadId",
    "partNumber",
    "security-token",
    "position",
    "img",
    "style",
    "styleName",
    "replication",
    "replicationProgress",
    "replicationLocation",
    "cname",
    "bucketInfo",
    "comp",
    "qos",
    "live",
    "status",
    "vod",
    "startTime",
    "endTime",
    "symlink",
    "x-oss-process",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "restore",
    "callback",
    "callback-var",
    "qosInfo",
    "policy",
    "stat",
    "encryption",
    "versions",
    "versioning",
    "versionId",
    "requestPayment",
    "x-oss-request-payer",
    "sequential",
    "inventory",
    "inventoryId",
    "continuation-token",
    "asyncFetch",
    "worm",
    "wormId",
    "wormExtend",
    "x-oss-traffic-limit",
    "transferAcceleration",
    "regionList",
    "cloudboxes",
    "metaQuery",
    "resourceGroup",
    "accessPoint",
    "accessPointPolicy",
    "publicAccessBlock",
    "httpsConfig",
    "seal",
    "cleanRestoredObject",
];

/// Whether V1 signs query parameter `name` (case-sensitive, as the SDKs compare).
pub fn is_sub_resource(name: &str) -> bool {
    SUB_RESOURCES.contains(&name)
}

/// The V1 string to sign (OSS documentation, "Include a V1 signature in the Authorization
/// header"). `date` fills the date line: for the header form the value of `x-oss-date` if
/// present, else `Date`; for the presigned form the `Expires` value.
///
/// The canonical resource uses the decoded key and decoded sub-resource values, so the
/// addressing style and the client's percent-encoding choices do not matter.
pub fn string_to_sign_v1(req: &SignedRequest<'_>, date: &str) -> Result<String> {
    let mut s = String::with_capacity(256);
    s.push_str(req.method);
    s.push('\n');
    s.push_str(req.header(CONTENT_MD5)?.unwrap_or(""));
    s.push('\n');
    s.push_str(req.header(CONTENT_TYPE)?.unwrap_or(""));
    s.push('\n');
    s.push_str(date);
    s.push('\n');
    for (name, value) in req.signed_headers(|n| n.starts_with(X_OSS_PREFIX))? {
        s.push_str(&name);
        s.push(':');
        s.push_str(value);
        s.push('\n');
    }
    s.push_str(&req.resource_path()?);

    let mut sub: Vec<(&str, &str)> = req
        .query
        .iter()
        .filter(|(k, _)| is_sub_resource(k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sub.sort_unstable();
    for (i, (k, v)) in sub.into_iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
    Ok(s)
}

/// `base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn sign_v1(secret: &AccessKeySecret, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

/// The date line of a header-signed V1 request: `x-oss-date` wins over `Date` because ali-oss
/// sends only `x-oss-date` and signs it in this slot.
pub(crate) fn header_date<'a>(req: &SignedRequest<'a>) -> Result<&'a str> {
    match req.header(X_OSS_DATE)? {
        Some(d) => Ok(d),
        None => req.header(DATE)?.ok_or(Error::MissingDate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        method: &str,
        bucket: Option<&str>,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
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
            method,
            bucket,
            key,
            query: &query,
            headers: &headers,
        };
        assert_eq!(string_to_sign_v1(&req, "D").unwrap(), expected);
    }

    #[test]
    fn canonical_resource_and_sub_resources() {
        check("GET", None, None, &[], &[], "GET\n\n\nD\n/");
        check("GET", Some("b"), None, &[], &[], "GET\n\n\nD\n/b/");
        check("GET", Some("b"), Some(""), &[], &[], "GET\n\n\nD\n/b/");
        check(
            "GET",
            Some("b"),
            Some("a b+c%d/é"),
            &[],
            &[],
            "GET\n\n\nD\n/b/a b+c%d/é",
        );
        check(
            "POST",
            Some("b"),
            Some("k"),
            &[("uploads", ""), ("prefix", "x"), ("max-keys", "5")],
            &[],
            "POST\n\n\nD\n/b/k?uploads",
        );
        check(
            "PUT",
            Some("b"),
            Some("k"),
            &[("uploadId", "u 1"), ("partNumber", "2"), ("acl", "")],
            &[],
            "PUT\n\n\nD\n/b/k?acl&partNumber=2&uploadId=u 1",
        );
        check(
            "GET",
            Some("b"),
            None,
            &[("list-type", "2"), ("continuation-token", "t/=")],
            &[],
            "GET\n\n\nD\n/b/?continuation-token=t/=",
        );
    }

    #[test]
    fn only_x_oss_headers_are_canonicalised_sorted_with_values_as_sent() {
        check(
            "PUT",
            Some("b"),
            Some("k"),
            &[],
            &[
                ("X-OSS-Meta-B", " two "),
                ("x-oss-meta-a", "one"),
                ("content-type", "text/plain"),
                ("content-md5", "m"),
                ("host", "h"),
                ("date", "ignored here"),
            ],
            "PUT\nm\ntext/plain\nD\nx-oss-meta-a:one\nx-oss-meta-b: two \n/b/k",
        );
    }

    #[test]
    fn repeated_signed_headers_and_keys_without_bucket_are_refused() {
        let headers = vec![
            ("x-oss-meta-a".to_owned(), "1".to_owned()),
            ("x-oss-meta-a".to_owned(), "2".to_owned()),
        ];
        let req = SignedRequest {
            method: "GET",
            bucket: Some("b"),
            key: None,
            query: &[],
            headers: &headers,
        };
        assert!(matches!(
            string_to_sign_v1(&req, "D"),
            Err(Error::Malformed { .. })
        ));
        let req = SignedRequest {
            bucket: None,
            key: Some("k"),
            headers: &[],
            ..req
        };
        assert!(matches!(
            string_to_sign_v1(&req, "D"),
            Err(Error::Malformed { .. })
        ));
    }
}
