//! RAM actions of the OSS API. Other services' actions (`kms:*`, `ram:*`, `sts:*`) are plain
//! `&'static str`s checked with [`Iam::check`](crate::Iam::check).

/// A RAM action, as named in policies (`oss:PutObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Action {
    ListBuckets,
    PutBucket,
    DeleteBucket,
    GetBucketInfo,
    GetBucketLocation,
    ListObjects,
    PutObject,
    GetObject,
    DeleteObject,
    AbortMultipartUpload,
    ListMultipartUploads,
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

impl Action {
    /// The policy name of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ListBuckets => "oss:ListBuckets",
            Action::PutBucket => "oss:PutBucket",
            Action::DeleteBucket => "oss:DeleteBucket",
            Action::GetBucketInfo => "oss:GetBucketInfo",
            Action::GetBucketLocation => "oss:GetBucketLocation",
            Action::ListObjects => "oss:ListObjects",
            Action::PutObject => "oss:PutObject",
            Action::GetObject => "oss:GetObject",
            Action::DeleteObject => "oss:DeleteObject",
            Action::AbortMultipartUpload => "oss:AbortMultipartUpload",
            Action::ListMultipartUploads => "oss:ListMultipartUploads",
            Action::ListParts => "oss:ListParts",
            Action::PutBucketEncryption => "oss:PutBucketEncryption",
            Action::GetBucketEncryption => "oss:GetBucketEncryption",
            Action::DeleteBucketEncryption => "oss:DeleteBucketEncryption",
            Action::PutBucketPolicy => "oss:PutBucketPolicy",
            Action::GetBucketPolicy => "oss:GetBucketPolicy",
            Action::DeleteBucketPolicy => "oss:DeleteBucketPolicy",
            Action::PutBucketAcl => "oss:PutBucketAcl",
            Action::GetBucketAcl => "oss:GetBucketAcl",
            Action::PutObjectAcl => "oss:PutObjectAcl",
            Action::GetObjectAcl => "oss:GetObjectAcl",
            Action::PutObjectTagging => "oss:PutObjectTagging",
            Action::GetObjectTagging => "oss:GetObjectTagging",
            Action::DeleteObjectTagging => "oss:DeleteObjectTagging",
            Action::GetBucketStat => "oss:GetBucketStat",
            Action::PutBucketCors => "oss:PutBucketCors",
            Action::GetBucketCors => "oss:GetBucketCors",
            Action::DeleteBucketCors => "oss:DeleteBucketCors",
            Action::PutBucketTagging => "oss:PutBucketTagging",
            Action::GetBucketTagging => "oss:GetBucketTagging",
            Action::DeleteBucketTagging => "oss:DeleteBucketTagging",
            Action::PutBucketLifecycle => "oss:PutBucketLifecycle",
            Action::GetBucketLifecycle => "oss:GetBucketLifecycle",
            Action::DeleteBucketLifecycle => "oss:DeleteBucketLifecycle",
        }
    }

    /// Reads an object's data or metadata (what a public-read ACL opens).
    pub fn is_object_read(self) -> bool {
        matches!(self, Action::GetObject | Action::ListParts)
    }

    /// Writes objects (what a public-read-write ACL opens in addition).
    pub fn is_object_write(self) -> bool {
        matches!(
            self,
            Action::PutObject | Action::DeleteObject | Action::AbortMultipartUpload
        )
    }
}
