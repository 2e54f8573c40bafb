//! Why a request failed authentication, in terms the OSS front-end maps to wire codes.

use time::OffsetDateTime;

/// Why a request could not be authenticated (or, on the client side, signed).
///
/// Reasons are `&'static str` on purpose: nothing a client sent, no secret and no expected
/// signature can end up in an error message or a log line built from one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `Authorization` header or the presigned query parameters are not well formed: a
    /// missing or repeated field, an unparsable date or credential, more than one authentication
    /// mechanism, an expiry beyond seven days. OSS answers `InvalidArgument` or `AccessDenied`.
    #[error("malformed authentication: {reason}")]
    Malformed {
        /// What is wrong, for the error message.
        reason: &'static str,
    },
    /// The `Authorization` scheme is not one coffer implements (`OSS2`, `AWS4-HMAC-SHA256`, …),
    /// or a presigned URL names an unknown `x-oss-signature-version`.
    #[error("unsupported authorization scheme")]
    UnsupportedScheme,
    /// A header-signed request carries neither `x-oss-date` nor `Date` (V4: no `x-oss-date`).
    #[error("request date is missing")]
    MissingDate,
    /// A V4 request carries an `x-oss-content-sha256` other than `UNSIGNED-PAYLOAD`, where that
    /// is all that is accepted ([`require_unsigned_payload`](crate::require_unsigned_payload)):
    /// OSS refuses a real payload hash, and a hash accepted without checking it against the body
    /// would promise an integrity the server does not give.
    #[error("x-oss-content-sha256 must be UNSIGNED-PAYLOAD")]
    PayloadHashNotSupported,
    /// The V4 credential scope names another region than the one this server serves.
    #[error("credential scope names the wrong region, expected {expected}")]
    WrongRegion {
        /// The region this server is configured with.
        expected: String,
    },
    /// The request time is more than [`MAX_SKEW`](crate::MAX_SKEW) away from the server's clock.
    #[error("request time too skewed")]
    RequestTimeTooSkewed {
        /// The time the request claims.
        request_time: OffsetDateTime,
        /// The server's time when it checked.
        server_time: OffsetDateTime,
    },
    /// A presigned URL is used after its expiry.
    #[error("request has expired")]
    Expired {
        /// When the URL stopped being valid.
        expires_at: OffsetDateTime,
        /// The server's time when it checked.
        server_time: OffsetDateTime,
    },
    /// The recomputed signature differs from the presented one.
    ///
    /// OSS echoes the string to sign (and for V4 the canonical request) so a client can see what
    /// the server signed; both are derived from the request alone and contain no secret.
    #[error("signature does not match")]
    SignatureDoesNotMatch {
        /// What the server signed.
        string_to_sign: String,
        /// The V4 canonical request the string to sign hashes; `None` for V1.
        canonical_request: Option<String>,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn malformed(reason: &'static str) -> Error {
    Error::Malformed { reason }
}
