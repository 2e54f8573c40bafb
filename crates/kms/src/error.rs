//! The one error type of `coffer-kms`, and the one table that gives each variant its KMS error code
//! and HTTP status (the error codes of the Alibaba Cloud KMS API reference).

/// What went wrong, for the caller. Each variant is one row of the KMS error table ([`Error::code`],
/// [`Error::http_status`]); the KMS API front-end renders exactly these.
///
/// Two pairs are deliberately distinct although an attacker-facing reading could merge them:
/// [`Error::PendingImport`] (the key has no usable material: BYOK material deleted or expired) is
/// not [`Error::InvalidCiphertext`] (the blob, or its encryption context, is wrong), so operators can
/// tell a key problem from a data problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required parameter is absent.
    #[error("the parameter {0} is required")]
    MissingParameter(&'static str),
    /// A parameter is malformed or out of range (bad key spec, bad JSON context, bad paging, ...).
    #[error("the parameter {what} is not valid: {reason}")]
    InvalidParameter {
        /// Which parameter, by its wire name.
        what: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A ciphertext blob that does not decode, fails authentication, or was encrypted under another
    /// encryption context. Deliberately opaque: no detail of which check failed.
    #[error("The specified parameter CiphertextBlob is not valid")]
    InvalidCiphertext,
    /// A ciphertext blob names a key the caller's account does not have (or no longer has: the
    /// key was deleted). Answered like [`Error::InvalidCiphertext`] on the wire, so that Decrypt
    /// is no oracle for which key ids exist; kept apart here so that coffer's own SSE-KMS can tell
    /// an operator "the key is gone" rather than "the data is damaged".
    #[error("The specified parameter CiphertextBlob is not valid")]
    CiphertextKeyNotFound,
    /// DryRun was set and the request would have succeeded.
    #[error("the request would have succeeded, but DryRun was set")]
    DryRunOperation,
    /// No such key in the caller's account (or it was deleted).
    #[error("the specified key is not found")]
    KeyNotFound,
    /// No such alias in the caller's account.
    #[error("the specified alias is not found")]
    AliasNotFound,
    /// No such version of the key.
    #[error("the specified key version is not found")]
    KeyVersionNotFound,
    /// Another resource (a tag) is not found.
    #[error("the specified resource is not found")]
    ResourceNotFound,
    /// The alias name is taken in this account.
    #[error("the alias already exists")]
    AliasAlreadyExists,
    /// Another kind of resource already exists.
    #[error("the resource already exists")]
    ResourceExist,
    /// A quota is exceeded (aliases per key, tags per key, version creation rate).
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
    /// Imported key material could not be unwrapped, has the wrong length, or differs from the
    /// material imported earlier into the same key.
    #[error("the key material is not valid")]
    InvalidKeyMaterial,
    /// The import token is unknown, was issued for another key, or was spent by a failed import.
    #[error("the import token is not valid")]
    InvalidImportToken,
    /// The import token is older than its 24 hours.
    #[error("the import token has expired")]
    ExpiredImportToken,
    /// The operation needs a key of another origin (import APIs on a KMS-generated key).
    #[error("the operation is not supported for a key of this origin")]
    UnsupportedOrigin,
    /// The alias is not allowed here (the `alias/acs/` prefix is reserved for service keys).
    #[error("the alias is not supported here: {0}")]
    UnsupportedAlias(&'static str),
    /// The operation is not valid for this key (rotating an imported key, changing a service key).
    #[error("the operation is not supported for this key: {0}")]
    UnsupportedOperation(&'static str),
    /// The key is Disabled.
    #[error("the key is disabled")]
    Disabled,
    /// The key is scheduled for deletion.
    #[error("the key is pending deletion")]
    PendingDeletion,
    /// The key has no usable key material: an imported key whose material was never imported, was
    /// deleted, or expired. Not a property of any ciphertext.
    #[error("the key is pending import of its key material")]
    PendingImport,
    /// The key's state does not allow this transition.
    #[error("the key state does not allow this operation")]
    StateModifiedFailed,
    /// The store was written under another root key; nothing in it can be unsealed with this one.
    #[error("the KMS store was sealed under a different root key")]
    WrongRootKey,
    /// A bug, or the store or audit log failed. Reaches clients as `InternalFailure`; log the cause
    /// chain where it is handled.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<coffer_records::Error> for Error {
    fn from(e: coffer_records::Error) -> Self {
        Error::internal(e)
    }
}

impl Error {
    /// The KMS error code, e.g. `Forbidden.KeyNotFound`.
    pub fn code(&self) -> &'static str {
        self.row().0
    }

    /// The HTTP status the KMS API answers with.
    pub fn http_status(&self) -> u16 {
        self.row().1
    }

    /// The error table: one row per variant, (code, HTTP status), as the KMS API reference lists
    /// them where it does.
    fn row(&self) -> (&'static str, u16) {
        match self {
            Error::MissingParameter(_) => ("MissingParameter", 400),
            Error::InvalidParameter { .. } => ("InvalidParameter", 400),
            // Alibaba's own code for a bad blob is undocumented; coffer settles on this one.
            Error::InvalidCiphertext => ("InvalidParameter", 400),
            // Not 404 (coffer's choice): that would say whether the key id in a forged blob
            // exists.
            Error::CiphertextKeyNotFound => ("InvalidParameter", 400),
            Error::DryRunOperation => ("DryRunOperationError", 400),
            Error::KeyNotFound => ("Forbidden.KeyNotFound", 404),
            Error::AliasNotFound => ("Forbidden.AliasNotFound", 404),
            Error::KeyVersionNotFound => ("Forbidden.KeyVersionNotFound", 404),
            Error::ResourceNotFound => ("Forbidden.ResourceNotFound", 404),
            Error::AliasAlreadyExists => ("AliasAlreadyExists", 400),
            Error::ResourceExist => ("Rejected.ResourceExist", 409),
            Error::LimitExceeded(_) => ("Rejected.LimitExceeded", 400),
            Error::InvalidKeyMaterial => ("InvalidKeyMaterial", 400),
            Error::InvalidImportToken => ("InvalidImportToken", 400),
            Error::ExpiredImportToken => ("ExpiredImportToken", 400),
            Error::UnsupportedOrigin => ("Unsupported.Origin", 400),
            Error::UnsupportedAlias(_) => ("Unsupported.Alias", 400),
            Error::UnsupportedOperation(_) => ("Rejected.UnsupportedOperation", 400),
            Error::Disabled => ("Rejected.Disabled", 409),
            Error::PendingDeletion => ("Rejected.PendingDeletion", 409),
            Error::PendingImport => ("Rejected.PendingImport", 409),
            Error::StateModifiedFailed => ("Rejected.StateModifiedFailed", 409),
            Error::WrongRootKey | Error::Internal(_) => ("InternalFailure", 500),
        }
    }

    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Box::new(e))
    }

    /// Whether this is a batch the record store refused because another process wrote since it
    /// was planned ([`coffer_records::Error::Stale`]): planning again on a fresh read may succeed.
    pub(crate) fn is_stale(&self) -> bool {
        matches!(self, Error::Internal(e)
            if matches!(e.downcast_ref::<coffer_records::Error>(), Some(coffer_records::Error::Stale)))
    }

    pub(crate) fn invalid(what: &'static str, reason: &'static str) -> Self {
        Error::InvalidParameter { what, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: Error, code: &str, status: u16) {
        assert_eq!(
            (error.code(), error.http_status()),
            (code, status),
            "{error:?}"
        );
    }

    #[test]
    fn every_row_has_the_spec_code_and_status() {
        check(Error::MissingParameter("KeyId"), "MissingParameter", 400);
        check(Error::invalid("KeySpec", "x"), "InvalidParameter", 400);
        check(Error::InvalidCiphertext, "InvalidParameter", 400);
        check(Error::CiphertextKeyNotFound, "InvalidParameter", 400);
        check(Error::DryRunOperation, "DryRunOperationError", 400);
        check(Error::KeyNotFound, "Forbidden.KeyNotFound", 404);
        check(Error::AliasNotFound, "Forbidden.AliasNotFound", 404);
        check(
            Error::KeyVersionNotFound,
            "Forbidden.KeyVersionNotFound",
            404,
        );
        check(Error::ResourceNotFound, "Forbidden.ResourceNotFound", 404);
        check(Error::AliasAlreadyExists, "AliasAlreadyExists", 400);
        check(Error::ResourceExist, "Rejected.ResourceExist", 409);
        check(Error::LimitExceeded("x"), "Rejected.LimitExceeded", 400);
        check(Error::InvalidKeyMaterial, "InvalidKeyMaterial", 400);
        check(Error::InvalidImportToken, "InvalidImportToken", 400);
        check(Error::ExpiredImportToken, "ExpiredImportToken", 400);
        check(Error::UnsupportedOrigin, "Unsupported.Origin", 400);
        check(Error::UnsupportedAlias("x"), "Unsupported.Alias", 400);
        check(
            Error::UnsupportedOperation("x"),
            "Rejected.UnsupportedOperation",
            400,
        );
        check(Error::Disabled, "Rejected.Disabled", 409);
        check(Error::PendingDeletion, "Rejected.PendingDeletion", 409);
        check(Error::PendingImport, "Rejected.PendingImport", 409);
        check(
            Error::StateModifiedFailed,
            "Rejected.StateModifiedFailed",
            409,
        );
        check(Error::WrongRootKey, "InternalFailure", 500);
        check(
            Error::internal(std::io::Error::other("disk")),
            "InternalFailure",
            500,
        );
    }
}
