//! The S3 operations this front-end routes, and the RAM action each is authorized as.
//! **Invariant:** the mapping S3 operation → `oss:*` action is this one table ([`Op::action`]);
//! bucket and RAM policies written for the OSS API therefore govern S3 requests too.

use coffer_iam::Action;

/// An S3 operation (Amazon S3 API reference names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    PutObject,
    GetObject,
    HeadObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    /// Also needs `oss:GetObject` on its source, which its handler asks the access layer for.
    UploadPartCopy,
    ListMultipartUploads,
    PutBucketEncryption,
    GetBucketEncryption,
    DeleteBucketEncryption,
    /// Its keys are in the body: authorized once per key (`oss:DeleteObject`) by its handler.
    DeleteObjects,
    /// Also needs `oss:GetObject` on its source, which its handler asks the access layer for.
    CopyObject,
    PutObjectTagging,
    GetObjectTagging,
    DeleteObjectTagging,
    /// A write of the object: changes the key that wraps its data key, in place.
    UpdateObjectEncryption,
    /// Routed, answered `NotImplemented` (never a wrong success).
    Unsupported(&'static str),
}

impl Op {
    /// The RAM action the access layer decides; `None` for operations answered before
    /// authorization (`NotImplemented`).
    pub fn action(self) -> Option<Action> {
        Some(match self {
            Op::ListBuckets => Action::ListBuckets,
            Op::CreateBucket => Action::PutBucket,
            Op::DeleteBucket => Action::DeleteBucket,
            Op::HeadBucket => Action::GetBucketInfo,
            Op::GetBucketLocation => Action::GetBucketLocation,
            Op::ListObjects | Op::ListObjectsV2 => Action::ListObjects,
            Op::PutObject => Action::PutObject,
            Op::GetObject | Op::HeadObject => Action::GetObject,
            Op::DeleteObject => Action::DeleteObject,
            Op::CreateMultipartUpload | Op::UploadPart | Op::CompleteMultipartUpload => {
                Action::PutObject
            }
            Op::AbortMultipartUpload => Action::AbortMultipartUpload,
            Op::ListParts => Action::ListParts,
            Op::UploadPartCopy => Action::PutObject,
            Op::ListMultipartUploads => Action::ListMultipartUploads,
            Op::PutBucketEncryption => Action::PutBucketEncryption,
            Op::GetBucketEncryption => Action::GetBucketEncryption,
            Op::DeleteBucketEncryption => Action::DeleteBucketEncryption,
            Op::DeleteObjects => Action::DeleteObject,
            Op::CopyObject => Action::PutObject,
            Op::PutObjectTagging => Action::PutObjectTagging,
            Op::GetObjectTagging => Action::GetObjectTagging,
            Op::DeleteObjectTagging => Action::DeleteObjectTagging,
            Op::UpdateObjectEncryption => Action::PutObject,
            Op::Unsupported(_) => return None,
        })
    }

    /// The operation's S3 name, for logs and `NotImplemented` messages.
    pub fn name(self) -> &'static str {
        match self {
            Op::ListBuckets => "ListBuckets",
            Op::CreateBucket => "CreateBucket",
            Op::DeleteBucket => "DeleteBucket",
            Op::HeadBucket => "HeadBucket",
            Op::GetBucketLocation => "GetBucketLocation",
            Op::ListObjects => "ListObjects",
            Op::ListObjectsV2 => "ListObjectsV2",
            Op::PutObject => "PutObject",
            Op::GetObject => "GetObject",
            Op::HeadObject => "HeadObject",
            Op::DeleteObject => "DeleteObject",
            Op::CreateMultipartUpload => "CreateMultipartUpload",
            Op::UploadPart => "UploadPart",
            Op::CompleteMultipartUpload => "CompleteMultipartUpload",
            Op::AbortMultipartUpload => "AbortMultipartUpload",
            Op::ListParts => "ListParts",
            Op::UploadPartCopy => "UploadPartCopy",
            Op::ListMultipartUploads => "ListMultipartUploads",
            Op::PutBucketEncryption => "PutBucketEncryption",
            Op::GetBucketEncryption => "GetBucketEncryption",
            Op::DeleteBucketEncryption => "DeleteBucketEncryption",
            Op::DeleteObjects => "DeleteObjects",
            Op::CopyObject => "CopyObject",
            Op::PutObjectTagging => "PutObjectTagging",
            Op::GetObjectTagging => "GetObjectTagging",
            Op::DeleteObjectTagging => "DeleteObjectTagging",
            Op::UpdateObjectEncryption => "UpdateObjectEncryption",
            Op::Unsupported(name) => name,
        }
    }
}

/// Query parameters that name a sub-resource: a request carrying one is not the plain bucket or
/// object operation, so it is routed to that sub-resource (or `NotImplemented`).
const SUB_RESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "encryption",
    "lifecycle",
    "logging",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "legal-hold",
    "select",
    "tagging",
    "uploadId",
    "uploads",
    "versioning",
    "versions",
    "website",
    "attributes",
    "accelerate",
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
];

/// Routes a request: `bucket`/`key` presence, the method and the query's parameter names.
pub fn route(
    method: &http::Method,
    has_bucket: bool,
    has_key: bool,
    query: &[(String, String)],
    copy_source: bool,
) -> Op {
    use http::Method as M;
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    let sub = SUB_RESOURCES.iter().find(|s| has(s)).copied();
    match (has_bucket, has_key) {
        (false, _) if *method == M::GET => Op::ListBuckets,
        (false, _) => Op::Unsupported("ServiceOperation"),
        (true, false) => match (method, sub) {
            (&M::GET, None) if has("location") => Op::GetBucketLocation,
            (&M::GET, None) if query.iter().any(|(k, v)| k == "list-type" && v == "2") => {
                Op::ListObjectsV2
            }
            (&M::GET, None) => Op::ListObjects,
            (&M::PUT, None) => Op::CreateBucket,
            (&M::DELETE, None) => Op::DeleteBucket,
            (&M::HEAD, None) => Op::HeadBucket,
            (&M::POST, Some("delete")) => Op::DeleteObjects,
            (&M::GET, Some("uploads")) => Op::ListMultipartUploads,
            (&M::PUT, Some("encryption")) => Op::PutBucketEncryption,
            (&M::GET, Some("encryption")) => Op::GetBucketEncryption,
            (&M::DELETE, Some("encryption")) => Op::DeleteBucketEncryption,
            (_, Some(s)) => Op::Unsupported(bucket_sub_name(s)),
            _ => Op::Unsupported("BucketOperation"),
        },
        (true, true) => match (method, sub) {
            (&M::POST, Some("uploads")) => Op::CreateMultipartUpload,
            (&M::PUT, Some("uploadId")) if copy_source && has("partNumber") => Op::UploadPartCopy,
            (&M::PUT, Some("uploadId")) if has("partNumber") => Op::UploadPart,
            (&M::POST, Some("uploadId")) => Op::CompleteMultipartUpload,
            (&M::DELETE, Some("uploadId")) => Op::AbortMultipartUpload,
            (&M::GET, Some("uploadId")) => Op::ListParts,
            (&M::PUT, Some("tagging")) => Op::PutObjectTagging,
            (&M::GET, Some("tagging")) => Op::GetObjectTagging,
            (&M::DELETE, Some("tagging")) => Op::DeleteObjectTagging,
            (&M::PUT, Some("encryption")) => Op::UpdateObjectEncryption,
            (&M::PUT, None) if copy_source => Op::CopyObject,
            (&M::PUT, None) => Op::PutObject,
            (&M::GET, None) => Op::GetObject,
            (&M::HEAD, None) => Op::HeadObject,
            (&M::DELETE, None) => Op::DeleteObject,
            (_, Some(s)) => Op::Unsupported(object_sub_name(s)),
            _ => Op::Unsupported("ObjectOperation"),
        },
    }
}

fn bucket_sub_name(sub: &str) -> &'static str {
    match sub {
        "encryption" => "BucketEncryption",
        "policy" => "BucketPolicy",
        "uploads" => "ListMultipartUploads",
        "delete" => "DeleteObjects",
        "versioning" => "BucketVersioning",
        _ => "BucketSubresource",
    }
}

fn object_sub_name(sub: &str) -> &'static str {
    match sub {
        "uploads" => "CreateMultipartUpload",
        "uploadId" => "MultipartUpload",
        "tagging" => "ObjectTagging",
        "acl" => "ObjectAcl",
        _ => "ObjectSubresource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn plain_operations_map_to_the_oss_ram_actions() {
        assert_eq!(
            route(&Method::GET, true, false, &q(&[("list-type", "2")]), false),
            Op::ListObjectsV2
        );
        assert_eq!(
            Op::ListObjectsV2.action(),
            Some(Action::ListObjects),
            "both listings are oss:ListObjects"
        );
        assert_eq!(
            route(&Method::HEAD, true, true, &[], false).action(),
            Some(Action::GetObject)
        );
        assert_eq!(
            route(&Method::PUT, true, false, &[], false).action(),
            Some(Action::PutBucket)
        );
    }

    #[test]
    fn multipart_requests_are_told_apart_by_method_and_query() {
        let id = q(&[("uploadId", "X"), ("partNumber", "1")]);
        assert_eq!(route(&Method::PUT, true, true, &id, false), Op::UploadPart);
        assert_eq!(
            route(&Method::PUT, true, true, &id, true),
            Op::UploadPartCopy
        );
        assert_eq!(
            route(&Method::GET, true, false, &q(&[("uploads", "")]), false).action(),
            Some(Action::ListMultipartUploads)
        );
        assert_eq!(
            route(&Method::POST, true, true, &q(&[("uploads", "")]), false),
            Op::CreateMultipartUpload
        );
        assert_eq!(
            route(&Method::DELETE, true, true, &q(&[("uploadId", "X")]), false).action(),
            Some(Action::AbortMultipartUpload)
        );
    }

    #[test]
    fn object_tagging_is_the_oss_tagging_actions() {
        let t = q(&[("tagging", "")]);
        for (method, op, action) in [
            (Method::PUT, Op::PutObjectTagging, Action::PutObjectTagging),
            (Method::GET, Op::GetObjectTagging, Action::GetObjectTagging),
            (
                Method::DELETE,
                Op::DeleteObjectTagging,
                Action::DeleteObjectTagging,
            ),
        ] {
            let got = route(&method, true, true, &t, false);
            assert_eq!(got, op, "{method}");
            assert_eq!(got.action(), Some(action));
        }
    }

    #[test]
    fn update_object_encryption_is_a_write_of_the_object() {
        let got = route(&Method::PUT, true, true, &q(&[("encryption", "")]), false);
        assert_eq!(got, Op::UpdateObjectEncryption);
        assert_eq!(got.action(), Some(Action::PutObject));
        assert!(matches!(
            route(&Method::GET, true, true, &q(&[("encryption", "")]), false),
            Op::Unsupported(_)
        ));
    }

    #[test]
    fn sub_resources_are_never_taken_for_the_plain_operation() {
        for (method, bucket, key, query) in [
            (Method::POST, true, false, q(&[("encryption", "")])),
            (Method::GET, true, false, q(&[("versioning", "")])),
            (Method::POST, true, true, q(&[("select", "")])),
            (Method::PUT, true, false, q(&[("tagging", "")])),
            (Method::POST, true, true, q(&[("tagging", "")])),
            (Method::DELETE, true, true, q(&[("retention", "")])),
        ] {
            let op = route(&method, bucket, key, &query, false);
            assert!(
                matches!(op, Op::Unsupported(_)),
                "{method} {query:?}: {op:?}"
            );
            assert_eq!(op.action(), None);
        }
    }
}
