//! The vocabulary of failures that front-ends translate into their wire errors.

/// What went wrong, for the caller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bucket does not exist.
    #[error("The specified bucket does not exist.")]
    NoSuchBucket {
        /// Its name.
        bucket: String,
    },
    /// The bucket name is taken.
    #[error("The requested bucket name is not available.")]
    BucketAlreadyExists,
    /// The bucket still holds objects or uploads.
    #[error("The bucket you tried to delete is not empty.")]
    BucketNotEmpty,
    /// The object does not exist.
    #[error("The specified key does not exist.")]
    NoSuchKey {
        /// Its key.
        key: String,
    },
    /// The multipart upload does not exist.
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload,
    /// A bucket name breaks the naming rules.
    #[error("{0}")]
    InvalidBucketName(String),
    /// An object key breaks the naming rules.
    #[error("{0}")]
    InvalidObjectName(String),
    /// An argument is invalid.
    #[error("{reason}")]
    InvalidArgument {
        /// The argument's name.
        name: String,
        /// Its value as received.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tag set breaks the tag limits.
    #[error("The tags are not valid: {0}.")]
    InvalidTag(crate::TagProblem),
    /// The body's MD5 does not match `Content-MD5`.
    #[error("The Content-MD5 you specified did not match what we received.")]
    InvalidDigest,
    /// The body is too large.
    #[error("Your proposed upload exceeds the maximum allowed object size.")]
    EntityTooLarge,
    /// A non-last part is too small.
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    /// A listed part does not exist or its ETag differs.
    #[error("{0}")]
    InvalidPart(String),
    /// Parts are not in ascending order.
    #[error(
        "The list of parts was not in ascending order. Parts list must be specified in order by part number."
    )]
    InvalidPartOrder,
    /// A precondition (If-Match, If-Unmodified-Since, their copy-source forms) failed.
    #[error("At least one of the pre-conditions you specified did not hold.")]
    PreconditionFailed {
        /// Which header failed.
        condition: &'static str,
    },
    /// If-None-Match / If-Modified-Since: the client's copy is current.
    #[error("Not Modified")]
    NotModified,
    /// The range cannot be satisfied (standard range behaviour only).
    #[error("The requested range cannot be satisfied.")]
    InvalidRange,
    /// Append at a position other than the object's length.
    #[error("Position is not equal to file length")]
    PositionNotEqualToLength {
        /// The length, where the next append must start.
        next_position: u64,
    },
    /// Append to an object that was not created by append.
    #[error("The object is not appendable")]
    ObjectNotAppendable,
    /// `x-oss-forbid-overwrite` and the object exists.
    #[error("The object you specified already exists and can not be overwritten.")]
    FileAlreadyExists,
    /// The grant does not cover the operation (a front-end bug, refused all the same).
    #[error("You have no right to access this object.")]
    AccessDenied,
    /// The request body ended early or could not be read.
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody,
    /// The object is encrypted with a customer-provided key (SSE-C) and the request carries none.
    #[error(
        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
    )]
    CustomerKeyRequired,
    /// The customer-provided key is not the one the object (or upload) was encrypted with.
    #[error("The provided encryption parameters did not match the ones used originally.")]
    CustomerKeyMismatch,
    /// A write with a customer-provided key (SSE-C) into a bucket that blocks SSE-C (Amazon S3
    /// user guide, "Blocking or unblocking SSE-C for a general purpose bucket").
    #[error(
        "Requests specifying Server Side Encryption with Customer provided keys are not allowed for this bucket."
    )]
    EncryptionTypeBlocked,
    /// A customer-provided key for an object that is not encrypted with one.
    #[error("The encryption parameters are not applicable to this object.")]
    CustomerKeyNotApplicable,
    /// UpdateObjectEncryption on an object whose key cannot be changed in place.
    #[error("{0}")]
    NotRewrappable(&'static str),
    /// The KMS refused or failed (SSE-KMS).
    #[error("{0}")]
    Kms(crate::sse::KmsError),
    /// Stored data or metadata is damaged.
    #[error("stored data is damaged")]
    Corrupt(String),
    /// Anything else: a backend failed.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub(crate) fn invalid_argument(
        name: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument {
            name: name.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

impl From<coffer_meta::Error> for Error {
    fn from(e: coffer_meta::Error) -> Self {
        use coffer_meta::Error as M;
        match e {
            // Callers that know the bucket name map NoSuchBucket themselves; this is the fallback.
            M::NoSuchBucket => Error::NoSuchBucket {
                bucket: String::new(),
            },
            M::BucketExists => Error::BucketAlreadyExists,
            M::BucketNotEmpty => Error::BucketNotEmpty,
            M::NoSuchUpload => Error::NoSuchUpload,
            M::ObjectExists => Error::FileAlreadyExists,
            M::GenerationMismatch => Error::Internal("object changed concurrently".into()),
            M::Corrupt(s) => Error::Corrupt(s),
            M::Internal(e) => Error::Internal(e),
        }
    }
}

impl From<coffer_blob::Error> for Error {
    fn from(e: coffer_blob::Error) -> Self {
        match e {
            coffer_blob::Error::NotFound => Error::Corrupt("object data is missing".into()),
            coffer_blob::Error::Io(e) => Error::Internal(Box::new(e)),
        }
    }
}

/// Result of a core operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
