//! Errors of the metadata layer.

/// What went wrong in a metadata operation, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bucket does not exist.
    #[error("no such bucket")]
    NoSuchBucket,
    /// A bucket with this name exists already.
    #[error("bucket already exists")]
    BucketExists,
    /// The bucket still holds objects or multipart uploads.
    #[error("bucket is not empty")]
    BucketNotEmpty,
    /// The multipart upload does not exist (never created, completed or aborted).
    #[error("no such upload")]
    NoSuchUpload,
    /// `PutCondition::IfAbsent` was asked and the object exists.
    #[error("object already exists")]
    ObjectExists,
    /// `PutCondition::IfGeneration` was asked and the object changed in between.
    #[error("object changed concurrently")]
    GenerationMismatch,
    /// A stored record could not be decoded.
    #[error("corrupt metadata record: {0}")]
    Corrupt(String),
    /// The backend failed.
    #[error("metadata backend failure")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Result of a metadata operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
