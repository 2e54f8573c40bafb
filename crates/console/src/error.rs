//! Why a console action failed, in the API's words: the OSS error code (from `coffer_oss`'s one
//! table) or the KMS API's, with its message, shown to the person as a sentence.

use http::StatusCode;

/// A failed console action.
#[derive(Debug)]
pub(crate) struct ConsoleError {
    /// The HTTP status of the page that reports it.
    pub(crate) status: StatusCode,
    /// The API's error code (`AccessDenied`, `BucketNotEmpty`, `Forbidden.NoPermission`, ...).
    pub(crate) code: String,
    /// What went wrong, in words.
    pub(crate) message: String,
    /// The internal cause, for the log only.
    pub(crate) cause: Option<String>,
    /// The page already rendered for it (with the session's chrome), if any.
    pub(crate) page: Option<String>,
    /// Refused before the request's body was read: the reply closes the connection, so the
    /// client does not send its next request after an unread body.
    pub(crate) close: bool,
}

impl ConsoleError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            cause: None,
            page: None,
            close: false,
        }
    }

    /// A form field that is missing or malformed (`InvalidArgument`, as the API would say).
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "There is no such page in the console.",
        )
    }

    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        );
        e.cause = Some(cause.to_string());
        e
    }
}

impl From<coffer_oss::error::OssError> for ConsoleError {
    fn from(e: coffer_oss::error::OssError) -> Self {
        let mut message = e.message;
        if message.is_empty() {
            message = e.code.code.to_owned();
        }
        Self {
            status: e.code.status,
            code: e.code.code.to_owned(),
            message,
            cause: e.cause.map(|c| c.to_string()),
            page: None,
            close: false,
        }
    }
}

impl From<coffer_core::Error> for ConsoleError {
    fn from(e: coffer_core::Error) -> Self {
        coffer_oss::error::OssError::from(e).into()
    }
}

impl From<coffer_iam::Error> for ConsoleError {
    fn from(e: coffer_iam::Error) -> Self {
        // The console names the refused RAM action and resource: the person asking is the one
        // the policy is about, and a security engineer wants to know which statement to change.
        let detail = match &e {
            coffer_iam::Error::AccessDenied { action, resource } => Some(format!(
                " The RAM action {action} on {resource} is not allowed."
            )),
            _ => None,
        };
        let mut out: Self = coffer_oss::error::OssError::from(e).into();
        if let Some(d) = detail {
            out.message.push_str(&d);
        }
        out
    }
}

impl From<coffer_access::Error> for ConsoleError {
    fn from(e: coffer_access::Error) -> Self {
        match e {
            coffer_access::Error::Iam(e) => e.into(),
            other => coffer_oss::error::OssError::from(other).into(),
        }
    }
}

impl From<coffer_kms_api::Refusal> for ConsoleError {
    fn from(r: coffer_kms_api::Refusal) -> Self {
        let status = if r.code.starts_with("Forbidden") {
            StatusCode::FORBIDDEN
        } else if r.code.starts_with("Internal") {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::new(status, r.code, r.message)
    }
}

impl From<coffer_admin::error::ApiError> for ConsoleError {
    fn from(e: coffer_admin::error::ApiError) -> Self {
        Self {
            status: e.status,
            code: e.code,
            message: e.message,
            cause: e.cause.map(|c| c.to_string()),
            page: None,
            close: false,
        }
    }
}

impl From<coffer_types::NameError> for ConsoleError {
    fn from(e: coffer_types::NameError) -> Self {
        coffer_oss::error::OssError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_action_reads_as_the_oss_code_and_names_the_action() {
        let e: ConsoleError = coffer_iam::Error::AccessDenied {
            action: "oss:PutObject",
            resource: "acs:oss:*:1:bkt/a".into(),
        }
        .into();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::FORBIDDEN, "AccessDenied")
        );
        assert!(
            e.message.contains("oss:PutObject on acs:oss:*:1:bkt/a"),
            "{}",
            e.message
        );
        let e: ConsoleError = coffer_core::Error::BucketNotEmpty.into();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::CONFLICT, "BucketNotEmpty")
        );
        assert!(!e.message.is_empty());
    }
}
