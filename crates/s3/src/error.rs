//! S3 errors. **Invariant:** S3 error codes and their HTTP statuses appear only in the [`codes`]
//! table; `From<coffer_core::Error>` and `From<coffer_access::Error>` pick a row.

use http::StatusCode;

/// One row of the table: the code and the status it answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The S3 error code (`Error/Code` of the XML document).
    pub code: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $status:ident;)*) => {
        /// Every S3 error code this front-end answers with (Amazon S3 API reference, "Error
        /// responses").
        pub mod codes {
            use super::Code;
            use http::StatusCode;
            $(pub const $name: Code = Code { code: $code, status: StatusCode::$status };)*
        }
    };
}

codes! {
    ACCESS_DENIED = "AccessDenied", FORBIDDEN;
    BAD_DIGEST = "BadDigest", BAD_REQUEST;
    BUCKET_ALREADY_OWNED_BY_YOU = "BucketAlreadyOwnedByYou", CONFLICT;
    BUCKET_ALREADY_EXISTS = "BucketAlreadyExists", CONFLICT;
    BUCKET_NOT_EMPTY = "BucketNotEmpty", CONFLICT;
    ENTITY_TOO_LARGE = "EntityTooLarge", BAD_REQUEST;
    ENTITY_TOO_SMALL = "EntityTooSmall", BAD_REQUEST;
    EXPIRED_TOKEN = "ExpiredToken", BAD_REQUEST;
    INCOMPLETE_BODY = "IncompleteBody", BAD_REQUEST;
    INTERNAL_ERROR = "InternalError", INTERNAL_SERVER_ERROR;
    INVALID_ACCESS_KEY_ID = "InvalidAccessKeyId", FORBIDDEN;
    INVALID_ARGUMENT = "InvalidArgument", BAD_REQUEST;
    INVALID_BUCKET_NAME = "InvalidBucketName", BAD_REQUEST;
    INVALID_DIGEST = "InvalidDigest", BAD_REQUEST;
    INVALID_PART = "InvalidPart", BAD_REQUEST;
    INVALID_PART_ORDER = "InvalidPartOrder", BAD_REQUEST;
    INVALID_RANGE = "InvalidRange", RANGE_NOT_SATISFIABLE;
    INVALID_REQUEST = "InvalidRequest", BAD_REQUEST;
    INVALID_TAG = "InvalidTag", BAD_REQUEST;
    INVALID_TOKEN = "InvalidToken", BAD_REQUEST;
    KMS_ERROR = "KMS.KMSInvalidStateException", BAD_REQUEST;
    MALFORMED_TRAILER = "MalformedTrailerError", BAD_REQUEST;
    MALFORMED_XML = "MalformedXML", BAD_REQUEST;
    METHOD_NOT_ALLOWED = "MethodNotAllowed", METHOD_NOT_ALLOWED;
    MISSING_SECURITY_HEADER = "MissingSecurityHeader", BAD_REQUEST;
    NO_SUCH_BUCKET = "NoSuchBucket", NOT_FOUND;
    NO_SUCH_BUCKET_POLICY = "NoSuchBucketPolicy", NOT_FOUND;
    NO_SUCH_KEY = "NoSuchKey", NOT_FOUND;
    NO_SUCH_UPLOAD = "NoSuchUpload", NOT_FOUND;
    NOT_IMPLEMENTED = "NotImplemented", NOT_IMPLEMENTED;
    NOT_MODIFIED = "NotModified", NOT_MODIFIED;
    PRECONDITION_FAILED = "PreconditionFailed", PRECONDITION_FAILED;
    SSE_CONFIGURATION_NOT_FOUND = "ServerSideEncryptionConfigurationNotFoundError", NOT_FOUND;
    REQUEST_TIME_TOO_SKEWED = "RequestTimeTooSkewed", FORBIDDEN;
    SIGNATURE_DOES_NOT_MATCH = "SignatureDoesNotMatch", FORBIDDEN;
    AUTHORIZATION_HEADER_MALFORMED = "AuthorizationHeaderMalformed", BAD_REQUEST;
    AUTHORIZATION_QUERY_PARAMETERS_ERROR = "AuthorizationQueryParametersError", BAD_REQUEST;
    CONTENT_SHA256_MISMATCH = "XAmzContentSHA256Mismatch", BAD_REQUEST;
    INVALID_CONTENT_SHA256 = "InvalidArgument", BAD_REQUEST;
}

/// An S3 error: its row, the message, the resource it names, and the internal cause (logged,
/// never sent).
#[derive(Debug)]
pub struct S3Error {
    /// The row of [`codes`].
    pub code: Code,
    /// The `Message` element.
    pub message: String,
    /// The `Key` or `BucketName` element, when the error names one.
    pub resource: Option<(&'static str, String)>,
    /// For the log only.
    pub cause: Option<Box<dyn std::fmt::Debug + Send + Sync>>,
}

impl S3Error {
    /// An error of `code` saying `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            resource: None,
            cause: None,
        }
    }

    /// Names the resource (`BucketName`, `Key`) in the document.
    pub fn naming(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.resource = Some((element, value.into()));
        self
    }

    /// `InternalError`, keeping `cause` for the log.
    pub fn internal(cause: impl std::fmt::Debug + Send + Sync + 'static) -> Self {
        Self {
            cause: Some(Box::new(cause)),
            ..Self::new(
                codes::INTERNAL_ERROR,
                "We encountered an internal error. Please try again.",
            )
        }
    }

    /// `NotImplemented` for an operation this front-end does not offer.
    pub fn not_implemented(op: &str) -> Self {
        Self::new(
            codes::NOT_IMPLEMENTED,
            format!("{op} is not implemented by this server."),
        )
    }

    /// `InvalidArgument` with `message`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_ARGUMENT, message)
    }

    /// `InvalidRequest` with `message`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_REQUEST, message)
    }
}

impl From<coffer_core::Error> for S3Error {
    fn from(e: coffer_core::Error) -> Self {
        use coffer_core::Error as E;
        let code = match &e {
            E::NoSuchBucket { bucket } => {
                return S3Error::new(codes::NO_SUCH_BUCKET, e.to_string())
                    .naming("BucketName", bucket.clone());
            }
            E::NoSuchKey { .. } => codes::NO_SUCH_KEY,
            E::BucketAlreadyExists => codes::BUCKET_ALREADY_EXISTS,
            E::BucketNotEmpty => codes::BUCKET_NOT_EMPTY,
            E::NoSuchUpload => codes::NO_SUCH_UPLOAD,
            E::InvalidBucketName(_) => codes::INVALID_BUCKET_NAME,
            E::InvalidObjectName(_) => codes::INVALID_ARGUMENT,
            E::InvalidArgument { .. } => codes::INVALID_ARGUMENT,
            E::InvalidTag(problem) => {
                return S3Error::new(codes::INVALID_TAG, tag_message(*problem));
            }
            E::InvalidDigest => codes::INVALID_DIGEST,
            E::EntityTooLarge => codes::ENTITY_TOO_LARGE,
            E::EntityTooSmall => codes::ENTITY_TOO_SMALL,
            E::InvalidPart(_) => codes::INVALID_PART,
            E::InvalidPartOrder => codes::INVALID_PART_ORDER,
            E::PreconditionFailed { .. } | E::FileAlreadyExists => codes::PRECONDITION_FAILED,
            E::NotModified => codes::NOT_MODIFIED,
            E::InvalidRange => codes::INVALID_RANGE,
            E::PositionNotEqualToLength { .. } | E::ObjectNotAppendable => codes::INVALID_REQUEST,
            E::AccessDenied => codes::ACCESS_DENIED,
            E::IncompleteBody => codes::INCOMPLETE_BODY,
            E::CustomerKeyRequired | E::CustomerKeyNotApplicable => codes::INVALID_REQUEST,
            // S3 answers a wrong customer key as a refusal, naming nothing about the key.
            E::CustomerKeyMismatch => return S3Error::new(codes::ACCESS_DENIED, "Access Denied"),
            E::EncryptionTypeBlocked => codes::ACCESS_DENIED,
            E::NotRewrappable(_) => codes::INVALID_REQUEST,
            E::Kms(_) => codes::KMS_ERROR,
            E::Corrupt(_) | E::Internal(_) => return S3Error::internal(e),
        };
        S3Error::new(code, e.to_string())
    }
}

/// S3's wording for each broken tag limit.
fn tag_message(problem: coffer_core::TagProblem) -> &'static str {
    use coffer_core::TagProblem as P;
    match problem {
        P::TooMany => "Object tags cannot be greater than 10",
        P::KeyLength => "The TagKey you have provided is invalid",
        P::ValueLength => "The TagValue you have provided is too long, max 256",
        P::DuplicateKey => "Cannot provide multiple Tags with the same key",
    }
}

impl From<coffer_iam::Error> for S3Error {
    fn from(e: coffer_iam::Error) -> Self {
        use coffer_iam::Error as E;
        let code = match &e {
            E::InvalidAccessKeyId | E::AccessKeyDisabled => codes::INVALID_ACCESS_KEY_ID,
            E::InvalidSecurityToken => codes::INVALID_TOKEN,
            E::SecurityTokenExpired { .. } => codes::EXPIRED_TOKEN,
            E::AccessDenied { .. } => codes::ACCESS_DENIED,
            E::NoSuchBucketPolicy => codes::NO_SUCH_BUCKET_POLICY,
            E::MalformedPolicy(_) | E::InvalidParameter { .. } => codes::INVALID_ARGUMENT,
            _ => return S3Error::internal(e),
        };
        S3Error::new(code, e.to_string())
    }
}

impl From<coffer_access::Error> for S3Error {
    fn from(e: coffer_access::Error) -> Self {
        match e {
            coffer_access::Error::Iam(e) => e.into(),
            coffer_access::Error::NoSuchBucket { bucket } => S3Error::new(
                codes::NO_SUCH_BUCKET,
                "The specified bucket does not exist.",
            )
            .naming("BucketName", bucket),
            other => S3Error::internal(other),
        }
    }
}
