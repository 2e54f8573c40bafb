//! The access layer's error: why a request may not proceed, or why it could not be decided.

/// Why access was refused or could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Refused (`AccessDenied`), or a bucket policy that cannot be accepted
    /// (`MalformedPolicy`), or none to return (`NoSuchBucketPolicy`): iam's vocabulary.
    #[error(transparent)]
    Iam(#[from] coffer_iam::Error),
    /// The bucket a policy operation names does not exist.
    #[error("The specified bucket does not exist.")]
    NoSuchBucket {
        /// Its name.
        bucket: String,
    },
    /// The metadata store failed while the facts of a decision were read.
    #[error(transparent)]
    Meta(#[from] coffer_meta::Error),
    /// A stored bucket policy no longer parses (it was checked when put): damaged metadata.
    #[error("stored policy of bucket {bucket} is unreadable: {reason}")]
    CorruptPolicy {
        /// The bucket.
        bucket: String,
        /// The parser's complaint.
        reason: String,
    },
}

/// Result with the access layer's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
