//! Routing: method + Host + path + query → an [`Endpoint`] and its target bucket and key.
//!
//! Bucket resolution is coffer's own rule, fitted to how the SDKs address requests (oss2's
//! `_UrlMaker`, the v2 SDK's `_resolve_address_style`, ali-oss's `getReqUrl.js`): a Host that is
//! an IP literal, `localhost` or one of our endpoint names means path style;
//! `<bucket>.<base domain>` (ours, or `oss-*.aliyuncs.com` as ali-oss sends for IP endpoints)
//! means virtual-hosted style.

use coffer_iam::Action;
use coffer_types::{BucketName, ObjectKey};
use http::Method;
use percent_encoding::percent_decode_str;

use crate::error::{OssError, codes};

/// Every operation the OSS front-end serves. Each declares its RAM action in [`Endpoint::action`];
/// adding a variant without one does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Endpoint {
    ListBuckets,
    PutBucket,
    DeleteBucket,
    GetBucketInfo,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    ListMultipartUploads,
    DeleteMultipleObjects,
    PutObject,
    CopyObject,
    AppendObject,
    GetObject,
    HeadObject,
    GetObjectMeta,
    DeleteObject,
    InitiateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    PutBucketEncryption,
    GetBucketEncryption,
    DeleteBucketEncryption,
    PutBucketPolicy,
    GetBucketPolicy,
    DeleteBucketPolicy,
    PutBucketAcl,
    GetBucketAcl,
    PutObjectAcl,
    GetObjectAcl,
    PutObjectTagging,
    GetObjectTagging,
    DeleteObjectTagging,
    /// Not an OSS operation: coffer's form of the S3 dialect's UpdateObjectEncryption (`PUT
    /// /bucket/key?encryption`, the method in `x-oss-server-side-encryption: KMS`), so that OSS
    /// clients (`coffer reencrypt --rewrap`) can change an object's key in place.
    UpdateObjectEncryption,
    GetBucketStat,
    PutBucketCors,
    GetBucketCors,
    DeleteBucketCors,
    PutBucketTagging,
    GetBucketTagging,
    DeleteBucketTagging,
    PutBucketLifecycle,
    GetBucketLifecycle,
    DeleteBucketLifecycle,
}

impl Endpoint {
    /// The operation's name, as OSS documents it (for logs and metrics).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ListBuckets => "ListBuckets",
            Endpoint::PutBucket => "PutBucket",
            Endpoint::DeleteBucket => "DeleteBucket",
            Endpoint::GetBucketInfo => "GetBucketInfo",
            Endpoint::GetBucketLocation => "GetBucketLocation",
            Endpoint::ListObjects => "ListObjects",
            Endpoint::ListObjectsV2 => "ListObjectsV2",
            Endpoint::ListMultipartUploads => "ListMultipartUploads",
            Endpoint::DeleteMultipleObjects => "DeleteMultipleObjects",
            Endpoint::PutObject => "PutObject",
            Endpoint::CopyObject => "CopyObject",
            Endpoint::AppendObject => "AppendObject",
            Endpoint::GetObject => "GetObject",
            Endpoint::HeadObject => "HeadObject",
            Endpoint::GetObjectMeta => "GetObjectMeta",
            Endpoint::DeleteObject => "DeleteObject",
            Endpoint::InitiateMultipartUpload => "InitiateMultipartUpload",
            Endpoint::UploadPart => "UploadPart",
            Endpoint::UploadPartCopy => "UploadPartCopy",
            Endpoint::CompleteMultipartUpload => "CompleteMultipartUpload",
            Endpoint::AbortMultipartUpload => "AbortMultipartUpload",
            Endpoint::ListParts => "ListParts",
            Endpoint::PutBucketEncryption => "PutBucketEncryption",
            Endpoint::GetBucketEncryption => "GetBucketEncryption",
            Endpoint::DeleteBucketEncryption => "DeleteBucketEncryption",
            Endpoint::PutBucketPolicy => "PutBucketPolicy",
            Endpoint::GetBucketPolicy => "GetBucketPolicy",
            Endpoint::DeleteBucketPolicy => "DeleteBucketPolicy",
            Endpoint::PutBucketAcl => "PutBucketAcl",
            Endpoint::GetBucketAcl => "GetBucketAcl",
            Endpoint::PutObjectAcl => "PutObjectAcl",
            Endpoint::GetObjectAcl => "GetObjectAcl",
            Endpoint::PutObjectTagging => "PutObjectTagging",
            Endpoint::GetObjectTagging => "GetObjectTagging",
            Endpoint::DeleteObjectTagging => "DeleteObjectTagging",
            Endpoint::UpdateObjectEncryption => "UpdateObjectEncryption",
            Endpoint::GetBucketStat => "GetBucketStat",
            Endpoint::PutBucketCors => "PutBucketCors",
            Endpoint::GetBucketCors => "GetBucketCors",
            Endpoint::DeleteBucketCors => "DeleteBucketCors",
            Endpoint::PutBucketTagging => "PutBucketTagging",
            Endpoint::GetBucketTagging => "GetBucketTagging",
            Endpoint::DeleteBucketTagging => "DeleteBucketTagging",
            Endpoint::PutBucketLifecycle => "PutBucketLifecycle",
            Endpoint::GetBucketLifecycle => "GetBucketLifecycle",
            Endpoint::DeleteBucketLifecycle => "DeleteBucketLifecycle",
        }
    }

    /// The RAM action this operation needs on its target (per-key checks of
    /// DeleteMultipleObjects and the copy source's `oss:GetObject` come on top).
    pub fn action(self) -> Action {
        match self {
            Endpoint::ListBuckets => Action::ListBuckets,
            Endpoint::PutBucket => Action::PutBucket,
            Endpoint::DeleteBucket => Action::DeleteBucket,
            Endpoint::GetBucketInfo => Action::GetBucketInfo,
            Endpoint::GetBucketLocation => Action::GetBucketLocation,
            Endpoint::ListObjects | Endpoint::ListObjectsV2 => Action::ListObjects,
            Endpoint::ListMultipartUploads => Action::ListMultipartUploads,
            Endpoint::DeleteMultipleObjects => Action::DeleteObject,
            Endpoint::PutObject
            | Endpoint::CopyObject
            | Endpoint::AppendObject
            | Endpoint::InitiateMultipartUpload
            | Endpoint::UploadPart
            | Endpoint::UploadPartCopy
            | Endpoint::CompleteMultipartUpload => Action::PutObject,
            Endpoint::GetObject | Endpoint::HeadObject | Endpoint::GetObjectMeta => {
                Action::GetObject
            }
            Endpoint::DeleteObject => Action::DeleteObject,
            Endpoint::AbortMultipartUpload => Action::AbortMultipartUpload,
            Endpoint::ListParts => Action::ListParts,
            Endpoint::PutBucketEncryption => Action::PutBucketEncryption,
            Endpoint::GetBucketEncryption => Action::GetBucketEncryption,
            Endpoint::DeleteBucketEncryption => Action::DeleteBucketEncryption,
            Endpoint::PutBucketPolicy => Action::PutBucketPolicy,
            Endpoint::GetBucketPolicy => Action::GetBucketPolicy,
            Endpoint::DeleteBucketPolicy => Action::DeleteBucketPolicy,
            Endpoint::PutBucketAcl => Action::PutBucketAcl,
            Endpoint::GetBucketAcl => Action::GetBucketAcl,
            Endpoint::PutObjectAcl => Action::PutObjectAcl,
            Endpoint::GetObjectAcl => Action::GetObjectAcl,
            Endpoint::PutObjectTagging => Action::PutObjectTagging,
            Endpoint::GetObjectTagging => Action::GetObjectTagging,
            Endpoint::DeleteObjectTagging => Action::DeleteObjectTagging,
            // A write of the object; the KMS checks its keys itself.
            Endpoint::UpdateObjectEncryption => Action::PutObject,
            Endpoint::GetBucketStat => Action::GetBucketStat,
            Endpoint::PutBucketCors => Action::PutBucketCors,
            Endpoint::GetBucketCors => Action::GetBucketCors,
            Endpoint::DeleteBucketCors => Action::DeleteBucketCors,
            Endpoint::PutBucketTagging => Action::PutBucketTagging,
            Endpoint::GetBucketTagging => Action::GetBucketTagging,
            Endpoint::DeleteBucketTagging => Action::DeleteBucketTagging,
            Endpoint::PutBucketLifecycle => Action::PutBucketLifecycle,
            Endpoint::GetBucketLifecycle => Action::GetBucketLifecycle,
            Endpoint::DeleteBucketLifecycle => Action::DeleteBucketLifecycle,
        }
    }
}

/// Decoded query parameters in arrival order; `k` and `k=` both give `("k", "")`.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string as form data: `+` is a space (oss2 encodes spaces in query
    /// values that way and signs the decoded value), a literal plus arrives as `%2B`. Paths are
    /// different: there `+` is a plus.
    pub fn parse(raw: &str) -> Result<Self, OssError> {
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((
                decode(&k.replace('+', " "), "query parameter")?,
                decode(&v.replace('+', " "), "query parameter")?,
            ));
        }
        Ok(Self(pairs))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

fn decode(s: &str, what: &str) -> Result<String, OssError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| OssError::invalid_argument(what, s, format!("The {what} is not valid UTF-8.")))
}

/// Where a request points: the bucket and key, validated.
#[derive(Debug, Clone)]
pub struct Target {
    /// The bucket, for bucket and object operations.
    pub bucket: Option<BucketName>,
    /// The key, for object operations.
    pub key: Option<ObjectKey>,
}

/// How the router recognises virtual-hosted requests.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Base domains under which `<bucket>.<domain>` names a bucket (e.g. `localhost`).
    pub base_domains: Vec<String>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            base_domains: vec!["localhost".into()],
        }
    }
}

fn is_ip_literal(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
}

fn is_aliyun_endpoint(domain: &str) -> bool {
    domain == "oss.aliyuncs.com"
        || (domain.starts_with("oss-") && domain.ends_with(".aliyuncs.com"))
}

/// The bucket named by the Host header, if the request is virtual-hosted. `Some("")` means a
/// virtual-hosted service request (ali-oss sends `Host: .oss-cn-hangzhou.aliyuncs.com`).
fn virtual_bucket<'a>(host: &'a str, config: &HostConfig) -> Option<&'a str> {
    if host.is_empty() || is_ip_literal(host) || host == "localhost" {
        return None;
    }
    if config.base_domains.iter().any(|d| d == host) || is_aliyun_endpoint(host) {
        return None;
    }
    let (label, domain) = host.split_once('.')?;
    (config.base_domains.iter().any(|d| d == domain) || is_aliyun_endpoint(domain)).then_some(label)
}

/// Resolves bucket and key from the Host header and the raw (still percent-encoded) path.
pub fn resolve_target(host: &str, raw_path: &str, config: &HostConfig) -> Result<Target, OssError> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') {
            h
        } else {
            host
        }
    });
    let host = host.to_ascii_lowercase();
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let (bucket, raw_key) = match virtual_bucket(&host, config) {
        Some(b) => (b.to_owned(), path),
        None => {
            let (b, k) = path.split_once('/').unwrap_or((path, ""));
            (decode(b, "bucket name")?, k)
        }
    };
    if bucket.is_empty() {
        return Ok(Target {
            bucket: None,
            key: None,
        });
    }
    let bucket = BucketName::parse(&bucket)?;
    let key = if raw_key.is_empty() {
        None
    } else {
        let key = percent_decode_str(raw_key).decode_utf8().map_err(|_| {
            OssError::new(
                codes::INVALID_OBJECT_NAME,
                "The object name is not valid UTF-8.",
            )
        })?;
        Some(ObjectKey::parse(&key)?)
    };
    Ok(Target {
        bucket: Some(bucket),
        key,
    })
}

/// Query parameters that select an operation OSS has but coffer does not serve yet.
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "logging",
    "website",
    "referer",
    "versioning",
    "versions",
    "replication",
    "restore",
    "symlink",
    "worm",
    "inventory",
    "qos",
    "cname",
    "requestPayment",
    "transferAcceleration",
    "accessPoint",
    "publicAccessBlock",
    "httpsConfig",
    "x-oss-process",
    "callback",
    "live",
    "img",
    "style",
    "metaQuery",
    "resourceGroup",
    "tag",
];

/// Picks the endpoint for a request.
pub fn route(
    method: &Method,
    target: &Target,
    query: &Query,
    has_copy_source: bool,
) -> Result<Endpoint, OssError> {
    // Served on buckets only (not objects).
    let bucket_only = ["stat", "cors", "lifecycle"];
    let other_level = target
        .key
        .as_ref()
        .and_then(|_| bucket_only.iter().find(|s| query.has(s)));
    if let Some(sub) = UNSUPPORTED_SUBRESOURCES
        .iter()
        .find(|s| query.has(s))
        .or(other_level)
    {
        return Err(OssError::new(
            codes::NOT_IMPLEMENTED,
            format!("The '{sub}' sub-resource is not implemented by this server."),
        ));
    }
    let not_allowed = || {
        OssError::new(
            codes::METHOD_NOT_ALLOWED,
            "The specified method is not allowed against this resource.",
        )
    };
    let endpoint = match (&target.bucket, &target.key) {
        (None, _) => match *method {
            Method::GET => Endpoint::ListBuckets,
            _ => return Err(not_allowed()),
        },
        (Some(_), None) => match *method {
            Method::PUT if query.has("encryption") => Endpoint::PutBucketEncryption,
            Method::GET | Method::HEAD if query.has("encryption") => Endpoint::GetBucketEncryption,
            Method::DELETE if query.has("encryption") => Endpoint::DeleteBucketEncryption,
            Method::PUT if query.has("policy") => Endpoint::PutBucketPolicy,
            Method::GET | Method::HEAD if query.has("policy") => Endpoint::GetBucketPolicy,
            Method::DELETE if query.has("policy") => Endpoint::DeleteBucketPolicy,
            Method::PUT if query.has("acl") => Endpoint::PutBucketAcl,
            Method::GET | Method::HEAD if query.has("acl") => Endpoint::GetBucketAcl,
            Method::GET | Method::HEAD if query.has("stat") => Endpoint::GetBucketStat,
            Method::PUT if query.has("cors") => Endpoint::PutBucketCors,
            Method::GET | Method::HEAD if query.has("cors") => Endpoint::GetBucketCors,
            Method::DELETE if query.has("cors") => Endpoint::DeleteBucketCors,
            Method::PUT if query.has("tagging") => Endpoint::PutBucketTagging,
            Method::GET | Method::HEAD if query.has("tagging") => Endpoint::GetBucketTagging,
            Method::DELETE if query.has("tagging") => Endpoint::DeleteBucketTagging,
            Method::PUT if query.has("lifecycle") => Endpoint::PutBucketLifecycle,
            Method::GET | Method::HEAD if query.has("lifecycle") => Endpoint::GetBucketLifecycle,
            Method::DELETE if query.has("lifecycle") => Endpoint::DeleteBucketLifecycle,
            // A sub-resource with a method it does not have never falls through to the plain
            // operation (`DELETE /bkt?acl` is not DeleteBucket).
            _ if ["acl", "stat", "cors", "tagging", "lifecycle"]
                .iter()
                .any(|s| query.has(s)) =>
            {
                return Err(not_allowed());
            }
            Method::PUT => Endpoint::PutBucket,
            Method::DELETE => Endpoint::DeleteBucket,
            Method::POST if query.has("delete") => Endpoint::DeleteMultipleObjects,
            Method::GET | Method::HEAD if query.has("bucketInfo") => Endpoint::GetBucketInfo,
            Method::GET | Method::HEAD if query.has("location") => Endpoint::GetBucketLocation,
            Method::GET | Method::HEAD if query.has("uploads") => Endpoint::ListMultipartUploads,
            Method::GET | Method::HEAD if query.get("list-type") == Some("2") => {
                Endpoint::ListObjectsV2
            }
            Method::GET | Method::HEAD => Endpoint::ListObjects,
            _ => return Err(not_allowed()),
        },
        (Some(_), Some(_)) => match *method {
            Method::PUT if query.has("acl") => Endpoint::PutObjectAcl,
            Method::GET | Method::HEAD if query.has("acl") => Endpoint::GetObjectAcl,
            Method::PUT if query.has("tagging") => Endpoint::PutObjectTagging,
            Method::GET | Method::HEAD if query.has("tagging") => Endpoint::GetObjectTagging,
            Method::DELETE if query.has("tagging") => Endpoint::DeleteObjectTagging,
            Method::PUT if query.has("encryption") => Endpoint::UpdateObjectEncryption,
            _ if query.has("acl") || query.has("tagging") || query.has("encryption") => {
                return Err(not_allowed());
            }
            Method::PUT if query.has("partNumber") || query.has("uploadId") => {
                if has_copy_source {
                    Endpoint::UploadPartCopy
                } else {
                    Endpoint::UploadPart
                }
            }
            Method::PUT if has_copy_source => Endpoint::CopyObject,
            Method::PUT => Endpoint::PutObject,
            Method::POST if query.has("uploads") => Endpoint::InitiateMultipartUpload,
            Method::POST if query.has("uploadId") => Endpoint::CompleteMultipartUpload,
            Method::POST if query.has("append") => Endpoint::AppendObject,
            Method::GET if query.has("uploadId") => Endpoint::ListParts,
            Method::GET | Method::HEAD if query.has("objectMeta") => Endpoint::GetObjectMeta,
            Method::GET => Endpoint::GetObject,
            Method::HEAD => Endpoint::HeadObject,
            Method::DELETE if query.has("uploadId") => Endpoint::AbortMultipartUpload,
            Method::DELETE => Endpoint::DeleteObject,
            _ => return Err(not_allowed()),
        },
    };
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, host: &str, path_and_query: &str, expected: &str) {
        let (path, raw_query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let got = resolve_target(host, path, &HostConfig::default()).and_then(|t| {
            let q = Query::parse(raw_query)?;
            let e = route(&method, &t, &q, false)?;
            Ok(format!(
                "{} {} {}",
                e.name(),
                t.bucket.map(|b| b.to_string()).unwrap_or_default(),
                t.key.map(|k| k.to_string()).unwrap_or_default()
            ))
        });
        let got = match got {
            Ok(s) => s.trim_end().to_string(),
            Err(e) => e.code.code.to_string(),
        };
        assert_eq!(got, expected, "{method} {host} {path_and_query}");
    }

    #[test]
    fn query_values_are_form_decoded() {
        let q = Query::parse("prefix=c+d%2F&plus=%2B&bare&empty=").unwrap();
        assert_eq!(q.get("prefix"), Some("c d/"));
        assert_eq!(q.get("plus"), Some("+"));
        assert!(q.has("bare") && q.get("bare") == Some(""));
        assert_eq!(q.get("empty"), Some(""));
    }

    #[test]
    fn routes_requests_of_every_client_style() {
        let ip = "127.0.0.1:9000";
        check(Method::GET, ip, "/", "ListBuckets");
        check(
            Method::GET,
            ".oss-cn-hangzhou.aliyuncs.com",
            "/",
            "ListBuckets",
        );
        check(Method::PUT, ip, "/bkt/", "PutBucket bkt");
        check(Method::PUT, ip, "/bkt", "PutBucket bkt");
        check(Method::GET, ip, "/bkt/?bucketInfo", "GetBucketInfo bkt");
        check(Method::GET, ip, "/bkt/?location=", "GetBucketLocation bkt");
        check(
            Method::GET,
            ip,
            "/bkt/?list-type=2&prefix=a",
            "ListObjectsV2 bkt",
        );
        check(
            Method::GET,
            ip,
            "/bkt/?uploads=",
            "ListMultipartUploads bkt",
        );
        check(
            Method::POST,
            ip,
            "/bkt/?delete=",
            "DeleteMultipleObjects bkt",
        );
        check(
            Method::PUT,
            ip,
            "/bkt/dir%2Fa.txt",
            "PutObject bkt dir/a.txt",
        );
        check(
            Method::PUT,
            ip,
            "/bkt/dir/a+b.txt",
            "PutObject bkt dir/a+b.txt",
        );
        check(
            Method::POST,
            ip,
            "/bkt/k?uploads",
            "InitiateMultipartUpload bkt k",
        );
        check(
            Method::PUT,
            ip,
            "/bkt/k?partNumber=1&uploadId=X",
            "UploadPart bkt k",
        );
        check(
            Method::POST,
            ip,
            "/bkt/k?uploadId=X",
            "CompleteMultipartUpload bkt k",
        );
        check(
            Method::DELETE,
            ip,
            "/bkt/k?uploadId=X",
            "AbortMultipartUpload bkt k",
        );
        check(Method::GET, ip, "/bkt/k?uploadId=X", "ListParts bkt k");
        check(
            Method::POST,
            ip,
            "/bkt/k?append&position=0",
            "AppendObject bkt k",
        );
        check(Method::HEAD, ip, "/bkt/k?objectMeta", "GetObjectMeta bkt k");
        check(Method::HEAD, ip, "/bkt/k", "HeadObject bkt k");
        check(Method::DELETE, ip, "/bkt/k", "DeleteObject bkt k");
        check(
            Method::GET,
            "bkt.oss-cn-hangzhou.aliyuncs.com",
            "/k",
            "GetObject bkt k",
        );
        check(
            Method::GET,
            "bkt.localhost:9000",
            "/a/b",
            "GetObject bkt a/b",
        );
        check(
            Method::GET,
            "localhost:9000",
            "/bkt/a/b",
            "GetObject bkt a/b",
        );
        check(Method::GET, "[::1]:9000", "/bkt/a", "GetObject bkt a");
        check(Method::GET, ip, "/Bad_Bucket/k", "InvalidBucketName");
        check(Method::GET, ip, "/bkt/a%00b", "InvalidObjectName");
        check(Method::GET, ip, "/bkt/a/../b", "InvalidObjectName");
        check(Method::GET, ip, "/bkt/%FF", "InvalidObjectName");
        check(Method::GET, ip, "/bkt/?acl", "GetBucketAcl bkt");
        check(Method::PUT, ip, "/bkt/k?acl", "PutObjectAcl bkt k");
        check(Method::GET, ip, "/bkt/?cors", "GetBucketCors bkt");
        check(Method::PUT, ip, "/bkt/?cors", "PutBucketCors bkt");
        check(Method::DELETE, ip, "/bkt/?cors", "DeleteBucketCors bkt");
        check(Method::POST, ip, "/bkt/?cors", "MethodNotAllowed");
        check(Method::GET, ip, "/bkt/k?cors", "NotImplemented");
        check(Method::GET, ip, "/bkt/?tagging", "GetBucketTagging bkt");
        check(Method::PUT, ip, "/bkt/?tagging", "PutBucketTagging bkt");
        check(
            Method::DELETE,
            ip,
            "/bkt/?tagging",
            "DeleteBucketTagging bkt",
        );
        check(Method::PUT, ip, "/bkt/?lifecycle", "PutBucketLifecycle bkt");
        check(Method::GET, ip, "/bkt/?lifecycle", "GetBucketLifecycle bkt");
        check(
            Method::DELETE,
            ip,
            "/bkt/?lifecycle",
            "DeleteBucketLifecycle bkt",
        );
        check(Method::POST, ip, "/bkt/?lifecycle", "MethodNotAllowed");
        check(Method::GET, ip, "/bkt/k?lifecycle", "NotImplemented");
        check(Method::GET, ip, "/bkt/?stat", "GetBucketStat bkt");
        check(Method::GET, ip, "/bkt/k?stat", "NotImplemented");
        check(Method::DELETE, ip, "/bkt/?acl", "MethodNotAllowed");
        check(Method::DELETE, ip, "/bkt/?stat", "MethodNotAllowed");
        check(Method::PUT, ip, "/bkt/?stat", "MethodNotAllowed");
        check(Method::DELETE, ip, "/bkt/k?acl", "MethodNotAllowed");
        check(Method::POST, ip, "/bkt/k?tagging", "MethodNotAllowed");
        check(Method::PUT, ip, "/bkt/k?tagging", "PutObjectTagging bkt k");
        check(
            Method::PUT,
            ip,
            "/bkt/k?encryption",
            "UpdateObjectEncryption bkt k",
        );
        check(
            Method::DELETE,
            ip,
            "/bkt/k?tagging",
            "DeleteObjectTagging bkt k",
        );
        check(
            Method::PUT,
            ip,
            "/bkt/?encryption",
            "PutBucketEncryption bkt",
        );
        check(
            Method::GET,
            ip,
            "/bkt/?encryption=",
            "GetBucketEncryption bkt",
        );
        check(
            Method::DELETE,
            ip,
            "/bkt/?encryption",
            "DeleteBucketEncryption bkt",
        );
        check(Method::PUT, ip, "/bkt/?policy", "PutBucketPolicy bkt");
        check(Method::GET, ip, "/bkt/?policy", "GetBucketPolicy bkt");
        check(Method::DELETE, ip, "/bkt/?policy", "DeleteBucketPolicy bkt");
        check(Method::POST, ip, "/bkt/k", "MethodNotAllowed");
        check(Method::PUT, ip, "/", "MethodNotAllowed");
    }
}
