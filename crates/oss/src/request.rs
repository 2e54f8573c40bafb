//! Reading OSS request headers into core's typed inputs.

use base64::Engine;
use coffer_core::{
    Acl, ByteRange, ObjectMetadata, Preconditions, SseRequest, StorageClass, UnixMillis,
};
use http::HeaderMap;

use crate::error::{OssError, codes};
use crate::headers::*;

/// Largest total size of `x-oss-meta-*` names and values, in bytes (OSS documents 8 KB).
const MAX_USER_META: usize = 8 * 1024;

/// A header value as text: any UTF-8, not only the visible ASCII `HeaderValue::to_str` takes. OSS
/// stores the raw bytes of `x-oss-meta-*` and `Content-Disposition` values and returns them
/// unchanged, and the SDKs send UTF-8 there (oss2 asks for `bytes` values, which it signs as
/// sent); a value that is not UTF-8 is refused rather than guessed at.
pub(crate) fn text(value: &http::HeaderValue) -> Option<&str> {
    std::str::from_utf8(value.as_bytes()).ok()
}

/// A header as UTF-8 text; a header that is not text is refused rather than ignored.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, OssError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => text(v).map(Some).ok_or_else(|| {
            OssError::invalid_argument(name, "", format!("The {name} header is not valid UTF-8."))
        }),
    }
}

/// `Content-MD5`, decoded; malformed → `InvalidDigest`.
pub(crate) fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, OssError> {
    let Some(v) = header(headers, "content-md5")? else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| {
            OssError::new(
                codes::INVALID_DIGEST,
                "The Content-MD5 you specified is not valid.",
            )
        })?;
    <[u8; 16]>::try_from(bytes.as_slice())
        .map(Some)
        .map_err(|_| {
            OssError::new(
                codes::INVALID_DIGEST,
                "The Content-MD5 you specified is not valid.",
            )
        })
}

/// Content-Type, stored standard headers and `x-oss-meta-*` of a write.
pub(crate) fn object_metadata(headers: &HeaderMap) -> Result<ObjectMetadata, OssError> {
    let content_type = header(headers, "content-type")?
        .unwrap_or_default()
        .to_owned();
    let mut stored = Vec::new();
    for name in STORED_STANDARD_HEADERS {
        if let Some(v) = header(headers, name)? {
            stored.push(((*name).to_owned(), v.to_owned()));
        }
    }
    let mut user_meta = Vec::new();
    let mut total = 0usize;
    for (name, value) in headers {
        if let Some(meta) = name.as_str().strip_prefix(X_OSS_META_PREFIX) {
            let value = text(value).ok_or_else(|| {
                OssError::invalid_argument(name.as_str(), "", "User metadata must be UTF-8.")
            })?;
            total += meta.len() + value.len();
            user_meta.push((meta.to_owned(), value.to_owned()));
        }
    }
    if total > MAX_USER_META {
        return Err(OssError::invalid_argument(
            "x-oss-meta-*",
            "",
            "The user metadata exceeds the 8 KB limit.",
        ));
    }
    user_meta.sort();
    Ok(ObjectMetadata {
        content_type,
        headers: stored,
        user_meta,
    })
}

/// A canned ACL header (`x-oss-acl` / `x-oss-object-acl`).
pub(crate) fn acl(headers: &HeaderMap, name: &str) -> Result<Acl, OssError> {
    match header(headers, name)? {
        None => Ok(Acl::Default),
        Some("default") => Ok(Acl::Default),
        Some("private") => Ok(Acl::Private),
        Some("public-read") => Ok(Acl::PublicRead),
        Some("public-read-write") => Ok(Acl::PublicReadWrite),
        Some(other) => Err(OssError::invalid_argument(
            name,
            other,
            "The ACL is not valid.",
        )),
    }
}

/// The SSE headers of a write (`x-oss-server-side-encryption` and its companions), validated as
/// OSS does; `None` when the request names no encryption.
pub(crate) fn sse(headers: &HeaderMap) -> Result<Option<SseRequest>, OssError> {
    let method = header(headers, X_OSS_SERVER_SIDE_ENCRYPTION)?;
    let data = header(headers, X_OSS_SERVER_SIDE_DATA_ENCRYPTION)?;
    let key_id = header(headers, X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID)?;
    let only_with_kms = |name: &str, value: &str| {
        OssError::invalid_argument(
            name,
            value,
            format!("{name} can only be used with x-oss-server-side-encryption: KMS."),
        )
    };
    match method {
        None => {
            if let Some(v) = data {
                return Err(only_with_kms(X_OSS_SERVER_SIDE_DATA_ENCRYPTION, v));
            }
            if let Some(v) = key_id {
                return Err(only_with_kms(X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID, v));
            }
            Ok(None)
        }
        // OSS ignores `x-oss-server-side-data-encryption` beside a method other than KMS (it
        // only picks the data cipher under KMS); a key id there is still refused.
        Some("AES256") | Some("SM4") => {
            if let Some(v) = key_id {
                return Err(only_with_kms(X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID, v));
            }
            Ok(Some(if method == Some("SM4") {
                SseRequest::Sm4
            } else {
                SseRequest::Aes256
            }))
        }
        Some("KMS") => {
            let data_sm4 = match data {
                None => false,
                Some("SM4") => true,
                Some(v) => {
                    return Err(OssError::invalid_argument(
                        X_OSS_SERVER_SIDE_DATA_ENCRYPTION,
                        v,
                        "The server-side data encryption must be SM4.",
                    ));
                }
            };
            if key_id.is_some_and(|k| k.trim().is_empty()) {
                return Err(OssError::invalid_argument(
                    X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID,
                    "",
                    "The KMS key id must not be empty.",
                ));
            }
            Ok(Some(SseRequest::Kms {
                key_id: key_id.map(|k| k.trim().to_owned()),
                data_sm4,
            }))
        }
        Some(other) => Err(OssError::new(
            codes::INVALID_ENCRYPTION_ALGORITHM,
            format!(
                "The encryption method specified is not supported: {other}. Use AES256, KMS or SM4."
            ),
        )
        .detail("ArgumentName", X_OSS_SERVER_SIDE_ENCRYPTION)
        .detail("ArgumentValue", other)),
    }
}

/// The tags of `x-oss-tagging` (`k1=v1&k2`, keys and values URL-encoded), checked against the
/// tag limits; none without the header. A pair with more than one `=` is refused, as OSS does.
pub(crate) fn tagging(headers: &HeaderMap) -> Result<Vec<(String, String)>, OssError> {
    let Some(raw) = header(headers, X_OSS_TAGGING)? else {
        return Ok(Vec::new());
    };
    let bad = |why: &str| {
        OssError::new(
            codes::INVALID_TAGGING_HEADER,
            format!("The x-oss-tagging header must be key=value pairs joined by &: {why}."),
        )
        .detail("ArgumentName", X_OSS_TAGGING)
        .detail("ArgumentValue", raw)
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad("a key or value is not UTF-8"))
    };
    let mut tags = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if v.contains('=') {
            return Err(bad("a pair has more than one '='"));
        }
        tags.push((decode(k)?, decode(v)?));
    }
    coffer_core::validate_tags(&tags)?;
    Ok(tags)
}

/// Parses a storage class name.
pub(crate) fn parse_storage_class(name: &str, value: &str) -> Result<StorageClass, OssError> {
    match value {
        "Standard" => Ok(StorageClass::Standard),
        "IA" => Ok(StorageClass::Ia),
        "Archive" => Ok(StorageClass::Archive),
        "ColdArchive" => Ok(StorageClass::ColdArchive),
        "DeepColdArchive" => Ok(StorageClass::DeepColdArchive),
        other => Err(OssError::invalid_argument(
            name,
            other,
            "The storage class is not valid.",
        )),
    }
}

/// `x-oss-storage-class`.
pub(crate) fn storage_class(headers: &HeaderMap) -> Result<Option<StorageClass>, OssError> {
    header(headers, X_OSS_STORAGE_CLASS)?
        .map(|v| parse_storage_class(X_OSS_STORAGE_CLASS, v))
        .transpose()
}

/// A boolean header such as `x-oss-forbid-overwrite`.
pub(crate) fn flag(headers: &HeaderMap, name: &str) -> Result<bool, OssError> {
    match header(headers, name)? {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(OssError::invalid_argument(
            name,
            v,
            "The value must be true or false.",
        )),
    }
}

fn http_date(headers: &HeaderMap, name: &'static str) -> Result<Option<UnixMillis>, OssError> {
    // Unparsable dates are ignored, as HTTP says for conditional headers.
    Ok(header(headers, name)?
        .and_then(coffer_signature::parse_rfc1123)
        .map(|t| UnixMillis(t.unix_timestamp() * 1000)))
}

/// If-Match and friends; `copy_source` reads the `x-oss-copy-source-if-*` forms instead.
pub(crate) fn preconditions(
    headers: &HeaderMap,
    copy_source: bool,
) -> Result<Preconditions, OssError> {
    let names = if copy_source {
        [
            X_OSS_COPY_SOURCE_IF_MATCH,
            X_OSS_COPY_SOURCE_IF_NONE_MATCH,
            X_OSS_COPY_SOURCE_IF_MODIFIED_SINCE,
            X_OSS_COPY_SOURCE_IF_UNMODIFIED_SINCE,
        ]
    } else {
        [
            "if-match",
            "if-none-match",
            "if-modified-since",
            "if-unmodified-since",
        ]
    };
    Ok(Preconditions {
        if_match: header(headers, names[0])?.map(str::to_owned),
        if_none_match: header(headers, names[1])?.map(str::to_owned),
        if_modified_since: http_date(headers, names[2])?,
        if_unmodified_since: http_date(headers, names[3])?,
    })
}

/// Parses a `Range` value; only the first range of a list is served, and a malformed value is
/// ignored (`None`), as OSS does.
pub(crate) fn parse_range(value: &str) -> Option<ByteRange> {
    ByteRange::parse(value)
}

/// Parses `x-oss-copy-source` (`/bucket/url-encoded-key[?versionId=..]`) into bucket and key.
pub(crate) fn copy_source(
    value: &str,
) -> Result<(coffer_types::BucketName, coffer_types::ObjectKey), OssError> {
    let value = value.split_once('?').map_or(value, |(v, _)| v);
    let value = value.strip_prefix('/').unwrap_or(value);
    let invalid =
        || OssError::invalid_argument(X_OSS_COPY_SOURCE, value, "The copy source is not valid.");
    let (bucket, key) = value.split_once('/').ok_or_else(invalid)?;
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8()
        .map_err(|_| invalid())?;
    Ok((
        coffer_types::BucketName::parse(bucket)?,
        coffer_types::ObjectKey::parse(&key)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_like_oss() {
        assert_eq!(
            parse_range("bytes=0-499"),
            Some(ByteRange::From {
                first: 0,
                last: Some(499)
            })
        );
        assert_eq!(
            parse_range("bytes=500-"),
            Some(ByteRange::From {
                first: 500,
                last: None
            })
        );
        assert_eq!(parse_range("bytes=-500"), Some(ByteRange::Suffix(500)));
        assert_eq!(
            parse_range("bytes=0-1,5-6"),
            Some(ByteRange::From {
                first: 0,
                last: Some(1)
            })
        );
        assert_eq!(parse_range("byte=0-1"), None);
        assert_eq!(parse_range("bytes=a-b"), None);
        assert_eq!(parse_range("bytes=-"), None);
    }

    #[test]
    fn copy_sources_of_every_sdk() {
        for v in [
            "/bkt/dir%2Fa%20b.txt",
            "/bkt/dir/a%20b.txt",
            "bkt/dir/a%20b.txt?versionId=x",
        ] {
            let (b, k) = copy_source(v).unwrap();
            assert_eq!((b.as_str(), k.as_str()), ("bkt", "dir/a b.txt"), "{v}");
        }
        assert!(copy_source("/bkt").is_err());
        assert!(copy_source("/bkt/..").is_err());
    }

    proptest::proptest! {
        #[test]
        fn range_parser_never_panics(s in "\\PC{0,40}") {
            let _ = parse_range(&s);
            let _ = copy_source(&s);
        }
    }
}
