//! OSS error codes: the one table of codes and HTTP statuses, and the translation of every lower
//! layer's error into a row of it.

use http::StatusCode;

/// One row of the OSS error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The `<Code>` string.
    pub code: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// The `<EC>` value (informational for clients).
    pub ec: &'static str,
}

macro_rules! codes {
    ($($name:ident => ($code:literal, $status:ident, $ec:literal);)*) => {
        /// Every OSS error code coffer returns.
        pub mod codes {
            use super::*;
            $(
                #[allow(missing_docs)]
                pub const $name: ErrorCode =
                    ErrorCode { code: $code, status: StatusCode::$status, ec: $ec };
            )*
            /// All rows, for tests and documentation.
            pub const ALL: &[ErrorCode] = &[$($name),*];
        }
    };
}

// Statuses as OSS answers each code (OSS API reference, "Error responses", and the per-EC
// troubleshooting pages); EC values follow OSS where known, else a coffer range.
codes! {
    ACCESS_DENIED => ("AccessDenied", FORBIDDEN, "0003-00000001");
    INVALID_ACCESS_KEY_ID => ("InvalidAccessKeyId", FORBIDDEN, "0002-00000902");
    INVALID_SECURITY_TOKEN => ("InvalidSecurityToken", FORBIDDEN, "0002-00000903");
    SECURITY_TOKEN_EXPIRED => ("SecurityTokenExpired", FORBIDDEN, "0002-00000904");
    SIGNATURE_DOES_NOT_MATCH => ("SignatureDoesNotMatch", FORBIDDEN, "0002-00000040");
    REQUEST_TIME_TOO_SKEWED => ("RequestTimeTooSkewed", FORBIDDEN, "0002-00000070");
    NO_SUCH_BUCKET => ("NoSuchBucket", NOT_FOUND, "0015-00000101");
    NO_SUCH_KEY => ("NoSuchKey", NOT_FOUND, "0026-00000001");
    NO_SUCH_UPLOAD => ("NoSuchUpload", NOT_FOUND, "0042-00000002");
    BUCKET_ALREADY_EXISTS => ("BucketAlreadyExists", CONFLICT, "0015-00000104");
    BUCKET_NOT_EMPTY => ("BucketNotEmpty", CONFLICT, "0015-00000301");
    INVALID_BUCKET_NAME => ("InvalidBucketName", BAD_REQUEST, "0015-00000001");
    INVALID_OBJECT_NAME => ("InvalidObjectName", BAD_REQUEST, "0016-00000001");
    INVALID_ARGUMENT => ("InvalidArgument", BAD_REQUEST, "0016-00000002");
    PAYLOAD_HASH_NOT_SUPPORTED => ("InvalidArgument", BAD_REQUEST, "0002-00000214");
    INVALID_SIGNING_REGION => ("InvalidArgument", BAD_REQUEST, "0002-00000226");
    INVALID_DIGEST => ("InvalidDigest", BAD_REQUEST, "0016-00000004");
    MALFORMED_XML => ("MalformedXML", BAD_REQUEST, "0016-00000301");
    MISSING_ARGUMENT => ("MissingArgument", BAD_REQUEST, "0016-00000005");
    ENTITY_TOO_LARGE => ("EntityTooLarge", BAD_REQUEST, "0016-00000006");
    ENTITY_TOO_SMALL => ("EntityTooSmall", BAD_REQUEST, "0042-00000203");
    INVALID_PART => ("InvalidPart", BAD_REQUEST, "0042-00000204");
    INVALID_PART_ORDER => ("InvalidPartOrder", BAD_REQUEST, "0042-00000205");
    POSITION_NOT_EQUAL_TO_LENGTH => ("PositionNotEqualToLength", CONFLICT, "0026-00000016");
    OBJECT_NOT_APPENDABLE => ("ObjectNotAppendable", CONFLICT, "0026-00000015");
    FILE_ALREADY_EXISTS => ("FileAlreadyExists", CONFLICT, "0026-00000017");
    INVALID_RANGE => ("InvalidRange", RANGE_NOT_SATISFIABLE, "0026-00000021");
    PRECONDITION_FAILED => ("PreconditionFailed", PRECONDITION_FAILED, "0026-00000003");
    NOT_MODIFIED => ("", NOT_MODIFIED, "0026-00000004");
    INCOMPLETE_BODY => ("IncompleteBody", BAD_REQUEST, "0016-00000007");
    REQUEST_HEADER_TOO_LARGE => ("RequestHeaderTooLarge", BAD_REQUEST, "0016-00000008");
    INVALID_ENCRYPTION_ALGORITHM => ("InvalidEncryptionAlgorithmError", BAD_REQUEST, "0005-00000003");
    INVALID_TAG => ("InvalidTag", BAD_REQUEST, "0010-00000217");
    TAG_KEY_TOO_LONG => ("InvalidTag", BAD_REQUEST, "0010-00000209");
    TAG_VALUE_TOO_LONG => ("InvalidTag", BAD_REQUEST, "0010-00000214");
    INVALID_TAGGING_HEADER => ("InvalidArgument", BAD_REQUEST, "0010-00000219");
    INVALID_KMS_DATA_ENCRYPTION => ("InvalidArgument", BAD_REQUEST, "0005-00000203");
    KMS_KEY_ID_WITHOUT_KMS => ("InvalidArgument", BAD_REQUEST, "0005-00000204");
    NO_SUCH_SSE_RULE => ("NoSuchServerSideEncryptionRule", NOT_FOUND, "0005-00000004");
    MALFORMED_POLICY => ("MalformedPolicy", BAD_REQUEST, "0031-00000001");
    NO_SUCH_BUCKET_POLICY => ("NoSuchBucketPolicy", NOT_FOUND, "0031-00000002");
    KMS_KEY_NOT_FOUND => ("KmsKeyNotFound", BAD_REQUEST, "0005-00000208");
    KMS_KEY_DISABLED => ("KmsKeyDisabled", CONFLICT, "0005-00000214");
    KMS_KEY_PENDING_DELETION => ("KmsKeyPendingDeletion", CONFLICT, "0005-00000215");
    KMS_KEY_MATERIAL_UNAVAILABLE => ("KmsKeyMaterialUnavailable", CONFLICT, "0005-00000216");
    KMS_SERVICE_NOT_ENABLED => ("KmsServiceNotEnabled", FORBIDDEN, "0005-00000218");
    NO_SUCH_CORS_CONFIGURATION => ("NoSuchCORSConfiguration", NOT_FOUND, "0099-00000101");
    CORS_FORBIDDEN => ("AccessForbidden", FORBIDDEN, "0099-00000102");
    NO_SUCH_LIFECYCLE => ("NoSuchLifecycle", NOT_FOUND, "0099-00000103");
    NOT_IMPLEMENTED => ("NotImplemented", NOT_IMPLEMENTED, "0016-00000501");
    METHOD_NOT_ALLOWED => ("MethodNotAllowed", METHOD_NOT_ALLOWED, "0016-00000405");
    DATA_CORRUPTED => ("InternalError", INTERNAL_SERVER_ERROR, "0099-00000002");
    INTERNAL_ERROR => ("InternalError", INTERNAL_SERVER_ERROR, "0099-00000001");
}

/// An error on its way to the client: a row of the table, a message, and extra XML elements.
#[derive(Debug)]
pub struct OssError {
    /// The row.
    pub code: ErrorCode,
    /// `<Message>`.
    pub message: String,
    /// Extra child elements (`BucketName`, `Key`, `ArgumentName`, ...), in order.
    pub details: Vec<(&'static str, String)>,
    /// Extra response headers (`x-oss-next-append-position`).
    pub headers: Vec<(&'static str, String)>,
    /// The cause, logged once where the error is answered; never sent to the client.
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl OssError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
            cause: None,
        }
    }

    /// Adds a child element to the error XML.
    pub fn detail(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    /// `InvalidArgument` naming the argument, as oss2 exposes it (`e.name`, `e.value`).
    pub fn invalid_argument(name: &str, value: &str, message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_ARGUMENT, message)
            .detail("ArgumentName", name)
            .detail("ArgumentValue", value)
    }

    /// `MalformedXML` with a reason.
    pub fn malformed_xml(reason: impl std::fmt::Display) -> Self {
        Self::new(
            codes::MALFORMED_XML,
            format!(
                "The XML you provided was not well-formed or did not validate against our published schema: {reason}"
            ),
        )
    }

    /// `InternalError` carrying a cause for the log.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut e = Self::new(
            codes::INTERNAL_ERROR,
            "We encountered an internal error. Please try again.",
        );
        e.cause = Some(cause.into());
        e
    }
}

impl From<coffer_core::Error> for OssError {
    fn from(e: coffer_core::Error) -> Self {
        use coffer_core::Error as E;
        let message = e.to_string();
        match e {
            E::NoSuchBucket { bucket } => {
                OssError::new(codes::NO_SUCH_BUCKET, message).detail("BucketName", bucket)
            }
            E::BucketAlreadyExists => OssError::new(codes::BUCKET_ALREADY_EXISTS, message),
            E::BucketNotEmpty => OssError::new(codes::BUCKET_NOT_EMPTY, message),
            E::NoSuchKey { key } => OssError::new(codes::NO_SUCH_KEY, message).detail("Key", key),
            E::NoSuchUpload => OssError::new(codes::NO_SUCH_UPLOAD, message),
            E::InvalidBucketName(_) => OssError::new(codes::INVALID_BUCKET_NAME, message),
            E::InvalidObjectName(_) => OssError::new(codes::INVALID_OBJECT_NAME, message),
            E::InvalidArgument {
                name,
                value,
                reason,
            } => OssError::invalid_argument(&name, &value, reason),
            E::InvalidTag(problem) => {
                use coffer_core::TagProblem as T;
                let row = match problem {
                    T::KeyLength => codes::TAG_KEY_TOO_LONG,
                    T::ValueLength => codes::TAG_VALUE_TOO_LONG,
                    T::TooMany | T::DuplicateKey => codes::INVALID_TAG,
                };
                OssError::new(row, message)
            }
            E::InvalidDigest => OssError::new(codes::INVALID_DIGEST, message),
            E::EntityTooLarge => OssError::new(codes::ENTITY_TOO_LARGE, message),
            E::EntityTooSmall => OssError::new(codes::ENTITY_TOO_SMALL, message),
            E::InvalidPart(_) => OssError::new(codes::INVALID_PART, message),
            E::InvalidPartOrder => OssError::new(codes::INVALID_PART_ORDER, message),
            E::PreconditionFailed { condition } => {
                OssError::new(codes::PRECONDITION_FAILED, message).detail("Condition", condition)
            }
            E::NotModified => OssError::new(codes::NOT_MODIFIED, message),
            E::InvalidRange => OssError::new(codes::INVALID_RANGE, message),
            E::PositionNotEqualToLength { next_position } => {
                let mut e = OssError::new(codes::POSITION_NOT_EQUAL_TO_LENGTH, message);
                e.headers.push((
                    crate::headers::X_OSS_NEXT_APPEND_POSITION,
                    next_position.to_string(),
                ));
                e
            }
            E::ObjectNotAppendable => OssError::new(codes::OBJECT_NOT_APPENDABLE, message),
            E::FileAlreadyExists => OssError::new(codes::FILE_ALREADY_EXISTS, message),
            E::AccessDenied | E::EncryptionTypeBlocked => {
                OssError::new(codes::ACCESS_DENIED, message)
            }
            E::IncompleteBody => OssError::new(codes::INCOMPLETE_BODY, message),
            // OSS has no customer-provided keys: such an object is readable only through the S3
            // API, with its key.
            E::CustomerKeyRequired | E::CustomerKeyMismatch | E::CustomerKeyNotApplicable => {
                OssError::new(
                    codes::ACCESS_DENIED,
                    "The object is encrypted with a customer-provided key (SSE-C): it can be read only through the S3 API, with that key.",
                )
            }
            E::NotRewrappable(reason) => {
                OssError::invalid_argument("x-oss-server-side-encryption", "", reason)
            }
            E::Kms(k) => {
                use coffer_core::KmsError as K;
                let message = k.to_string();
                match k {
                    K::KeyNotFound(_) => OssError::new(codes::KMS_KEY_NOT_FOUND, message),
                    K::KeyDisabled(_) => OssError::new(codes::KMS_KEY_DISABLED, message),
                    K::KeyPendingDeletion(_) => {
                        OssError::new(codes::KMS_KEY_PENDING_DELETION, message)
                    }
                    K::KeyMaterialUnavailable(_) => {
                        OssError::new(codes::KMS_KEY_MATERIAL_UNAVAILABLE, message)
                    }
                    K::AccessDenied(_) => OssError::new(codes::ACCESS_DENIED, message),
                    K::NotEnabled => OssError::new(codes::KMS_SERVICE_NOT_ENABLED, message),
                    K::Damaged => {
                        let mut e = OssError::new(
                            codes::DATA_CORRUPTED,
                            "The stored object's key envelope is damaged: the object cannot be decrypted.",
                        );
                        e.cause = Some(message.into());
                        e
                    }
                    K::Internal(cause) => OssError::internal(cause),
                }
            }
            E::Corrupt(what) => {
                let mut e = OssError::new(
                    codes::DATA_CORRUPTED,
                    "The stored object is damaged or was tampered with and cannot be served.",
                );
                e.cause = Some(what.into());
                e
            }
            E::Internal(cause) => OssError::internal(cause),
        }
    }
}

impl From<coffer_iam::Error> for OssError {
    fn from(e: coffer_iam::Error) -> Self {
        use coffer_iam::Error as E;
        match e {
            // A disabled key looks like an unknown one, as OSS answers both.
            E::InvalidAccessKeyId | E::AccessKeyDisabled => OssError::new(
                codes::INVALID_ACCESS_KEY_ID,
                "The OSS Access Key Id you provided does not exist in our records.",
            ),
            E::InvalidSecurityToken => OssError::new(
                codes::INVALID_SECURITY_TOKEN,
                "The security token you provided is invalid.",
            ),
            E::SecurityTokenExpired { expiration } => OssError::new(
                codes::SECURITY_TOKEN_EXPIRED,
                "The security token you provided has expired.",
            )
            .detail("Expiration", expiration),
            E::AccessDenied { .. } => OssError::new(
                codes::ACCESS_DENIED,
                "You have no right to access this object.",
            ),
            E::MalformedPolicy(reason) => OssError::new(
                codes::MALFORMED_POLICY,
                format!("Policy is invalid: {reason}"),
            ),
            E::NoSuchBucketPolicy => OssError::new(
                codes::NO_SUCH_BUCKET_POLICY,
                "The bucket policy does not exist.",
            ),
            E::InvalidParameter { name, reason } => OssError::invalid_argument(name, "", reason),
            other => OssError::internal(other),
        }
    }
}

impl From<coffer_access::Error> for OssError {
    fn from(e: coffer_access::Error) -> Self {
        use coffer_access::Error as E;
        match e {
            E::Iam(e) => e.into(),
            E::NoSuchBucket { bucket } => coffer_core::Error::NoSuchBucket { bucket }.into(),
            E::Meta(e) => coffer_core::Error::from(e).into(),
            corrupt @ E::CorruptPolicy { .. } => OssError::internal(corrupt),
        }
    }
}

impl From<coffer_types::NameError> for OssError {
    fn from(e: coffer_types::NameError) -> Self {
        let code = match e {
            coffer_types::NameError::Bucket(_) => codes::INVALID_BUCKET_NAME,
            coffer_types::NameError::Object(_) => codes::INVALID_OBJECT_NAME,
        };
        OssError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_documented_status() {
        let expected: &[(&str, u16)] = &[
            ("AccessDenied", 403),
            ("InvalidAccessKeyId", 403),
            ("InvalidSecurityToken", 403),
            ("SecurityTokenExpired", 403),
            ("MalformedPolicy", 400),
            ("NoSuchBucketPolicy", 404),
            ("SignatureDoesNotMatch", 403),
            ("RequestTimeTooSkewed", 403),
            ("NoSuchBucket", 404),
            ("NoSuchKey", 404),
            ("NoSuchUpload", 404),
            ("NoSuchServerSideEncryptionRule", 404),
            ("BucketAlreadyExists", 409),
            ("BucketNotEmpty", 409),
            ("InvalidBucketName", 400),
            ("InvalidObjectName", 400),
            ("InvalidArgument", 400),
            ("InvalidDigest", 400),
            ("MalformedXML", 400),
            ("EntityTooLarge", 400),
            ("EntityTooSmall", 400),
            ("InvalidPart", 400),
            ("InvalidPartOrder", 400),
            ("PositionNotEqualToLength", 409),
            ("ObjectNotAppendable", 409),
            ("InvalidRange", 416),
            ("PreconditionFailed", 412),
            ("InvalidEncryptionAlgorithmError", 400),
            ("NotImplemented", 501),
            ("MethodNotAllowed", 405),
            ("NoSuchCORSConfiguration", 404),
            ("AccessForbidden", 403),
            ("NoSuchLifecycle", 404),
        ];
        for (code, status) in expected {
            let row = codes::ALL
                .iter()
                .find(|r| r.code == *code)
                .unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(row.status.as_u16(), *status, "{code}");
        }
    }

    #[test]
    fn rows_sharing_a_code_differ_by_ec() {
        let check = |row: ErrorCode, code: &str, status: u16, ec: &str| {
            assert_eq!((row.code, row.status.as_u16(), row.ec), (code, status, ec));
        };
        check(
            codes::INVALID_SIGNING_REGION,
            "InvalidArgument",
            400,
            "0002-00000226",
        );
        check(
            codes::INVALID_ENCRYPTION_ALGORITHM,
            "InvalidEncryptionAlgorithmError",
            400,
            "0005-00000003",
        );
        check(
            codes::INVALID_KMS_DATA_ENCRYPTION,
            "InvalidArgument",
            400,
            "0005-00000203",
        );
        check(
            codes::KMS_KEY_ID_WITHOUT_KMS,
            "InvalidArgument",
            400,
            "0005-00000204",
        );
        let mut ecs: Vec<_> = codes::ALL.iter().map(|r| r.ec).collect();
        ecs.sort_unstable();
        let before = ecs.len();
        ecs.dedup();
        assert_eq!(ecs.len(), before, "every row has its own EC");
    }

    #[test]
    fn iam_errors_pick_their_rows() {
        use coffer_iam::Error as E;
        let check = |e: E, code: &str, status: u16| {
            let e = OssError::from(e);
            assert_eq!((e.code.code, e.code.status.as_u16()), (code, status));
        };
        check(E::InvalidAccessKeyId, "InvalidAccessKeyId", 403);
        check(E::AccessKeyDisabled, "InvalidAccessKeyId", 403);
        check(E::InvalidSecurityToken, "InvalidSecurityToken", 403);
        check(
            E::SecurityTokenExpired {
                expiration: "2025-01-01T00:00:00Z".into(),
            },
            "SecurityTokenExpired",
            403,
        );
        check(
            E::AccessDenied {
                action: "oss:GetObject",
                resource: "x".into(),
            },
            "AccessDenied",
            403,
        );
        check(E::NoSuchBucketPolicy, "NoSuchBucketPolicy", 404);
        let malformed = coffer_iam::policy::PolicyDocument::parse("{}").unwrap_err();
        check(E::MalformedPolicy(malformed), "MalformedPolicy", 400);
    }

    #[test]
    fn tag_problems_pick_their_rows() {
        use coffer_core::TagProblem as T;
        for (problem, row) in [
            (T::TooMany, codes::INVALID_TAG),
            (T::DuplicateKey, codes::INVALID_TAG),
            (T::KeyLength, codes::TAG_KEY_TOO_LONG),
            (T::ValueLength, codes::TAG_VALUE_TOO_LONG),
        ] {
            assert_eq!(
                OssError::from(coffer_core::Error::InvalidTag(problem)).code,
                row
            );
        }
    }

    #[test]
    fn append_conflict_carries_the_next_position() {
        let e = OssError::from(coffer_core::Error::PositionNotEqualToLength { next_position: 7 });
        assert_eq!(e.code, codes::POSITION_NOT_EQUAL_TO_LENGTH);
        assert_eq!(
            e.headers,
            vec![(crate::headers::X_OSS_NEXT_APPEND_POSITION, "7".to_string())]
        );
    }
}
