//! Admin API errors: the one table of codes and HTTP statuses (RAM/STS style, after the error codes
//! of the Alibaba Cloud STS API reference, "AssumeRole", and of the KMS API reference), and the
//! translation of iam and signature errors.

use http::StatusCode;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The `Code` string.
    pub code: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
}

macro_rules! codes {
    ($($name:ident => ($code:literal, $status:ident);)*) => {
        /// Every fixed error code of the admin API. Entity errors add the entity kind to their
        /// code (`EntityNotExist.User`), parameter errors the parameter (`InvalidParameter.UserName`).
        pub mod codes {
            use super::*;
            $(
                #[allow(missing_docs)]
                pub const $name: ErrorCode = ErrorCode { code: $code, status: StatusCode::$status };
            )*
            /// All rows, for tests and documentation.
            pub const ALL: &[ErrorCode] = &[$($name),*];
        }
    };
}

codes! {
    INCOMPLETE_SIGNATURE => ("IncompleteSignature", BAD_REQUEST);
    SIGNATURE_DOES_NOT_MATCH => ("SignatureDoesNotMatch", BAD_REQUEST);
    REQUEST_TIME_TOO_SKEWED => ("InvalidTimeStamp.Expired", BAD_REQUEST);
    SIGNATURE_NONCE_USED => ("SignatureNonceUsed", BAD_REQUEST);
    SERVICE_UNAVAILABLE => ("ServiceUnavailable", SERVICE_UNAVAILABLE);
    INVALID_ACCESS_KEY_ID => ("InvalidAccessKeyId.NotFound", NOT_FOUND);
    ACCESS_KEY_DISABLED => ("InvalidAccessKeyId.Inactive", FORBIDDEN);
    INVALID_SECURITY_TOKEN => ("InvalidSecurityToken.Malformed", BAD_REQUEST);
    SECURITY_TOKEN_EXPIRED => ("InvalidSecurityToken.Expired", BAD_REQUEST);
    CONTENT_MISMATCH => ("InvalidParameter.ContentHash", BAD_REQUEST);
    NO_PERMISSION => ("NoPermission", FORBIDDEN);
    ENTITY_NOT_EXIST => ("EntityNotExist", NOT_FOUND);
    ENTITY_ALREADY_EXISTS => ("EntityAlreadyExists", CONFLICT);
    DELETE_CONFLICT => ("DeleteConflict", CONFLICT);
    LIMIT_EXCEEDED => ("LimitExceeded", CONFLICT);
    INVALID_PARAMETER => ("InvalidParameter", BAD_REQUEST);
    MISSING_PARAMETER => ("MissingParameter", BAD_REQUEST);
    POLICY_GRAMMAR => ("InvalidParameter.PolicyGrammar", BAD_REQUEST);
    POLICY_SIZE => ("InvalidParameter.PolicySize", BAD_REQUEST);
    INVALID_ACTION => ("InvalidAction.NotFound", NOT_FOUND);
    METHOD_NOT_ALLOWED => ("MethodNotAllowed", METHOD_NOT_ALLOWED);
    INTERNAL_ERROR => ("InternalError", INTERNAL_SERVER_ERROR);
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    /// The code string, possibly refined (`EntityNotExist.User`).
    pub code: String,
    /// The HTTP status.
    pub status: StatusCode,
    /// A message for humans.
    pub message: String,
    /// The cause, logged once where the error is answered; never sent.
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    /// An error of this row with this message.
    pub fn new(row: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: row.code.to_owned(),
            status: row.status,
            message: message.into(),
            cause: None,
        }
    }

    /// An error of this row whose code gets `.{suffix}`.
    pub(crate) fn refined(row: ErrorCode, suffix: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(row, message);
        e.code = format!("{}.{suffix}", row.code);
        e
    }

    /// `MissingParameter.{name}`.
    pub fn missing(name: &str) -> Self {
        Self::refined(
            codes::MISSING_PARAMETER,
            name,
            format!("The parameter {name} is required."),
        )
    }

    /// `InvalidParameter.{name}`.
    pub fn invalid(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::refined(
            codes::INVALID_PARAMETER,
            name,
            format!("The parameter {name} is invalid: {reason}"),
        )
    }

    /// `InternalError`, keeping the cause for the log.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut e = Self::new(
            codes::INTERNAL_ERROR,
            "The request processing has failed due to some unknown error.",
        );
        e.cause = Some(cause.into());
        e
    }

    /// The JSON body: `{"RequestId","HostId","Code","Message"}`.
    pub fn to_json(&self, request_id: &str, host: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "RequestId": request_id,
            "HostId": host,
            "Code": self.code,
            "Message": self.message,
        }))
        .expect("a JSON object serializes")
    }
}

impl From<coffer_iam::Error> for ApiError {
    fn from(e: coffer_iam::Error) -> Self {
        use coffer_iam::Error as E;
        let message = e.to_string();
        match e {
            E::InvalidAccessKeyId => Self::new(
                codes::INVALID_ACCESS_KEY_ID,
                "Specified access key is not found.",
            ),
            E::AccessKeyDisabled => Self::new(
                codes::ACCESS_KEY_DISABLED,
                "Specified access key is disabled.",
            ),
            E::InvalidSecurityToken => Self::new(
                codes::INVALID_SECURITY_TOKEN,
                "The security token you provided is invalid.",
            ),
            E::SecurityTokenExpired { expiration } => Self::new(
                codes::SECURITY_TOKEN_EXPIRED,
                format!("The security token you provided has expired at {expiration}."),
            ),
            E::AccessDenied { action, resource } => Self::new(
                codes::NO_PERMISSION,
                format!("You are not authorized to do action {action} on {resource}."),
            ),
            E::EntityNotExist { kind, .. } => {
                Self::refined(codes::ENTITY_NOT_EXIST, kind.as_str(), message)
            }
            E::EntityAlreadyExists { kind, .. } => {
                Self::refined(codes::ENTITY_ALREADY_EXISTS, kind.as_str(), message)
            }
            E::DeleteConflict { kind, .. } => {
                Self::refined(codes::DELETE_CONFLICT, kind.as_str(), message)
            }
            E::LimitExceeded(_) => Self::new(codes::LIMIT_EXCEEDED, message),
            E::InvalidParameter { name, reason } => Self::invalid(name, reason),
            E::MalformedPolicy(p) => match p {
                coffer_iam::policy::PolicyError::TooLarge { .. } => {
                    Self::new(codes::POLICY_SIZE, p.to_string())
                }
                other => Self::new(codes::POLICY_GRAMMAR, other.to_string()),
            },
            other => Self::internal(other),
        }
    }
}

impl From<coffer_signature::Error> for ApiError {
    fn from(e: coffer_signature::Error) -> Self {
        use coffer_signature::Error as E;
        match e {
            E::SignatureDoesNotMatch { string_to_sign, .. } => Self::new(
                codes::SIGNATURE_DOES_NOT_MATCH,
                format!(
                    "Specified signature does not match our calculation. Server string to sign \
                     is: {string_to_sign}"
                ),
            ),
            E::RequestTimeTooSkewed { .. } | E::Expired { .. } => Self::new(
                codes::REQUEST_TIME_TOO_SKEWED,
                "The request time is too far from the server's time.",
            ),
            E::WrongRegion { expected } => Self::new(
                codes::SIGNATURE_DOES_NOT_MATCH,
                format!(
                    "The credential scope names another region; this server serves {expected}."
                ),
            ),
            other => Self::new(codes::INCOMPLETE_SIGNATURE, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_iam::{EntityKind, Error as E};

    fn check(e: ApiError, code: &str, status: u16) {
        assert_eq!(
            (e.code.as_str(), e.status.as_u16()),
            (code, status),
            "{}",
            e.message
        );
    }

    #[test]
    fn iam_errors_get_their_rows() {
        check(
            E::InvalidAccessKeyId.into(),
            "InvalidAccessKeyId.NotFound",
            404,
        );
        check(
            E::AccessKeyDisabled.into(),
            "InvalidAccessKeyId.Inactive",
            403,
        );
        check(
            E::SecurityTokenExpired {
                expiration: "x".into(),
            }
            .into(),
            "InvalidSecurityToken.Expired",
            400,
        );
        check(
            E::AccessDenied {
                action: "ram:CreateUser",
                resource: "r".into(),
            }
            .into(),
            "NoPermission",
            403,
        );
        check(
            E::EntityNotExist {
                kind: EntityKind::User,
                name: "a".into(),
            }
            .into(),
            "EntityNotExist.User",
            404,
        );
        check(
            E::EntityAlreadyExists {
                kind: EntityKind::Role,
                name: "a".into(),
            }
            .into(),
            "EntityAlreadyExists.Role",
            409,
        );
        check(
            E::InvalidParameter {
                name: "UserName",
                reason: "x".into(),
            }
            .into(),
            "InvalidParameter.UserName",
            400,
        );
        let grammar = coffer_iam::policy::PolicyDocument::parse("{}").unwrap_err();
        check(
            E::MalformedPolicy(grammar).into(),
            "InvalidParameter.PolicyGrammar",
            400,
        );
        let internal: ApiError = E::NoSuchBucketPolicy.into();
        check(internal, "InternalError", 500);
    }

    #[test]
    fn the_body_has_the_rpc_fields() {
        let body = ApiError::missing("UserName").to_json("RID", "host");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Code"], "MissingParameter.UserName");
        assert_eq!(v["RequestId"], "RID");
        assert!(codes::ALL.iter().all(|r| !r.code.is_empty()));
    }
}
