//! Every error the KMS API answers with, and its rendering: the JSON error body of Alibaba Cloud's
//! RPC APIs (`RequestId`, `HostId`, `Code`, `Message`, `Recommend`, as both KMS SDKs read it)
//! under the HTTP status of its code.
//!
//! Errors of the engine's operations keep the engine's code and status
//! ([`coffer_kms::Error::code`], [`coffer_kms::Error::http_status`]: the engine owns that table).
//! The table in [`codes`] holds only what the front-end decides itself: parameter syntax,
//! signatures, time, versions, actions and permissions.

use http::StatusCode;
use serde::Serialize;

/// One row of the front-end's error table: the wire code and its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Code {
    pub(crate) code: &'static str,
    pub(crate) status: u16,
}

/// The front-end's error table: codes from the error lists of the Alibaba Cloud KMS API
/// reference, and coffer's own where marked.
pub(crate) mod codes {
    use super::Code;

    const fn row(code: &'static str, status: u16) -> Code {
        Code { code, status }
    }

    /// A required parameter is absent (also a signature parameter of an RPC v1 request). Same row
    /// as the engine's `MissingParameter`.
    pub(crate) const MISSING_PARAMETER: Code = row("MissingParameter", 400);
    /// A malformed parameter, or a malformed request (duplicate names, bad encoding, bad body).
    /// Same row as the engine's `InvalidParameter`.
    pub(crate) const INVALID_PARAMETER: Code = row("InvalidParameter", 400);
    /// The request time is absent, malformed or more than 15 minutes away from the server's.
    pub(crate) const ILLEGAL_TIMESTAMP: Code = row("IllegalTimestamp", 400);
    /// Signature fields are malformed or unsupported (method, version, Authorization header).
    pub(crate) const INCOMPLETE_SIGNATURE: Code = row("IncompleteSignature", 400);
    /// The signature does not verify.
    pub(crate) const SIGNATURE_DOES_NOT_MATCH: Code = row("SignatureDoesNotMatch", 400);
    /// A (access key, nonce) pair seen before within the replay window. Name unconfirmed.
    pub(crate) const SIGNATURE_NONCE_USED: Code = row("SignatureNonceUsed", 400);
    /// The access key id is unknown (or disabled: coffer's IAM does not tell them apart).
    pub(crate) const INVALID_ACCESS_KEY_ID: Code = row("InvalidAccessKeyId.NotFound", 404);
    /// The principal may not perform the action.
    pub(crate) const NO_PERMISSION: Code = row("Forbidden.NoPermission", 403);
    /// `Version` is not the KMS API's `2016-01-20`. [ours; name unconfirmed]
    pub(crate) const INVALID_VERSION: Code = row("InvalidVersion", 400);
    /// The action is not one the KMS API offers, or the path is not `/`. [ours: Alibaba's API
    /// gateway code for an unknown action]
    pub(crate) const INVALID_ACTION: Code = row("InvalidAction.NotFound", 404);
    /// A method other than GET and POST. [ours: Alibaba's API gateway code]
    pub(crate) const UNSUPPORTED_HTTP_METHOD: Code = row("UnsupportedHTTPMethod", 405);
    /// The replay guard is full: too many requests within its window.
    pub(crate) const SERVICE_UNAVAILABLE: Code = row("ServiceUnavailableTemporary", 503);
    /// A bug or a failed store; the cause is logged, never sent. Same row as the engine's.
    pub(crate) const INTERNAL_FAILURE: Code = row("InternalFailure", 500);
}

/// The message of every 5xx answer: the cause stays in the server's log.
const INTERNAL_MESSAGE: &str =
    "The request processing has failed due to some unknown error, exception or failure.";

/// A failed request, ready to render.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) code: &'static str,
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// Logged (at ERROR, with the request id) when the status is 5xx; never sent.
    pub(crate) cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code: code.code,
            status: StatusCode::from_u16(code.status).unwrap_or(StatusCode::BAD_REQUEST),
            message: message.into(),
            cause: None,
        }
    }

    pub(crate) fn missing(name: &str) -> Self {
        Self::new(
            codes::MISSING_PARAMETER,
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is \
                 not supplied."
            ),
        )
    }

    pub(crate) fn invalid(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            codes::INVALID_PARAMETER,
            format!("The specified parameter \"{name}\" is not valid: {reason}"),
        )
    }

    pub(crate) fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut e = Self::new(codes::INTERNAL_FAILURE, INTERNAL_MESSAGE);
        e.cause = Some(cause.into());
        e
    }

    /// The JSON error body.
    pub(crate) fn to_json(&self, request_id: &str, host_id: &str) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Body<'a> {
            request_id: &'a str,
            host_id: &'a str,
            code: &'a str,
            message: &'a str,
            recommend: &'a str,
        }
        serde_json::to_vec(&Body {
            request_id,
            host_id,
            code: self.code,
            message: &self.message,
            recommend: "",
        })
        .expect("a struct of strings serializes")
    }
}

impl From<coffer_kms::Error> for ApiError {
    fn from(e: coffer_kms::Error) -> Self {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        if status.is_server_error() {
            let code = e.code();
            let mut err = Self::internal(e);
            err.code = code;
            err.status = status;
            return err;
        }
        Self {
            code: e.code(),
            status,
            message: e.to_string(),
            cause: None,
        }
    }
}

impl From<coffer_iam::Error> for ApiError {
    fn from(e: coffer_iam::Error) -> Self {
        match e {
            coffer_iam::Error::InvalidAccessKeyId => Self::new(
                codes::INVALID_ACCESS_KEY_ID,
                "Specified access key is not found.",
            ),
            coffer_iam::Error::AccessDenied { action, resource } => Self::new(
                codes::NO_PERMISSION,
                format!("You are not authorized to do action {action} on {resource}."),
            ),
            // Disabled keys and bad or expired STS tokens: the credentials are not valid here
            // (the KMS API reference answers an expired token with InvalidAccessKeyId.NotFound).
            coffer_iam::Error::AccessKeyDisabled
            | coffer_iam::Error::InvalidSecurityToken
            | coffer_iam::Error::SecurityTokenExpired { .. } => Self::new(
                codes::INVALID_ACCESS_KEY_ID,
                "Specified access key is not found.",
            ),
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: ApiError, code: &str, status: u16) {
        assert_eq!((e.code, e.status.as_u16()), (code, status), "{e:?}");
    }

    #[test]
    fn rows_shared_with_the_engine_agree_with_its_table() {
        let engine = coffer_kms::Error::MissingParameter("KeyId");
        assert_eq!(codes::MISSING_PARAMETER.code, engine.code());
        assert_eq!(codes::MISSING_PARAMETER.status, engine.http_status());
        let engine = coffer_kms::Error::InvalidParameter {
            what: "KeyId",
            reason: "x",
        };
        assert_eq!(codes::INVALID_PARAMETER.code, engine.code());
        assert_eq!(codes::INVALID_PARAMETER.status, engine.http_status());
        let engine = coffer_kms::Error::Internal(Box::new(std::io::Error::other("x")));
        assert_eq!(codes::INTERNAL_FAILURE.code, engine.code());
        assert_eq!(codes::INTERNAL_FAILURE.status, engine.http_status());
    }

    #[test]
    fn engine_errors_keep_their_code_and_status() {
        check(
            coffer_kms::Error::KeyNotFound.into(),
            "Forbidden.KeyNotFound",
            404,
        );
        check(coffer_kms::Error::Disabled.into(), "Rejected.Disabled", 409);
        check(
            coffer_kms::Error::InvalidCiphertext.into(),
            "InvalidParameter",
            400,
        );
        let internal: ApiError =
            coffer_kms::Error::Internal(Box::new(std::io::Error::other("disk on fire"))).into();
        assert!(!internal.message.contains("disk"), "{}", internal.message);
        assert!(internal.cause.is_some());
        check(internal, "InternalFailure", 500);
    }

    #[test]
    fn iam_errors_map_to_kms_codes() {
        check(
            coffer_iam::Error::InvalidAccessKeyId.into(),
            "InvalidAccessKeyId.NotFound",
            404,
        );
        check(
            coffer_iam::Error::AccessDenied {
                action: "kms:CreateKey",
                resource: "*".into(),
            }
            .into(),
            "Forbidden.NoPermission",
            403,
        );
    }

    #[test]
    fn the_body_has_the_spec_fields() {
        let body = ApiError::new(codes::INVALID_VERSION, "bad \"version\"").to_json("RID", "host");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "RequestId": "RID", "HostId": "host", "Code": "InvalidVersion",
                "Message": "bad \"version\"", "Recommend": ""
            })
        );
    }
}
